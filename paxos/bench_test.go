package paxos

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// benchLog is a LogReader for the benchmark: the chosen log is not kept
// (the driver drops Committed), so nothing can be served from it. Setting
// it lets the nodes drop chosen entries from memory, as in production.
type benchLog struct{}

func (benchLog) Entries(uint64, int) ([]Entry, error) { return nil, ErrCompacted }
func (benchLog) FirstIndex() uint64                   { return 1 }

// benchCluster drives cores in one goroutine with in-memory delivery: no
// persistence cost, no encoding; what is measured is the protocol core.
type benchCluster struct {
	nodes     []*Node // index = id-1
	queue     []Message
	spare     []Message
	committed []uint64
}

func newBenchCluster(tb testing.TB, size int) *benchCluster {
	ids := make([]NodeID, size)
	for i := range ids {
		ids[i] = NodeID(i + 1)
	}
	c := &benchCluster{committed: make([]uint64, size)}
	for _, id := range ids {
		n, err := NewNode(Config{ID: id, Peers: ids, Log: benchLog{}}, HardState{})
		if err != nil {
			tb.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
	}
	c.nodes[0].Campaign()
	c.pump()
	if c.nodes[0].role != Leader {
		tb.Fatal("node 1 did not become leader")
	}
	return c
}

// pump runs every node's Ready loop and delivers messages until quiet.
func (c *benchCluster) pump() {
	for {
		for i, n := range c.nodes {
			for n.HasReady() {
				rd := n.Ready()
				c.queue = append(c.queue, rd.Eager...)
				c.queue = append(c.queue, rd.Messages...)
				c.committed[i] += uint64(len(rd.Committed))
				n.Advance(rd)
			}
		}
		if len(c.queue) == 0 {
			return
		}
		q := c.queue
		c.queue = c.spare[:0]
		for i := range q {
			if err := c.nodes[q[i].To-1].Step(q[i]); err != nil {
				panic(err)
			}
			q[i] = Message{}
		}
		c.spare = q[:0]
	}
}

// BenchmarkCore: 3 cores in one goroutine, 256-byte entries proposed in
// batches of 64; pipeline is how many batches the leader proposes before
// the cluster is pumped (1: one batch per round trip).
func BenchmarkCore(b *testing.B) {
	for _, pipeline := range []int{1, 8} {
		b.Run(fmt.Sprintf("nodes=3/size=256/batch=64/pipeline=%d", pipeline), func(b *testing.B) {
			benchCore(b, 3, 256, 64, pipeline)
		})
	}
}

// benchCore measures one op = one entry chosen on the leader.
func benchCore(b *testing.B, nodes, size, batch, pipeline int) {
	c := newBenchCluster(b, nodes)
	leader := c.nodes[0]
	payload := make([]byte, size*batch)
	data := make([][]byte, batch)
	for i := range data {
		data[i] = payload[i*size : (i+1)*size : (i+1)*size]
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	total := 0
	for total < b.N {
		for range pipeline {
			_, err := leader.Propose(data)
			if errors.Is(err, ErrBackpressure) {
				c.pump()
				_, err = leader.Propose(data)
			}
			if err != nil {
				b.Fatal(err)
			}
			total += batch
		}
		c.pump()
	}
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	if got := c.committed[0]; got != uint64(total) {
		b.Fatalf("leader committed %d entries, proposed %d", got, total)
	}
	for i, got := range c.committed[1:] {
		if got+uint64(batch*pipeline) < uint64(total) {
			b.Fatalf("follower %d committed %d of %d entries", i+2, got, total)
		}
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "entries/s")
	if cpu > 0 { // CPU of the whole process, GC included: stable on a busy machine
		b.ReportMetric(float64(total)/cpu.Seconds(), "entries/cpu-s")
	}
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(total), "allocs/entry")
}
