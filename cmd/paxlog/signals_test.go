package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The first SIGTERM cancels the shutdown context (clean shutdown); a
// second one exits at once with exitSignal.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	exited := make(chan int, 1)
	c := &cli{exit: func(code int) { exited <- code }}
	ctx, stop := c.shutdownContext(hclog.NewNullLogger())
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("first SIGTERM did not cancel the context")
	}
	select {
	case code := <-exited:
		t.Fatalf("exit(%d) after one signal", code)
	default:
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		if code != exitSignal {
			t.Errorf("second signal: exit(%d), want %d", code, exitSignal)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second signal did not exit")
	}
}
