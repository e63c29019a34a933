package net

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

// clientImpls dial a client connection to node 1 over TCP and over a
// MemNetwork pipe, both served by h.
var clientImpls = []struct {
	name string
	dial func(t *testing.T, h ClientHandler) *ClientConn
}{
	{"tcp", func(t *testing.T, h ClientHandler) *ClientConn {
		s, err := Listen(Config{ClusterID: testCluster, NodeID: 1, Listen: "127.0.0.1:0"}, h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		c, err := Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: testCluster})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}},
	{"mem", func(t *testing.T, h ClientHandler) *ClientConn {
		mn := NewMemNetwork()
		tr, err := mn.Join(Config{ClusterID: testCluster, NodeID: 1}, h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		c, err := mn.Dial(dialCtx(t), 1, ClientConfig{ClusterID: testCluster})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}},
}

func TestClientProtocol(t *testing.T) {
	for _, impl := range clientImpls {
		t.Run(impl.name, func(t *testing.T) {
			t.Run("calls", func(t *testing.T) { testCalls(t, impl.dial(t, &testHandler{node: 1})) })
			t.Run("cancel", func(t *testing.T) { testCancel(t, impl.dial(t, &testHandler{node: 1})) })
			t.Run("tail-credit", func(t *testing.T) {
				h := &testHandler{node: 1}
				testTailCredit(t, impl.dial(t, h), h)
			})
			t.Run("tail-error", func(t *testing.T) {
				h := &testHandler{node: 1, tailErr: &TailError{Code: ErrTrimmed, First: 42, Msg: "trimmed"}}
				testTailError(t, impl.dial(t, h))
			})
		})
	}
}

// testCalls runs concurrent multiplexed calls and checks each answer
// matches its request.
func testCalls(t *testing.T, c *ClientConn) {
	if c.NodeID() != 1 {
		t.Fatalf("node id %d", c.NodeID())
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				seq := uint64(g*1000 + i)
				r, err := c.Call(dialCtx(t), &Request{Op: OpAppend, ClientID: 7, Seq: seq, Data: [][]byte{{1}, {2}}})
				if err == nil && (len(r.Indexes) != 2 || r.Indexes[1] != seq*100+1) {
					err = fmt.Errorf("seq %d: response %+v", seq, r)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r, err := c.Call(dialCtx(t), &Request{Op: OpStatus})
	if err != nil || r.Status.NodeID != 1 || len(r.Status.Peers) != 1 || r.Status.Peers[0].Match != 5 || !r.Status.Rebuilding || r.Status.Restoring {
		t.Fatalf("status: %v %+v", err, r)
	}
	r, err = c.Call(dialCtx(t), &Request{Op: OpTrim})
	if err != nil || r.Err != ErrNotLeader || r.LeaderID != 3 {
		t.Fatalf("redirect: %v %+v", err, r)
	}
	r, err = c.Call(dialCtx(t), &Request{Op: Op(77)})
	if err != nil || r.Err != ErrInvalid {
		t.Fatalf("invalid op: %v %+v", err, r)
	}
}

// testCancel: a call whose ctx ends returns ctx's error, the handler sees
// its ctx cancelled, and the connection keeps working.
func testCancel(t *testing.T, c *ClientConn) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Call(ctx, &Request{Op: OpRead, Index: 0})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	r, err := c.Call(dialCtx(t), &Request{Op: OpRead, Index: 9})
	if err != nil || string(r.Data) != "entry" {
		t.Fatalf("after cancel: %v %+v", err, r)
	}
	c.Close()
	if _, err := c.Call(dialCtx(t), &Request{Op: OpStatus}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// testTailCredit: the server never has more than the credit outstanding;
// a consumer that stops reading stops the handler; reading resumes it.
func testTailCredit(t *testing.T, c *ClientConn, h *testHandler) {
	const credit = 10
	ts, err := c.Tail(dialCtx(t), TailRequest{From: 5, Credit: credit})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "credit used", func() bool { return h.tailSent.Load() == credit })
	// Not reading: the handler stays blocked at the credit.
	probe := time.NewTimer(50 * time.Millisecond)
	<-probe.C
	if n := h.tailSent.Load(); n != credit {
		t.Fatalf("server sent %d entries with credit %d", n, credit)
	}
	next := uint64(5)
	for next < 5+200 {
		entries, err := ts.Recv(dialCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Index != next || string(e.Data) != "tail" {
				t.Fatalf("entry %+v, want index %d", e, next)
			}
			next++
		}
		if sent := h.tailSent.Load(); sent > int64(next-5)+credit {
			t.Fatalf("outstanding %d > credit %d", sent-int64(next-5), credit)
		}
	}
	ts.Close()
	if _, err := ts.Recv(dialCtx(t)); !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
}

func testTailError(t *testing.T, c *ClientConn) {
	ts, err := c.Tail(dialCtx(t), TailRequest{From: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Recv(dialCtx(t))
	var te *TailError
	if !errors.As(err, &te) || te.Code != ErrTrimmed || te.First != 42 || !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("err = %v", err)
	}
}

func TestClientConnFailsWhenServerCloses(t *testing.T) {
	h := &testHandler{node: 1}
	s, err := Listen(Config{ClusterID: testCluster, NodeID: 1, Listen: "127.0.0.1:0"}, h)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: testCluster})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ts, err := c.Tail(dialCtx(t), TailRequest{From: 1, Credit: 4})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		// Blocks in the handler until the server closes: the answer is
		// either the handler's ErrShutdown (if it got out first) or a
		// connection error.
		r, err := c.Call(context.Background(), &Request{Op: OpRead, Index: 0})
		if err == nil && r.Err != ErrShutdown {
			err = fmt.Errorf("unexpected response %+v", r)
		} else if err == nil {
			err = errors.New(r.Msg)
		}
		done <- err
	}()
	waitFor(t, 5*time.Second, "tail running", func() bool { return h.tailSent.Load() == 4 })
	s.Close() // cancels handlers, closes the connection
	if err := <-done; err == nil || strings.Contains(err.Error(), "unexpected") {
		t.Fatalf("call across server close: %v", err)
	}
	for {
		if _, err := ts.Recv(dialCtx(t)); err != nil {
			break
		}
	}
}

func TestMemNetworkPartition(t *testing.T) {
	mn := NewMemNetwork()
	peers := map[paxos.NodeID]string{1: "", 2: ""}
	a, _ := mn.Join(Config{ClusterID: testCluster, NodeID: 1, Peers: peers}, nil)
	b, _ := mn.Join(Config{ClusterID: testCluster, NodeID: 2, Peers: peers}, nil)
	defer a.Close()
	defer b.Close()
	mn.Partition(1, 2)
	a.Send(msg(1, 2, 1))
	waitFor(t, 5*time.Second, "drop on cut link", func() bool { return a.Stats().Peers[2].WriteDrops == 1 })
	mn.HealAll()
	a.Send(msg(1, 2, 2))
	recvUntil(t, b, 5*time.Second, func(m paxos.Message) bool { return m.Slot == 2 })
	if _, err := mn.Join(Config{ClusterID: testCluster, NodeID: 2, Peers: peers}, nil); err == nil {
		t.Fatal("joined a running node id twice")
	}
}
