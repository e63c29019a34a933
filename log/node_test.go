package log

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

func TestFollowerRedirects(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := c.leader(ctx)
	f := c.nodes[follower(c, l)]
	waitFor(ctx, t, "follower knows the leader", func() bool { id, _ := f.Leader(); return id == l.ID() })
	_, err := f.Append(ctx, []byte("x"))
	var nl *NotLeaderError
	if !errors.As(err, &nl) || !errors.Is(err, ErrNotLeader) || nl.LeaderID != l.ID() || nl.Leader != l.Addr() {
		t.Fatalf("append on a follower: %v, want a redirect to %d at %s", err, l.ID(), l.Addr())
	}
	if _, err := f.Trim(ctx, 1); !errors.As(err, &nl) {
		t.Fatalf("trim on a follower: %v", err)
	}
	st := l.Status()
	if st.Role != paxos.Leader || st.LeaderID != l.ID() || len(st.Peers) != 3 {
		t.Fatalf("leader status %+v", st)
	}
}

// TestDuplicateChosenFiltered: the same (client, seq) chosen at two slots
// (as after a retry at a new leader) is delivered once, at the first slot,
// on every replica, and a later retry answers the first index.
func TestDuplicateChosenFiltered(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := c.leader(ctx)
	dup := encodeEntry(header{kind: kindUser, clientID: 42, seq: 1}, []byte("once"))
	var first uint64
	var perr error
	// Propose the copies straight into the core, past the leader's own
	// dedup fast path, as two leaders would have.
	for range 2 {
		l.runInOwner(ctx, func(o *owner) {
			var s uint64
			s, perr = o.core.Propose([][]byte{dup})
			if first == 0 {
				first = s
			}
		})
		if perr != nil {
			t.Fatal(perr)
		}
	}
	last, err := l.Append(ctx, []byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range c.nodes {
		got := tailAll(ctx, t, n, 0, last)
		if len(got) != 2 || got[0] != (entryRec{first, "once"}) || got[1].data != "after" {
			t.Fatalf("node %d delivers %v; want once@%d then after", id, got, first)
		}
	}
	resp := l.handlerFor().HandleRequest(ctx, &paxnet.Request{Op: paxnet.OpAppend, ClientID: 42, Seq: 1, Data: [][]byte{[]byte("once")}})
	if resp.Err != paxnet.ErrNone || resp.Indexes[0] != first {
		t.Fatalf("retry answered %+v, want index %d", resp, first)
	}
}

func (n *Node) handlerFor() *handler { return &handler{n: n} }

// TestCloseFailsInflight: appends waiting at a leader that closes fail with
// ErrClosed; later calls fail at once; Close is idempotent.
func TestCloseFailsInflight(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := c.leader(ctx)
	// Stop both followers so that nothing can be chosen.
	for id := range c.cfgs {
		if id != l.ID() {
			c.stop(id)
		}
	}
	errs := make(chan error, 1)
	go func() {
		_, err := l.Append(ctx, []byte("never chosen"))
		errs <- err
	}()
	waitFor(ctx, t, "append in flight", func() bool { return l.inflight.Load() > 0 || l.queue.queued() > 0 })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, ErrClosed) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("in-flight append after Close: %v", err)
	}
	if _, err := l.Append(ctx, []byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	delete(c.nodes, l.ID())
}

// failingStore fails Persist once armed.
type failingStore struct {
	Store
	armed atomic.Bool
}

var errDisk = errors.New("test: disk on fire")

func (s *failingStore) Persist(recs []paxos.Record) error {
	if s.armed.Load() {
		return errDisk
	}
	return s.Store.Persist(recs)
}

// TestPersistFailureStops: a failed Persist stops the node for good: the
// append fails, later calls fail with ErrStopped, Close reports it.
func TestPersistFailureStops(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := c.leader(ctx)
	id := l.ID()
	c.stop(id)
	fs := &failingStore{Store: c.stores[id]}
	cfg := c.cfgs[id]
	cfg.Store = fs
	c.cfgs[id] = cfg
	n := c.start(id)
	fs.armed.Store(true)
	// Whoever leads, node id must persist something soon (promise or
	// accept); drive it with an append through a client.
	cl := c.client(t)
	go cl.Append(ctx, []byte("x"))
	select {
	case <-n.Done():
	case <-ctx.Done():
		t.Fatal("node did not stop after a failed persist")
	}
	if err := n.Err(); !errors.Is(err, ErrStopped) || !errors.Is(err, errDisk) {
		t.Fatalf("Err after a failed persist: %v", err)
	}
	if _, err := n.Append(ctx, []byte("y")); !errors.Is(err, ErrStopped) {
		t.Fatalf("append after a failed persist: %v", err)
	}
	if err := n.Close(); !errors.Is(err, ErrStopped) || !errors.Is(err, errDisk) {
		t.Fatalf("Close after a failed persist: %v", err)
	}
	delete(c.nodes, id)
}

// TestBackpressure: when the in-flight window stays full, an append waits
// for its deadline and fails with *BackpressureError (and was never
// proposed); a full queue refuses at the deadline the same way.
func TestBackpressure(t *testing.T) {
	mem := paxnet.NewMemNetwork()
	peers := map[paxos.NodeID]string{1: MemAddr(1), 2: MemAddr(2), 3: MemAddr(3)}
	var nodes []*Node
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	for id := paxos.NodeID(1); id <= 3; id++ {
		n, err := Start(Config{ID: id, ClusterID: "bp", Peers: peers, Store: NewMemStore(), Network: MemNetwork(mem),
			MaxInflightSlots: 4, MaxQueued: 8, MaxBatchEntries: 4})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var l *Node
	waitFor(ctx, t, "leader", func() bool {
		for _, n := range nodes {
			if _, ok := n.Leader(); ok {
				l = n
				return true
			}
		}
		return false
	})
	if _, err := l.Append(ctx, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n != l {
			mem.Stop(n.ID()) // nothing can be chosen any more
		}
	}
	// Fill the window (4 slots): these stay in flight.
	bg, stopBg := context.WithCancel(ctx)
	defer stopBg()
	for range 4 {
		go l.Append(bg, []byte("stuck"))
	}
	waitFor(ctx, t, "window full", func() bool { return l.inflight.Load() == 4 })
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	_, err := l.AppendBatch(short, [][]byte{[]byte("a"), []byte("b")})
	var be *BackpressureError
	if !errors.As(err, &be) || !errors.Is(err, ErrBackpressure) {
		t.Fatalf("append into a full window: %v", err)
	}
	// Fill the queue (8 entries) and see the next append refused.
	for range 8 {
		go l.Append(bg, []byte("queued"))
	}
	waitFor(ctx, t, "queue full", func() bool { return l.queue.queued() >= 8 })
	short2, cancelShort2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort2()
	if _, err := l.Append(short2, []byte("c")); !errors.As(err, &be) {
		t.Fatalf("append into a full queue: %v", err)
	}
}
