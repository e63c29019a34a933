package log

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// ack is one acknowledged append: the payload and the index it got.
type ack struct {
	data  string
	index uint64
}

// runAppenders runs clients concurrent Clients, each used by pipeline
// goroutines that append perClient entries in all, named
// "<prefix>-<client>-<i>", with batch entries per call. It returns every
// acknowledgement.
func runAppenders(ctx context.Context, t testing.TB, c *testCluster, prefix string, clients, pipeline, perClient, batch int) []ack {
	t.Helper()
	var mu sync.Mutex
	var acks []ack
	var wg sync.WaitGroup
	errs := make(chan error, clients*pipeline)
	for w := range clients {
		cl := c.client(t)
		for p := range pipeline {
			wg.Go(func() {
				for i := p * batch; i < perClient; i += batch * pipeline {
					n := min(batch, perClient-i)
					data := make([][]byte, n)
					for j := range data {
						data[j] = fmt.Appendf(nil, "%s-%d-%d", prefix, w, i+j)
					}
					idx, err := cl.AppendBatch(ctx, data)
					if err != nil {
						errs <- fmt.Errorf("client %d append %d: %w", w, i, err)
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
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return acks
}

// checkReplicas tails every running replica from its first index through
// last and checks that all give the same sequence, that every ack appears
// exactly once at its index, and that nothing else is delivered.
func checkReplicas(ctx context.Context, t testing.TB, c *testCluster, acks []ack) []entryRec {
	t.Helper()
	var last uint64
	byIndex := make(map[uint64]string, len(acks))
	for _, a := range acks {
		if old, dup := byIndex[a.index]; dup {
			t.Fatalf("index %d acknowledged for %q and %q", a.index, old, a.data)
		}
		byIndex[a.index] = a.data
		last = max(last, a.index)
	}
	var ref []entryRec
	for id, n := range c.nodes {
		got := tailAll(ctx, t, n, 0, last)
		seen := make(map[string]bool, len(got))
		for _, e := range got {
			if seen[e.data] {
				t.Fatalf("node %d delivers %q twice", id, e.data)
			}
			seen[e.data] = true
			if want, ok := byIndex[e.index]; ok && want != e.data {
				t.Fatalf("node %d index %d: %q, acknowledged %q", id, e.index, e.data, want)
			}
		}
		for _, a := range acks {
			if !seen[a.data] {
				t.Fatalf("node %d lacks acknowledged %q@%d", id, a.data, a.index)
			}
		}
		if ref == nil {
			ref = got
			continue
		}
		if len(got) != len(ref) {
			t.Fatalf("node %d delivers %d entries, another %d", id, len(got), len(ref))
		}
		for i := range got {
			if got[i] != ref[i] {
				t.Fatalf("node %d entry %d: %v, another replica %v", id, i, got[i], ref[i])
			}
		}
	}
	return ref
}

// TestConcurrentAppends: 3 and 5 replicas over TCP with real storage;
// 10,000 appends from 16 concurrent clients; every replica delivers the
// same sequence and every acknowledged append exactly once at its index.
func TestConcurrentAppends(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprintf("replicas=%d", size), func(t *testing.T) {
			c := newTestCluster(t, clusterOpts{size: size, tcp: true})
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			start := time.Now()
			// 16 Clients, each with 4 appends in flight at a time.
			acks := runAppenders(ctx, t, c, "a", 16, 4, 625, 1)
			el := time.Since(start)
			if len(acks) != 10000 {
				t.Fatalf("%d acks", len(acks))
			}
			got := checkReplicas(ctx, t, c, acks)
			if len(got) != 10000 {
				t.Fatalf("replicas deliver %d entries, want exactly the 10000 acknowledged", len(got))
			}
			t.Logf("%d replicas: 10000 appends from 16 clients in %s (%.0f/s)", size, el, 10000/el.Seconds())
			m := c.leader(ctx).Metrics()
			t.Logf("leader: %d entries in %d Propose calls, %d persists (%.1f records each, %.2f ms avg), commit latency %.2f ms avg",
				m.Proposed, m.ProposeCalls, m.Persists, float64(m.PersistRecords)/float64(m.Persists),
				float64(m.PersistTime.Microseconds())/1000/float64(m.Persists),
				float64(m.CommitTime.Microseconds())/1000/float64(max(m.Commits, 1)))
		})
	}
}

// TestGroupCommit: with many concurrent appenders, many appends share one
// fsync on every replica and several share one Propose (one Accept
// message), so throughput grows with the number of appenders.
func TestGroupCommit(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3, tcp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := c.leader(ctx)
	type load struct{ rate, perPropose, perPersist float64 }
	run := func(appenders, each int) load {
		before := l.Metrics()
		start := time.Now()
		acks := runAppenders(ctx, t, c, fmt.Sprintf("g%d", appenders), appenders, 1, each, 1)
		el := time.Since(start)
		m := l.Metrics()
		entries := float64(m.Proposed - before.Proposed)
		return load{float64(len(acks)) / el.Seconds(), entries / float64(m.ProposeCalls-before.ProposeCalls),
			entries / float64(m.Persists-before.Persists)}
	}
	one, many := run(1, 200), run(32, 50)
	t.Logf("1 appender: %.0f appends/s (%.1f entries per Propose, %.1f per leader fsync); 32 appenders: %.0f appends/s (%.1f per Propose, %.1f per leader fsync)",
		one.rate, one.perPropose, one.perPersist, many.rate, many.perPropose, many.perPersist)
	if many.perPersist < 4 {
		t.Fatalf("32 concurrent appenders share only %.1f entries per leader fsync: no group commit", many.perPersist)
	}
	if many.perPropose < 2 {
		t.Fatalf("32 concurrent appenders share only %.1f entries per Propose: every append is its own Accept", many.perPropose)
	}
	// The ratio is about 4x on an idle machine; under -race on a loaded
	// one the appenders are CPU-bound, so only growth itself is asserted.
	if many.rate <= one.rate {
		t.Fatalf("throughput does not grow with appenders: %.0f/s with 1, %.0f/s with 32", one.rate, many.rate)
	}
}
