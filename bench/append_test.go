package bench

import (
	"context"
	"crypto/rand"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	replog "github.com/paxlog/paxlog/log"
)

// appendShape is one append workload: clients goroutines, each with one
// request of batch entries of size bytes in flight, spread over conns
// replog.Clients (each its own TCP connection and exactly-once identity;
// 0 means one per goroutine).
type appendShape struct {
	clients, conns, batch, size int
}

// nconns is the number of replog.Clients the shape uses.
func (s appendShape) nconns() int {
	if s.conns <= 0 || s.conns > s.clients {
		return s.clients
	}
	return s.conns
}

// BenchmarkAppend: one op is one entry appended through replog.Client.Append
// (remote, over loopback TCP) and acknowledged, i.e. chosen on a majority of
// a 3-replica cluster with every replica's accept fsynced. It reports
// appends/s, MB/s, p50/p99/p99.9 request latency in ms, fsyncs per append
// (all replicas together) and the process's peak RSS (3 replicas + clients).
func BenchmarkAppend(b *testing.B) {
	c := startCluster(b, clusterOpts{})
	for _, clients := range []int{1, 16, 256} {
		s := appendShape{clients: clients, batch: 1, size: 256}
		b.Run(name("clients", clients, "size", s.size), func(b *testing.B) { benchAppend(b, c, s) })
	}
	// The shape of etcd's benchmark put at 256 clients (64 gRPC
	// connections): 256 goroutines share 64 Clients.
	s := appendShape{clients: 256, conns: 64, batch: 1, size: 256}
	b.Run(name("clients", s.clients, "conns", s.conns, "size", s.size), func(b *testing.B) { benchAppend(b, c, s) })
}

// BenchmarkAppendBatch: one op is one entry; each request is one
// Client.AppendBatch of batch entries. Latency is per request.
func BenchmarkAppendBatch(b *testing.B) {
	c := startCluster(b, clusterOpts{})
	s := appendShape{clients: 16, batch: 64, size: 256}
	b.Run(name("clients", s.clients, "batch", s.batch, "size", s.size), func(b *testing.B) { benchAppend(b, c, s) })
}

// BenchmarkAppendLocal appends through the leader's replog.Node.Append in
// this process: no client hop, the shape of the hashicorp/raft peer row
// (raft.Apply inside the leader). Replication between the three replicas
// is the same loopback TCP with fsync. Not the client-library figure.
func BenchmarkAppendLocal(b *testing.B) {
	c := startCluster(b, clusterOpts{})
	for _, clients := range []int{1, 16, 256} {
		s := appendShape{clients: clients, batch: 1, size: 256}
		b.Run(name("clients", clients, "size", s.size), func(b *testing.B) {
			l := c.leader(b)
			f0, p0, cpu0 := c.fsyncs(), c.persists(), processCPU()
			b.SetBytes(int64(s.size))
			b.ResetTimer()
			r := runLoadWith(b, s, int64(b.N), func(ctx context.Context, _ int, data [][]byte) error {
				_, err := l.Append(ctx, data[0])
				return err
			})
			b.StopTimer()
			report(b, r, s)
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(r.entries), "cpu-us/append")
			b.ReportMetric(float64(c.fsyncs()-f0)/float64(r.entries), "fsyncs/append")
			b.ReportMetric(float64(c.persists()-p0)/float64(r.entries), "persists/append")
		})
	}
}

// BenchmarkAppendNoSync is the LABELLED NO-FSYNC BASELINE: storage opened
// with NoSync, not crash safe. It shows what the code costs without the
// disk; never quote it as paxlog's throughput.
func BenchmarkAppendNoSync(b *testing.B) {
	c := startCluster(b, clusterOpts{noSync: true})
	for _, clients := range []int{1, 256} {
		s := appendShape{clients: clients, batch: 1, size: 256}
		b.Run(name("fsync", "off", "clients", clients, "size", s.size), func(b *testing.B) { benchAppend(b, c, s) })
	}
}

// loadResult is what one append run measured.
type loadResult struct {
	entries int64
	elapsed time.Duration
	lat     []time.Duration // per request, sorted
}

// benchAppend runs b.N entries of shape s against c and reports.
func benchAppend(b *testing.B, c *cluster, s appendShape) {
	clients := c.newClients(b, s)
	rss := startRSSSampler()
	f0, p0, cpu0, w0 := c.fsyncs(), c.persists(), processCPU(), writeBytes()
	b.SetBytes(int64(s.size))
	b.ResetTimer()
	r := runLoad(b, clients, s, int64(b.N))
	b.StopTimer()
	report(b, r, s)
	// CPU of the whole process (3 replicas and the clients) per append:
	// steadier than appends/s on a shared machine.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(r.entries), "cpu-us/append")
	b.ReportMetric(float64(c.fsyncs()-f0)/float64(r.entries), "fsyncs/append")
	b.ReportMetric(float64(c.persists()-p0)/float64(r.entries), "persists/append")
	// Bytes the 3 replicas wrote to disk (all files, all replicas) per entry.
	b.ReportMetric(float64(writeBytes()-w0)/float64(r.entries), "disk-B/append")
	b.ReportMetric(rss.stop(), "peak-rss-MiB")
	c.logMetrics(b)
}

// newClients returns one replog.Client per worker of s (shared when
// s.conns is set), each warmed up by one append.
func (c *cluster) newClients(b *testing.B, s appendShape) []*replog.Client {
	conns := make([]*replog.Client, s.nconns())
	for i := range conns {
		conns[i] = c.newClient(b)
	}
	warmAll(b, conns)
	clients := make([]*replog.Client, s.clients)
	for i := range clients {
		clients[i] = conns[i%len(conns)]
	}
	return clients
}

// warmAll makes one append through every client, concurrently.
func warmAll(b *testing.B, clients []*replog.Client) {
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := cl.Append(ctx, []byte("warm")); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("warm-up append: %v", err)
	}
}

// runLoad appends total entries through the clients (one worker each) and
// returns the request latencies.
func runLoad(b *testing.B, clients []*replog.Client, s appendShape, total int64) loadResult {
	return runLoadWith(b, s, total, func(ctx context.Context, w int, data [][]byte) error {
		var err error
		if len(data) == 1 && s.batch == 1 {
			_, err = clients[w].Append(ctx, data[0])
		} else {
			_, err = clients[w].AppendBatch(ctx, data)
		}
		return err
	})
}

// runLoadWith runs s.clients workers that call do with worker index and
// up to s.batch entries until total entries are acknowledged.
func runLoadWith(b *testing.B, s appendShape, total int64, do func(ctx context.Context, w int, data [][]byte) error) loadResult {
	payload := make([]byte, s.size)
	rand.Read(payload)
	var claimed, done atomic.Int64
	lats := make([][]time.Duration, s.clients)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	start := time.Now()
	for w := range s.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := make([][]byte, s.batch)
			for i := range data {
				data[i] = payload
			}
			for failed.Load() == nil {
				n := int64(s.batch)
				left := total - claimed.Add(n) + n
				if left <= 0 {
					return
				}
				n = min(n, left)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				t0 := time.Now()
				err := do(ctx, w, data[:n])
				lat := time.Since(t0)
				cancel()
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				lats[w] = append(lats[w], lat)
				done.Add(n)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if e := failed.Load(); e != nil {
		b.Fatalf("append: %v", *e)
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return loadResult{entries: done.Load(), elapsed: elapsed, lat: all}
}

// report adds throughput and latency metrics.
func report(b *testing.B, r loadResult, s appendShape) {
	secs := r.elapsed.Seconds()
	b.ReportMetric(float64(r.entries)/secs, "appends/s")
	b.ReportMetric(float64(r.entries)*float64(s.size)/secs/1e6, "MB/s")
	b.ReportMetric(quantileMs(r.lat, 0.50), "p50-ms")
	b.ReportMetric(quantileMs(r.lat, 0.99), "p99-ms")
	b.ReportMetric(quantileMs(r.lat, 0.999), "p99.9-ms")
}

// quantileMs is the q-quantile of sorted latencies in milliseconds.
func quantileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i].Microseconds()) / 1000
}
