package nettest

import (
	"net"
	"strconv"
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
