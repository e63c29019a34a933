package log

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

// gatedStore blocks every Persist that holds an accept record while armed
// and its node is not the leader (a follower holding back its votes).
type gatedStore struct {
	Store
	node  atomic.Pointer[Node]
	armed atomic.Bool
	mu    sync.Mutex
	gate  chan struct{}
}

func newGatedStore(s Store) *gatedStore { return &gatedStore{Store: s, gate: make(chan struct{})} }

func (g *gatedStore) Persist(recs []paxos.Record) error {
	if n := g.node.Load(); g.armed.Load() && n != nil {
		if _, leader := n.Leader(); leader {
			return g.Store.Persist(recs)
		}
		for _, r := range recs {
			if r.Kind == paxos.RecordAccept {
				g.mu.Lock()
				gate := g.gate
				g.mu.Unlock()
				<-gate
				break
			}
		}
	}
	return g.Store.Persist(recs)
}

func (g *gatedStore) open() {
	g.armed.Store(false)
	g.mu.Lock()
	close(g.gate)
	g.mu.Unlock()
}

// TestRetryFilteredAtLaterSlot: an append is chosen at slot k, its
// response is lost and its leader crashes before the followers learn that
// k is chosen. The client retries at the new leader, which proposes the
// retry at a later slot while re-proposing k (a third replica holds both
// back until then). Both copies are chosen; every replica delivers the
// append once, at k, filters the later copy, and the retry is answered
// with k.
func TestRetryFilteredAtLaterSlot(t *testing.T) {
	mem := paxnet.NewMemNetwork()
	peers := map[paxos.NodeID]string{1: MemAddr(1), 2: MemAddr(2), 3: MemAddr(3)}
	stores := map[paxos.NodeID]*gatedStore{}
	nodes := map[paxos.NodeID]*Node{}
	start := func(id paxos.NodeID) {
		// Rare heartbeats: followers learn that k is chosen only from the
		// next heartbeat, 400 ms after it, and the leader dies first.
		n, err := Start(Config{ID: id, ClusterID: "retry", Peers: peers, Store: stores[id], Network: MemNetwork(mem),
			HeartbeatTicks: 40, ElectionTicks: 50, Logger: testLogger(id)})
		if err != nil {
			t.Fatal(err)
		}
		nodes[id] = n
		stores[id].node.Store(n)
	}
	for id := range peers {
		stores[id] = newGatedStore(NewMemStore())
		start(id)
	}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var a *Node
	waitFor(ctx, t, "leader", func() bool {
		for _, n := range nodes {
			if _, ok := n.Leader(); ok {
				a = n
				return true
			}
		}
		return false
	})
	var b, c *Node
	for id, n := range nodes {
		if id == a.ID() {
			continue
		}
		if b == nil {
			b = n
		} else {
			c = n
		}
	}
	if _, err := a.Append(ctx, []byte("warm")); err != nil { // followers know a as leader
		t.Fatal(err)
	}
	waitFor(ctx, t, "followers applied the warm-up", func() bool { return b.Applied() >= a.Applied() && c.Applied() >= a.Applied() })
	req := &paxnet.Request{Op: paxnet.OpAppend, ClientID: 99, Seq: 1, Data: [][]byte{[]byte("X")}}
	resp := a.handlerFor().HandleRequest(ctx, req) // the response the client never sees
	if resp.Err != paxnet.ErrNone {
		t.Fatalf("original append: %+v", resp)
	}
	k := resp.Indexes[0]
	// Both followers have accepted k (so neither has an accept of it still
	// to persist when the gates close).
	waitFor(ctx, t, "both followers accepted k", func() bool {
		st := a.Status()
		ok := len(st.Peers) == 3
		for _, p := range st.Peers {
			ok = ok && p.Match >= k
		}
		return ok
	})
	// From now on the follower among b and c holds back its accepts.
	stores[b.ID()].armed.Store(true)
	stores[c.ID()].armed.Store(true)
	a.crash.Store(true)
	a.Close()
	delete(nodes, a.ID())
	waitFor(ctx, t, "a new leader", func() bool {
		if _, ok := c.Leader(); ok {
			b, c = c, b
		}
		_, ok := b.Leader()
		return ok
	})
	if b.Applied() >= k {
		t.Fatalf("new leader %d learned slot %d chosen before the crash: the later-slot path is not reached", b.ID(), k)
	}
	retried := make(chan *paxnet.Response, 1)
	go func() { retried <- b.handlerFor().HandleRequest(ctx, req) }()
	waitFor(ctx, t, "retry proposed at the new leader", func() bool { return b.Metrics().Proposed >= 1 })
	stores[b.ID()].open()
	stores[c.ID()].open()
	r := <-retried
	if r.Err != paxnet.ErrNone || r.Indexes[0] != k {
		t.Fatalf("retry answered %+v, want index %d", r, k)
	}
	start(a.ID())
	last, err := b.Append(ctx, []byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range nodes {
		got := tailAll(ctx, t, n, 0, last)
		want := []entryRec{got[0], {k, "X"}, {last, "after"}}
		if len(got) != 3 || got[1] != want[1] || got[2] != want[2] {
			t.Fatalf("node %d delivers %v, want X once at %d", id, got, k)
		}
		if n != nodes[a.ID()] && n.Metrics().Filtered != 1 {
			t.Fatalf("node %d filtered %d copies, want the later one", id, n.Metrics().Filtered)
		}
	}
}
