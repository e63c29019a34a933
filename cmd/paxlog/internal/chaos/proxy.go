package chaos

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Link is the fault proxy for one ordered pair of replicas (From -> To).
// Replica From's --peers names the Link's address for replica To, so every
// message From sends to To crosses it (the peer mesh dials one connection
// per direction: inbound connections only carry the dialer's messages).
//
// A Link is up (bytes are copied both ways) or cut. Cutting closes the
// connections it carries and blackholes new ones: they are accepted, their
// bytes are read and discarded, and the target is never dialed, so the
// sender's handshake waits for an answer that never comes, as across a
// real partition. Healing closes the blackholed connections so the sender
// redials at once.
type Link struct {
	From, To int
	target   string
	ln       net.Listener

	mu     sync.Mutex
	cut    bool
	closed bool
	conns  map[net.Conn]struct{} // every accepted and dialed connection
	holes  map[net.Conn]struct{} // accepted connections being discarded
	wg     sync.WaitGroup
}

// ErrLinkClosed: the Link was closed.
var ErrLinkClosed = errors.New("chaos: link closed")

// NewLink listens on a fresh loopback port and forwards to target.
func NewLink(from, to int, target string) (*Link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("chaos: link %d->%d: %w", from, to, err)
	}
	l := &Link{From: from, To: to, target: target, ln: ln,
		conns: map[net.Conn]struct{}{}, holes: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

// Addr is the address the sender dials.
func (l *Link) Addr() string { return l.ln.Addr().String() }

// Cut blackholes the link (idempotent).
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		return
	}
	l.cut = true
	for c := range l.conns {
		c.Close()
	}
}

// Heal restores the link (idempotent).
func (l *Link) Heal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.cut {
		return
	}
	l.cut = false
	for c := range l.holes {
		c.Close()
	}
}

// IsCut reports whether the link is cut.
func (l *Link) IsCut() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cut
}

// Close stops the listener, closes every connection and waits for every
// goroutine of the link.
func (l *Link) Close() error {
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	for c := range l.holes {
		c.Close()
	}
	l.mu.Unlock()
	err := l.ln.Close()
	l.wg.Wait()
	return err
}

func (l *Link) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		switch {
		case l.closed:
			c.Close()
		case l.cut:
			l.holes[c] = struct{}{}
			l.wg.Add(1)
			go l.discard(c)
		default:
			l.conns[c] = struct{}{}
			l.wg.Add(1)
			go l.forward(c)
		}
		l.mu.Unlock()
	}
}

// discard reads and drops everything from c until it is closed.
func (l *Link) discard(c net.Conn) {
	defer l.wg.Done()
	io.Copy(io.Discard, c)
	c.Close()
	l.mu.Lock()
	delete(l.holes, c)
	l.mu.Unlock()
}

// forward dials the target and copies both ways until either side ends.
func (l *Link) forward(src net.Conn) {
	defer l.wg.Done()
	dst, err := net.DialTimeout("tcp", l.target, time.Second)
	l.mu.Lock()
	if err != nil || l.cut || l.closed {
		l.mu.Unlock()
		if dst != nil {
			dst.Close()
		}
		l.drop(src)
		return
	}
	l.conns[dst] = struct{}{}
	l.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(w, r net.Conn) {
		io.Copy(w, r)
		w.Close()
		r.Close()
		done <- struct{}{}
	}
	go pipe(dst, src)
	go pipe(src, dst)
	<-done
	<-done
	l.drop(src)
	l.drop(dst)
}

func (l *Link) drop(c net.Conn) {
	c.Close()
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}
