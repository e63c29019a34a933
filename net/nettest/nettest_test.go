package nettest

import (
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
)

func TestFreePortsAreDistinctBindableAndBelowEphemeral(t *testing.T) {
	limit := ephemeralLow()
	seen := make(map[int]bool)
	for _, p := range FreePorts(t, 50) {
		if p < lowest || p >= limit {
			t.Fatalf("port %d outside [%d, %d)", p, lowest, limit)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	addr := FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	if p, _ := strconv.Atoi(port); seen[p] {
		t.Fatalf("FreeAddr repeated port %d", p)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("bind %s: %v", addr, err)
	}
	l.Close()
}

func TestBusyPortIsNotHandedOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if bindable(l.Addr().(*net.TCPAddr).Port) {
		t.Fatalf("a listening port reads as bindable")
	}
}

// TestServeClosesConnectionsAndWaitsForHandlers: a handler blocked on a
// connection the client keeps open has returned once the test that
// started Serve has ended.
func TestServeClosesConnectionsAndWaitsForHandlers(t *testing.T) {
	var returned atomic.Bool
	var client net.Conn
	t.Run("serve", func(t *testing.T) {
		addr := Serve(t, func(c net.Conn) {
			defer returned.Store(true)
			_, _ = io.Copy(c, c)
		})
		var err error
		if client, err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo: %q, %v", buf, err)
		}
	})
	defer client.Close()
	if !returned.Load() {
		t.Fatal("a handler was still running after Serve's test ended")
	}
}
