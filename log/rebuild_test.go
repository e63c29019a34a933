package log

import (
	"context"
	"fmt"
	"testing"
	"time"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

// TestFreshClusterLeavesRebuilding: new stores start rebuilding; a fresh
// cluster leaves that state by the virgin-cluster rule, marks its stores
// rebuilt and elects a leader within a few election timeouts. The test
// logs the startup time next to that of the same cluster restarted.
func TestFreshClusterLeavesRebuilding(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	c := newTestCluster(t, clusterOpts{size: 3})
	for id, st := range c.stores {
		if !st.Rebuilding() {
			t.Fatalf("store %d of a fresh cluster is not rebuilding", id)
		}
	}
	l := c.leader(ctx)
	fresh := time.Since(began)
	if _, err := l.Append(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "stores marked rebuilt", func() bool {
		for _, st := range c.stores {
			if st.Rebuilding() {
				return false
			}
		}
		return true
	})
	for id, n := range c.nodes {
		if n.Status().Rebuilding {
			t.Fatalf("node %d still reports rebuilding", id)
		}
	}
	c.closeAll()
	began = time.Now()
	for id := range c.cfgs {
		c.start(id)
	}
	c.leader(ctx)
	restarted := time.Since(began)
	cfg := c.cfgs[1]
	et := time.Duration(DefaultElectionTicks) * cfg.TickInterval
	t.Logf("leader after %v fresh (virgin-cluster rule), %v restarted; election timeout %v", fresh, restarted, et)
	if fresh > 10*et {
		t.Fatalf("fresh cluster took %v to elect a leader, more than 10 election timeouts (%v)", fresh, et)
	}
}

// TestWipedReplicaRebuilds: a replica whose store is lost restarts
// rebuilding, does not vote, re-learns the chosen log from its peers, then
// clears the flag and votes again; nothing acknowledged is lost.
func TestWipedReplicaRebuilds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTestCluster(t, clusterOpts{size: 3})
	l := c.leader(ctx)
	var last uint64
	for i := range 5 {
		idx, err := l.Append(ctx, []byte(fmt.Sprintf("before-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		last = idx
	}
	var victim paxos.NodeID
	for id := range c.nodes {
		if id != l.ID() {
			victim = id
			break
		}
	}
	c.stop(victim)
	st := NewMemStore() // the lost disk
	c.stores[victim] = st
	cfg := c.cfgs[victim]
	cfg.Store = st
	c.cfgs[victim] = cfg
	n := c.start(victim)
	if !n.Status().Rebuilding {
		t.Fatal("a replica restarted on an empty store is not rebuilding")
	}
	if resp := (&handler{n}).HandleRequest(ctx, &paxnet.Request{Op: paxnet.OpStatus}); !resp.Status.Rebuilding {
		t.Fatal("the status a client reads does not say rebuilding")
	}
	waitFor(ctx, t, "wiped replica rebuilt", func() bool {
		if _, err := l.Append(ctx, []byte("during")); err != nil {
			t.Fatal(err)
		}
		return !st.Rebuilding() && !n.Status().Rebuilding
	})
	if st.LastIndex() < last {
		t.Fatalf("rebuilt replica holds up to %d, acknowledged up to %d", st.LastIndex(), last)
	}
	for i := uint64(1); i <= last; i++ {
		ents, err := st.Entries(i, 1<<20)
		if err != nil || len(ents) == 0 || ents[0].Slot != i {
			t.Fatalf("rebuilt replica lacks slot %d: %v", i, err)
		}
	}
}
