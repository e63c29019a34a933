package bench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	replog "github.com/paxlog/paxlog/log"
)

// BenchmarkTail measures entries/s delivered to a remote consumer
// (replog.Client.Tail over loopback TCP, connected to a follower, with the
// client's default credit).
//
// live/clients=256: the consumer tails while 256 clients append b.N entries;
// tail-entries/s is measured from the first append to the last entry
// received, and tail-lag-ms is how long after the last acknowledged append
// the consumer received it. The tail keeps up when tail-entries/s matches
// appends/s and the lag stays small.
//
// catchup: b.N entries are appended first (untimed); one op is one entry
// received by a consumer that starts at the beginning.
func BenchmarkTail(b *testing.B) {
	c := startCluster(b, clusterOpts{})
	s := appendShape{clients: 256, batch: 1, size: 256}
	b.Run("live/"+name("clients", s.clients, "size", s.size), func(b *testing.B) {
		benchTailLive(b, c, s)
	})
	b.Run("catchup/size=256", func(b *testing.B) { benchTailCatchup(b, c, 256) })
}

// tailer consumes a remote tail in its own goroutine.
type tailer struct {
	got    atomic.Int64
	last   atomic.Int64 // time.Now().UnixNano() at the last entry received
	cancel context.CancelFunc
	done   chan error
}

// startTailer opens a remote tail at from on the replica at addr and
// counts what arrives.
func startTailer(b *testing.B, c *cluster, addr string, from uint64) *tailer {
	cl, err := replog.NewClient(replog.ClientConfig{ClusterID: clusterID, Addrs: []string{addr}})
	if err != nil {
		b.Fatalf("tail client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := cl.Tail(ctx, from)
	if err != nil {
		cancel()
		cl.Close()
		b.Fatalf("tail: %v", err)
	}
	t := &tailer{cancel: cancel, done: make(chan error, 1)}
	go func() {
		defer cl.Close()
		defer st.Close()
		for {
			if _, _, err := st.Next(); err != nil {
				t.done <- err
				return
			}
			t.got.Add(1)
			t.last.Store(time.Now().UnixNano())
		}
	}()
	return t
}

// wait blocks until n entries arrived (or a minute passed), then stops.
func (t *tailer) wait(b *testing.B, n int64) {
	deadline := time.Now().Add(time.Minute)
	for t.got.Load() < n && time.Now().Before(deadline) {
		tm := time.NewTimer(time.Millisecond)
		select {
		case err := <-t.done:
			b.Fatalf("tail ended after %d of %d entries: %v", t.got.Load(), n, err)
		case <-tm.C:
		}
	}
	t.cancel()
	<-t.done
	if got := t.got.Load(); got < n {
		b.Fatalf("tail received %d of %d entries within a minute", got, n)
	}
}

func benchTailLive(b *testing.B, c *cluster, s appendShape) {
	clients := c.newClients(b, s)
	f := c.follower(b)
	if err := f.WaitApplied(context.Background(), c.leader(b).LastDelivered()); err != nil {
		b.Fatal(err)
	}
	t := startTailer(b, c, f.Addr(), f.LastDelivered()+1)
	b.SetBytes(int64(s.size))
	b.ResetTimer()
	start := time.Now()
	r := runLoad(b, clients, s, int64(b.N))
	lastAck := time.Now()
	t.wait(b, r.entries)
	b.StopTimer()
	report(b, r, s)
	lastRecv := time.Unix(0, t.last.Load())
	b.ReportMetric(float64(r.entries)/lastRecv.Sub(start).Seconds(), "tail-entries/s")
	b.ReportMetric(float64(max(0, lastRecv.Sub(lastAck).Microseconds()))/1000, "tail-lag-ms")
}

func benchTailCatchup(b *testing.B, c *cluster, size int) {
	l := c.leader(b)
	from := l.LastDelivered() + 1
	payload := make([]byte, size)
	batch := make([][]byte, 256)
	for i := range batch {
		batch[i] = payload
	}
	for left := b.N; left > 0; left -= len(batch) {
		if _, err := l.AppendBatch(context.Background(), batch[:min(left, len(batch))]); err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
	f := c.follower(b)
	if err := f.WaitApplied(context.Background(), l.LastDelivered()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	t := startTailer(b, c, f.Addr(), from)
	t.wait(b, int64(b.N))
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tail-entries/s")
}
