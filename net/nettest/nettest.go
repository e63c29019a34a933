// Package nettest hands out loopback addresses for tests that must know a
// replica's address before the replica binds it (every replica's peer list
// names the others).
//
// Binding 127.0.0.1:0 and closing it returns a port from the kernel's
// ephemeral range, where any outbound connection made meanwhile, by this
// test or by another test binary, may take it as its local port: the
// replica's later bind then fails with "address already in use". The ports
// handed out here come from below the ephemeral range instead, are checked
// free by binding them, and are never handed out twice by one process.
package nettest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// lowest port handed out; the range ends where the ephemeral range starts.
const lowest = 10000

var (
	mu     sync.Mutex
	handed = make(map[int]bool)
	rng    = rand.New(rand.NewPCG(uint64(os.Getpid()), rand.Uint64()))
)

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	addrs, err := FreeAddrs(1)
	if err != nil {
		tb.Fatal(err)
	}
	return addrs[0]
}

// FreePorts returns n distinct loopback ports that were free a moment ago.
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports, err := freePorts(n)
	if err != nil {
		tb.Fatal(err)
	}
	return ports
}

// FreeAddrs is FreeAddr for n addresses, for code without a testing.TB.
func FreeAddrs(n int) ([]string, error) {
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, n)
	for i, p := range ports {
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	return addrs, nil
}

func freePorts(n int) ([]int, error) {
	mu.Lock()
	defer mu.Unlock()
	limit := ephemeralLow()
	if limit-lowest < 1000 {
		return nil, fmt.Errorf("nettest: ephemeral range starts at %d: too few ports below it", limit)
	}
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, fmt.Errorf("nettest: no free port in [%d, %d) after %d tries", lowest, limit, tries)
		}
		p := lowest + rng.IntN(limit-lowest)
		if handed[p] || !bindable(p) {
			continue
		}
		handed[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

func bindable(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768,
// Linux's default, when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	v, err := strconv.Atoi(f[0])
	if err != nil || v <= lowest {
		return 32768
	}
	return v
}

// Serve listens on an ephemeral loopback port and runs handle on every
// accepted connection in a goroutine of its own; handle need not close the
// connection. At the end of the test the listener and every connection are
// closed and Serve waits for every handle to return. It returns the
// address to dial.
func Serve(tb testing.TB, handle func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
