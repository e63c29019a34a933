package log

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stallFor is how long the remote consumer stops reading.
const stallFor = 30 * time.Second

// liveHeap returns the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestStalledRemoteTailHeap: a remote tail consumer stops reading for 30 s
// while 100,000 entries of 1 KiB (100 MiB, more than the bound) are
// appended; the process's live heap (three replicas, their stores, the
// transport, the stalled stream, the appending clients) grows by less than
// 64 MiB over its level after a warm-up, and the consumer then resumes and
// receives everything in order.
func TestStalledRemoteTailHeap(t *testing.T) {
	// NoSync: this test measures memory; fsync would only slow it down
	// (durability is what the other acceptance tests check).
	c := newTestCluster(t, clusterOpts{size: 3, tcp: true, cacheBytes: 2 << 20, segmentSize: 1 << 20,
		inflightBytes: 8 << 20, noSync: true})
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	c.leader(ctx)
	cl := c.client(t)
	apps := make([]*Client, 8)
	for i := range apps {
		apps[i] = c.client(t)
	}
	// Warm up: the stores' caches and write buffers reach their steady
	// size (bounded by CacheBytes, SegmentSize and the batch limits).
	start := time.Now()
	warm := appendCompact(ctx, t, apps, 5000, 250, 1024)
	waitAllApplied(ctx, t, c, warm)
	first, err := cl.Append(ctx, []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := cl.Tail(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if idx, _, err := s.Next(); err != nil || idx != first {
		t.Fatalf("first tail entry: %d %v", idx, err)
	}
	// The consumer now stops reading.
	start0, base := start, liveHeap()
	peak := base
	start = time.Now()
	var last uint64
	defer func() {
		if t.Failed() {
			c.dumpStats(t)
		}
	}()
	sample := func() {
		if h := liveHeap(); h > peak {
			peak = h
			if path := os.Getenv("REPLOG_HEAP_PROFILE"); path != "" {
				if f, err := os.Create(path); err == nil {
					pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
		}
	}
	for range 10 {
		last = max(last, appendCompact(ctx, t, apps, 10000, 250, 1024))
		// Measure what stays: let every replica apply the round first, so
		// the figure is what the stalled stream and the caches retain,
		// not the write pipeline in flight (bounded by MaxInflightBytes).
		waitAllApplied(ctx, t, c, last)
		sample()
	}
	appended := time.Since(start)
	// The consumer stays stalled for 30 s in all (the figure),
	// sampling the heap every 2 s.
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for time.Since(start) < stallFor {
		select {
		case <-tick.C:
			sample()
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	stall := time.Since(start)
	growth := int64(peak) - int64(base)
	t.Logf("warm-up of 5000 entries took %s", start.Sub(start0).Round(time.Millisecond))
	t.Logf("stalled for %s; 100000 entries (1 KiB each) were appended in the first %s: live heap %d MiB -> peak %d MiB (growth %d KiB)",
		stall.Round(time.Millisecond), appended.Round(time.Millisecond), base>>20, peak>>20, growth>>10)
	if growth >= 64<<20 {
		t.Fatalf("heap grew by %d MiB while a consumer stalled", growth>>20)
	}
	n := 0
	prev := first
	for idx := range s.All() {
		if idx <= prev {
			t.Fatalf("tail index %d after %d", idx, prev)
		}
		prev = idx
		if n++; idx >= last {
			break
		}
	}
	if n != 100000 {
		t.Fatalf("consumer received %d entries after resuming, want 100000", n)
	}
}

// appendCompact appends total entries of size bytes from workers
// goroutines, each with its own Client, in batches, keeping nothing but the
// highest index (so the test's own bookkeeping does not count in the heap).
func appendCompact(ctx context.Context, t testing.TB, clients []*Client, total, batch, size int) uint64 {
	t.Helper()
	var wg sync.WaitGroup
	var last atomic.Uint64
	workers := len(clients)
	errs := make(chan error, workers)
	for _, cl := range clients {
		wg.Go(func() {
			data := make([][]byte, batch)
			for j := range data {
				data[j] = make([]byte, size)
			}
			for i := 0; i < total/workers; i += batch {
				idx, err := cl.AppendBatch(ctx, data[:min(batch, total/workers-i)])
				if err != nil {
					errs <- err
					return
				}
				for x := idx[len(idx)-1]; ; {
					cur := last.Load()
					if cur >= x || last.CompareAndSwap(cur, x) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return last.Load()
}

func waitAllApplied(ctx context.Context, t testing.TB, c *testCluster, index uint64) {
	t.Helper()
	for _, n := range c.nodes {
		if err := n.WaitApplied(ctx, index); err != nil {
			t.Fatal(err)
		}
	}
}
