package net

import (
	"sync"
	"testing"
	"time"

	"github.com/paxlog/paxlog/net/nettest"

	"go.uber.org/goleak"

	"github.com/paxlog/paxlog/paxos"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testCluster = "test-cluster"

// cluster starts and stops the nodes of one transport implementation.
type cluster interface {
	start(t *testing.T, id paxos.NodeID) Transport
	stop(id paxos.NodeID)
}

type implementation struct {
	name       string
	newCluster func(t *testing.T, ids []paxos.NodeID, mut func(*Config)) cluster
}

var implementations = []implementation{
	{"tcp", newTCPCluster},
	{"mem", newMemCluster},
}

// tcpCluster runs Servers on 127.0.0.1 ports reserved up front, so a
// restarted node comes back at the same address.
type tcpCluster struct {
	mu    sync.Mutex
	addrs map[paxos.NodeID]string
	mut   func(*Config)
	nodes map[paxos.NodeID]*Server
}

func newTCPCluster(t *testing.T, ids []paxos.NodeID, mut func(*Config)) cluster {
	c := &tcpCluster{addrs: map[paxos.NodeID]string{}, mut: mut, nodes: map[paxos.NodeID]*Server{}}
	for _, id := range ids {
		c.addrs[id] = freeAddr(t)
	}
	t.Cleanup(func() {
		for id := range c.addrs {
			c.stop(id)
		}
	})
	return c
}

// freeAddr returns a loopback address outside the ephemeral port range.
func freeAddr(t testing.TB) string { return nettest.FreeAddr(t) }

func (c *tcpCluster) config(id paxos.NodeID) Config {
	cfg := Config{ClusterID: testCluster, NodeID: id, Listen: c.addrs[id], Peers: c.addrs}
	if c.mut != nil {
		c.mut(&cfg)
	}
	return cfg
}

func (c *tcpCluster) start(t *testing.T, id paxos.NodeID) Transport {
	t.Helper()
	s, err := Listen(c.config(id), nil)
	if err != nil {
		t.Fatalf("start node %d: %v", id, err)
	}
	c.mu.Lock()
	c.nodes[id] = s
	c.mu.Unlock()
	return s
}

func (c *tcpCluster) stop(id paxos.NodeID) {
	c.mu.Lock()
	s := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if s != nil {
		s.Close()
	}
}

type memCluster struct {
	mn    *MemNetwork
	ids   []paxos.NodeID
	mut   func(*Config)
	mu    sync.Mutex
	nodes map[paxos.NodeID]Transport
}

func newMemCluster(t *testing.T, ids []paxos.NodeID, mut func(*Config)) cluster {
	c := &memCluster{mn: NewMemNetwork(), ids: ids, mut: mut, nodes: map[paxos.NodeID]Transport{}}
	t.Cleanup(func() {
		for _, id := range ids {
			c.stop(id)
		}
	})
	return c
}

func (c *memCluster) start(t *testing.T, id paxos.NodeID) Transport {
	t.Helper()
	peers := map[paxos.NodeID]string{}
	for _, p := range c.ids {
		peers[p] = ""
	}
	cfg := Config{ClusterID: testCluster, NodeID: id, Peers: peers}
	if c.mut != nil {
		c.mut(&cfg)
	}
	tr, err := c.mn.Join(cfg, nil)
	if err != nil {
		t.Fatalf("join node %d: %v", id, err)
	}
	c.mu.Lock()
	c.nodes[id] = tr
	c.mu.Unlock()
	return tr
}

func (c *memCluster) stop(id paxos.NodeID) {
	c.mu.Lock()
	tr := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if tr != nil {
		tr.Close()
	}
}

// recvUntil reads tr's messages until pred returns true or the deadline.
func recvUntil(t *testing.T, tr Transport, d time.Duration, pred func(paxos.Message) bool) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-tr.Messages():
			if !ok {
				t.Fatal("Messages closed")
			}
			if pred(m) {
				return
			}
		case <-timer.C:
			t.Fatalf("condition not met within %v", d)
		}
	}
}

func msg(from, to paxos.NodeID, slot uint64) paxos.Message {
	return paxos.Message{Type: paxos.MsgHeartbeat, From: from, To: to, Slot: slot,
		Ballot: paxos.Ballot{Round: 1, Node: from}}
}

// TestConformance runs one suite against every Transport implementation.
func TestConformance(t *testing.T) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			t.Run("delivery", func(t *testing.T) { testDelivery(t, impl) })
			t.Run("ordering", func(t *testing.T) { testOrdering(t, impl) })
			t.Run("reconnect", func(t *testing.T) { testReconnect(t, impl) })
			t.Run("queue-full", func(t *testing.T) { testQueueFull(t, impl) })
			t.Run("close", func(t *testing.T) { testClose(t, impl) })
		})
	}
}

func testDelivery(t *testing.T, impl implementation) {
	ids := []paxos.NodeID{1, 2, 3}
	c := impl.newCluster(t, ids, nil)
	trs := map[paxos.NodeID]Transport{}
	for _, id := range ids {
		trs[id] = c.start(t, id)
	}
	for _, from := range ids {
		for _, to := range ids {
			if from != to {
				m := msg(from, to, uint64(from*10+to))
				m.Entries = []paxos.Entry{{Slot: 7, Ballot: m.Ballot, Data: []byte("payload")}}
				trs[from].Send(m)
			}
		}
	}
	for _, to := range ids {
		seen := map[paxos.NodeID]bool{}
		recvUntil(t, trs[to], 10*time.Second, func(m paxos.Message) bool {
			if m.To != to || m.Slot != uint64(m.From*10+to) || len(m.Entries) != 1 || string(m.Entries[0].Data) != "payload" {
				t.Fatalf("node %d got %v", to, m)
			}
			seen[m.From] = true
			return len(seen) == len(ids)-1
		})
	}
	st := trs[1].Stats()
	if st.Peers[2].FramesOut != 1 || st.Peers[2].FramesIn != 1 {
		t.Fatalf("stats for peer 2: %+v", st.Peers[2])
	}
}

func testOrdering(t *testing.T, impl implementation) {
	c := impl.newCluster(t, []paxos.NodeID{1, 2}, nil)
	a, b := c.start(t, 1), c.start(t, 2)
	const n = 3000
	go func() {
		for i := 1; i <= n; i++ {
			a.Send(msg(1, 2, uint64(i)))
		}
	}()
	next := uint64(1)
	recvUntil(t, b, 20*time.Second, func(m paxos.Message) bool {
		if m.Slot != next {
			t.Fatalf("got slot %d, want %d", m.Slot, next)
		}
		next++
		return next > n
	})
	if d := a.Stats().Peers[2].QueueDrops; d != 0 {
		t.Fatalf("%d queue drops", d)
	}
}

func testReconnect(t *testing.T, impl implementation) {
	c := impl.newCluster(t, []paxos.NodeID{1, 2}, nil)
	a, b := c.start(t, 1), c.start(t, 2)
	a.Send(msg(1, 2, 1))
	recvUntil(t, b, 10*time.Second, func(m paxos.Message) bool { return m.Slot == 1 })
	c.stop(2)
	// Messages sent while 2 is down may be lost; after the restart, traffic
	// must flow again without any help from the caller.
	a.Send(msg(1, 2, 2))
	b = c.start(t, 2)
	deadline := time.Now().Add(15 * time.Second)
	for slot := uint64(100); ; slot++ {
		a.Send(msg(1, 2, slot))
		select {
		case m := <-b.Messages():
			if m.From != 1 {
				t.Fatalf("unexpected %v", m)
			}
			b.Send(msg(2, 1, 1))
			recvUntil(t, a, 10*time.Second, func(m paxos.Message) bool { return m.From == 2 })
			if st := a.Stats().Peers[2]; st.Reconnects == 0 || !st.Connected {
				t.Fatalf("after restart: %+v", st)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery after restart; stats %+v", a.Stats().Peers[2])
		}
	}
}

func testQueueFull(t *testing.T, impl implementation) {
	const queue = 16
	c := impl.newCluster(t, []paxos.NodeID{1, 2}, func(cfg *Config) { cfg.QueueLen = queue })
	a := c.start(t, 1) // node 2 is down: the writer waits, the queue fills
	const sent = 200
	for i := 0; i < sent; i++ {
		a.Send(msg(1, 2, uint64(i)))
	}
	a.Send(msg(1, 99, 0))
	st := a.Stats()
	if d := st.Peers[2].QueueDrops; d < sent-queue-1 {
		t.Fatalf("queue drops %d, want >= %d", d, sent-queue-1)
	}
	if st.UnknownPeerDrops != 1 {
		t.Fatalf("unknown peer drops %d, want 1", st.UnknownPeerDrops)
	}
	// The queued messages flow once the peer is up.
	b := c.start(t, 2)
	got := 0
	recvUntil(t, b, 15*time.Second, func(m paxos.Message) bool { got++; return got >= queue })
}

func testClose(t *testing.T, impl implementation) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := impl.newCluster(t, []paxos.NodeID{1, 2, 3}, nil)
	a, b := c.start(t, 1), c.start(t, 2)
	a.Send(msg(1, 2, 1))
	a.Send(msg(1, 3, 1)) // 3 is down: a writer is waiting to dial
	recvUntil(t, b, 10*time.Second, func(m paxos.Message) bool { return true })
	c.stop(1)
	c.stop(2)
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	a.Send(msg(1, 2, 2)) // after Close: dropped, no panic
	if _, ok := <-a.Messages(); ok {
		t.Fatal("Messages not closed after Close")
	}
}
