package log

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

// appendLocal appends total entries through the leader node itself from
// workers goroutines in batches, returning the acknowledgements.
func appendLocal(ctx context.Context, t testing.TB, l *Node, prefix string, total, workers, batch int, size int) []ack {
	t.Helper()
	var mu sync.Mutex
	var acks []ack
	var wg sync.WaitGroup
	per := total / workers
	errs := make(chan error, workers)
	pad := make([]byte, size)
	for w := range workers {
		wg.Go(func() {
			for i := 0; i < per; i += batch {
				n := min(batch, per-i)
				data := make([][]byte, n)
				for j := range data {
					data[j] = append(fmt.Appendf(nil, "%s-%d-%d|", prefix, w, i+j), pad...)
				}
				idx, err := l.AppendBatch(ctx, data)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for j := range idx {
					acks = append(acks, ack{string(data[j]), idx[j]})
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return acks
}

func follower(c *testCluster, l *Node) paxos.NodeID {
	for id := range c.nodes {
		if id != l.ID() {
			return id
		}
	}
	return 0
}

// TestFollowerCatchUp: a follower is down while 50,000 entries are
// appended; after its restart a tail opened on it before it has caught up
// delivers everything, in the same order as the leader.
func TestFollowerCatchUp(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3, tcp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	l := c.leader(ctx)
	fid := follower(c, l)
	c.stop(fid)
	start := time.Now()
	acks := appendLocal(ctx, t, l, "c", 50000, 4, 1000, 16)
	last := maxIndex(acks)
	t.Logf("50000 appends with the follower down in %s", time.Since(start))

	f := c.start(fid)
	s, err := f.Tail(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if f.Applied() >= last {
		t.Fatalf("follower applied %d before the tail opened: nothing to catch up", f.Applied())
	}
	t.Logf("tail opened on the follower at applied=%d, last=%d", f.Applied(), last)
	ref := tailAll(ctx, t, l, 0, last)
	i := 0
	for idx, data := range s.All() {
		if got := (entryRec{idx, string(data)}); got != ref[i] {
			t.Fatalf("follower entry %d: %v, leader %v", i, got, ref[i])
		}
		if i++; idx >= last {
			break
		}
	}
	if i != len(ref) || i != 50000 {
		t.Fatalf("follower delivered %d, leader %d, want 50000", i, len(ref))
	}
	t.Logf("follower caught up 50000 entries in %s", time.Since(start))
}

// TestCheckTailOnFollower: CheckTail on a follower is never behind an
// append acknowledged before it was called, and the entry is then
// readable there.
func TestCheckTailOnFollower(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3, tcp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := c.leader(ctx)
	f := c.nodes[follower(c, l)]
	// Background load keeps the follower busy (and lagging).
	progress, wait := startAppenders(ctx, t, 4, func() *Client { return c.client(t) })
	cl := c.client(t)
	for i := range 200 {
		idx, err := cl.Append(ctx, fmt.Appendf(nil, "ct-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		tail, err := f.CheckTail(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tail < idx {
			t.Fatalf("check tail on follower %d returned %d, behind acknowledged %d", f.ID(), tail, idx)
		}
		data, err := f.Read(ctx, idx)
		if err != nil || string(data) != fmt.Sprintf("ct-%d", i) {
			t.Fatalf("follower read %d after check tail: %q %v", idx, data, err)
		}
	}
	acks := wait()
	t.Logf("200 check-tails on a follower under load of %d appends (%d)", len(acks), progress())
}
