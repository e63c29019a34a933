package bench

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paxlog/paxlog/net/nettest"

	replog "github.com/paxlog/paxlog/log"
	"github.com/paxlog/paxlog/paxos"
	"github.com/paxlog/paxlog/storage"
)

// clusterID names every benchmark cluster.
const clusterID = "bench"

// countFS is the storage file-system seam with an fsync counter: every
// segment fsync and directory fsync the store makes goes through it.
type countFS struct {
	storage.OSFS
	syncs atomic.Int64
}

type countFile struct {
	storage.File
	fs *countFS
}

func (c *countFS) OpenFile(name string, flag int, perm os.FileMode) (storage.File, error) {
	f, err := c.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return countFile{f, c}, nil
}

func (f countFile) Sync() error { f.fs.syncs.Add(1); return f.File.Sync() }

func (c *countFS) SyncDir(name string) error { c.syncs.Add(1); return c.OSFS.SyncDir(name) }

// clusterOpts shapes a benchmark cluster.
type clusterOpts struct {
	nodes  int  // replicas; default 3
	noSync bool // labelled no-fsync baseline only
}

// cluster is a real replicated log in this process: nodes on loopback TCP,
// each with its own storage in a temporary directory and real fsync.
type cluster struct {
	addrs []string
	nodes []*replog.Node
	fs    []*countFS
}

// freeAddr returns a loopback address outside the ephemeral port range.
func freeAddr(tb testing.TB) string { return nettest.FreeAddr(tb) }

// startCluster starts the replicas and waits until one of them leads; it
// stops them when tb ends.
func startCluster(tb testing.TB, o clusterOpts) *cluster {
	tb.Helper()
	if o.nodes == 0 {
		o.nodes = 3
	}
	c := &cluster{}
	peers := map[paxos.NodeID]string{}
	for id := 1; id <= o.nodes; id++ {
		a := freeAddr(tb)
		peers[paxos.NodeID(id)] = a
		c.addrs = append(c.addrs, a)
	}
	tb.Cleanup(c.close)
	for id := 1; id <= o.nodes; id++ {
		fsys := &countFS{}
		st, err := storage.Open(storage.Options{Dir: tb.TempDir(), ClusterID: clusterID,
			NodeID: uint64(id), FS: fsys, NoSync: o.noSync})
		if err != nil {
			tb.Fatalf("open storage of node %d: %v", id, err)
		}
		n, err := replog.Start(replog.Config{ID: paxos.NodeID(id), ClusterID: clusterID,
			Peers: peers, Store: st})
		if err != nil {
			st.Close()
			tb.Fatalf("start node %d: %v", id, err)
		}
		c.nodes = append(c.nodes, n)
		c.fs = append(c.fs, fsys)
	}
	c.leader(tb)
	return c
}

// leader waits (up to 10 s) until a node leads and returns it.
func (c *cluster) leader(tb testing.TB) *replog.Node {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			if _, is := n.Leader(); is {
				return n
			}
		}
		t := time.NewTimer(5 * time.Millisecond)
		<-t.C
	}
	tb.Fatalf("no leader within 10s")
	return nil
}

// follower returns a node that does not lead.
func (c *cluster) follower(tb testing.TB) *replog.Node {
	l := c.leader(tb)
	for _, n := range c.nodes {
		if n != l {
			return n
		}
	}
	tb.Fatalf("no follower")
	return nil
}

func (c *cluster) close() {
	for _, n := range c.nodes {
		n.Close()
	}
}

// fsyncs is the number of fsyncs all replicas have made so far.
func (c *cluster) fsyncs() int64 {
	var s int64
	for _, f := range c.fs {
		s += f.syncs.Load()
	}
	return s
}

// persists is the number of Persist calls (one journal fsync each) of all
// replicas, from their Metrics.
func (c *cluster) persists() uint64 {
	var s uint64
	for _, n := range c.nodes {
		s += n.Metrics().Persists
	}
	return s
}

// newClient returns a remote client of the cluster; tb closes it.
func (c *cluster) newClient(tb testing.TB) *replog.Client {
	tb.Helper()
	cl, err := replog.NewClient(replog.ClientConfig{ClusterID: clusterID, Addrs: c.addrs})
	if err != nil {
		tb.Fatalf("new client: %v", err)
	}
	tb.Cleanup(func() { cl.Close() })
	return cl
}

func name(kv ...any) string {
	s := ""
	for i := 0; i+1 < len(kv); i += 2 {
		if s != "" {
			s += "/"
		}
		s += fmt.Sprintf("%v=%v", kv[i], kv[i+1])
	}
	return s
}
