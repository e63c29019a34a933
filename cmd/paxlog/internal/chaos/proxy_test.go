package chaos

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/paxlog/paxlog/net/nettest"
)

// echoServer answers every line with the same line until closed.
func echoServer(t *testing.T) string {
	return nettest.Serve(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// roundTrip sends a line through addr and waits up to d for the echo.
func roundTrip(addr string, d time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func TestLinkCutHeal(t *testing.T) {
	l, err := NewLink(1, 2, echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := roundTrip(l.Addr(), 2*time.Second); err != nil {
		t.Fatalf("up link: %v", err)
	}
	// An established connection is closed by the cut.
	c, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x\n"))
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("before the cut: %v", err)
	}
	l.Cut()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(buf); err == nil {
		t.Fatalf("connection survived the cut")
	}
	// New connections are accepted but blackholed.
	if err := roundTrip(l.Addr(), 200*time.Millisecond); err == nil {
		t.Fatalf("cut link answered")
	}
	if !l.IsCut() {
		t.Fatalf("IsCut false after Cut")
	}
	l.Heal()
	if err := roundTrip(l.Addr(), 2*time.Second); err != nil {
		t.Fatalf("healed link: %v", err)
	}
}

func TestLinkCloseStopsEverything(t *testing.T) {
	l, err := NewLink(1, 2, echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l.Cut()
	hole, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	done := make(chan error, 1)
	go func() { done <- l.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a blackholed connection open")
	}
	if _, err := net.DialTimeout("tcp", l.Addr(), 200*time.Millisecond); err == nil {
		t.Fatal("closed link still accepts")
	}
}
