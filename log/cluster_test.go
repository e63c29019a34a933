package log

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/paxlog/paxlog/net/nettest"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testCluster is an in-process cluster for tests.
type testCluster struct {
	t      testing.TB
	cfgs   map[paxos.NodeID]Config
	nodes  map[paxos.NodeID]*Node
	stores map[paxos.NodeID]Store // mem stores survive restarts
	mem    *paxnet.MemNetwork
}

type clusterOpts struct {
	size int
	tcp  bool // real TCP on 127.0.0.1 and real storage in t.TempDir()
	// storage sizes (0: defaults)
	cacheBytes, segmentSize int
	inflightBytes           int
	noSync                  bool
}

func newTestCluster(t testing.TB, o clusterOpts) *testCluster {
	c := &testCluster{t: t, cfgs: map[paxos.NodeID]Config{}, nodes: map[paxos.NodeID]*Node{},
		stores: map[paxos.NodeID]Store{}}
	peers := map[paxos.NodeID]string{}
	if o.tcp {
		for id := paxos.NodeID(1); id <= paxos.NodeID(o.size); id++ {
			peers[id] = freeAddr(t)
		}
	} else {
		c.mem = paxnet.NewMemNetwork()
		for id := paxos.NodeID(1); id <= paxos.NodeID(o.size); id++ {
			peers[id] = MemAddr(id)
		}
	}
	for id := range peers {
		cfg := Config{ID: id, ClusterID: "test", Peers: peers, TickInterval: 10 * time.Millisecond,
			CacheBytes: o.cacheBytes, SegmentSize: o.segmentSize, MaxInflightBytes: o.inflightBytes, NoSync: o.noSync,
			Logger: testLogger(id)}
		if o.tcp {
			cfg.Dir = t.TempDir()
		} else {
			st := NewMemStore()
			c.stores[id] = st
			cfg.Store = st
			cfg.Network = MemNetwork(c.mem)
		}
		c.cfgs[id] = cfg
	}
	for id := range peers {
		c.start(id)
	}
	t.Cleanup(c.closeAll)
	return c
}

func (c *testCluster) start(id paxos.NodeID) *Node {
	c.t.Helper()
	n, err := Start(c.cfgs[id])
	if err != nil {
		c.t.Fatalf("start node %d: %v", id, err)
	}
	c.nodes[id] = n
	return n
}

func (c *testCluster) stop(id paxos.NodeID) {
	if n := c.nodes[id]; n != nil {
		n.Close()
		delete(c.nodes, id)
	}
}

func (c *testCluster) closeAll() {
	for id := range c.nodes {
		c.stop(id)
	}
}

// leader waits for a node that is the leader.
func (c *testCluster) leader(ctx context.Context) *Node {
	c.t.Helper()
	for {
		for _, n := range c.nodes {
			if _, ok := n.Leader(); ok {
				return n
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("no leader: %v", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (c *testCluster) addrs() []string {
	var out []string
	for _, cfg := range c.cfgs {
		out = append(out, cfg.Peers[cfg.ID])
	}
	return out
}

// tailAll reads every delivered entry from n from index from up to and
// including last.
func tailAll(ctx context.Context, t testing.TB, n *Node, from, last uint64) []entryRec {
	t.Helper()
	s, err := n.Tail(ctx, from)
	if err != nil {
		t.Fatalf("tail node %d: %v", n.ID(), err)
	}
	defer s.Close()
	var out []entryRec
	for idx, data := range s.All() {
		out = append(out, entryRec{idx, string(data)})
		if idx >= last {
			return out
		}
	}
	t.Fatalf("tail node %d ended after %d entries: %v", n.ID(), len(out), s.Err())
	return nil
}

type entryRec struct {
	index uint64
	data  string
}

func TestMemClusterAppendTail(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := c.leader(ctx)
	var last uint64
	for i := range 100 {
		idx, err := l.Append(ctx, fmt.Appendf(nil, "e%d", i))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if idx <= last {
			t.Fatalf("append %d: index %d not above %d", i, idx, last)
		}
		last = idx
	}
	var want []entryRec
	for _, n := range c.nodes {
		got := tailAll(ctx, t, n, 0, last)
		if len(got) != 100 {
			t.Fatalf("node %d: %d entries, want 100", n.ID(), len(got))
		}
		if want == nil {
			want = got
		}
		for i := range got {
			if got[i] != want[i] || got[i].data != fmt.Sprintf("e%d", i) {
				t.Fatalf("node %d entry %d: %v, want %v", n.ID(), i, got[i], want[i])
			}
		}
	}
}

// freeAddr returns a loopback address outside the ephemeral port range.
func freeAddr(t testing.TB) string { return nettest.FreeAddr(t) }

// testLogger logs to stderr at the level in REPLOG_TEST_LOG (off when unset).
func testLogger(id paxos.NodeID) hclog.Logger {
	lvl := os.Getenv("REPLOG_TEST_LOG")
	if lvl == "" {
		return nil
	}
	return hclog.New(&hclog.LoggerOptions{Name: fmt.Sprintf("n%d", id), Level: hclog.LevelFromString(lvl), Output: os.Stderr})
}
