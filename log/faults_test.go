package log

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

// crash stops node id the way a crash does: no final sync of the chosen
// log, every in-memory state (dedup table, waiters, queues) dropped. With
// restart it comes back from its data directory alone.
func (c *testCluster) crash(id paxos.NodeID, restart bool) {
	c.t.Helper()
	n := c.nodes[id]
	n.crash.Store(true)
	n.Close()
	delete(c.nodes, id)
	if restart {
		c.start(id)
	}
}

// appender appends "<name>-<i>" for i = 0, 1, ... through its own Client
// until stop is closed, recording acknowledgements.
type appender struct {
	name string
	cl   *Client
	mu   sync.Mutex
	acks []ack
	sent int // logical appends started
	err  error
}

func (a *appender) run(ctx context.Context, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		data := fmt.Sprintf("%s-%d", a.name, i)
		actx, cancel := context.WithTimeout(ctx, 20*time.Second)
		idx, err := a.cl.Append(actx, []byte(data))
		cancel()
		a.mu.Lock()
		a.sent = i + 1
		if err != nil {
			a.err = fmt.Errorf("%s append %d: %w", a.name, i, err)
			a.mu.Unlock()
			return
		}
		a.acks = append(a.acks, ack{data, idx})
		a.mu.Unlock()
	}
}

func (a *appender) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acks)
}

// startAppenders runs n appenders in the background; wait stops them and
// returns every acknowledgement.
func startAppenders(ctx context.Context, t *testing.T, n int, newClient func() *Client) (progress func() int, wait func() []ack) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	apps := make([]*appender, n)
	for i := range apps {
		apps[i] = &appender{name: fmt.Sprintf("w%d", i), cl: newClient()}
		wg.Go(func() { apps[i].run(ctx, stop) })
	}
	progress = func() int {
		total := 0
		for _, a := range apps {
			total += a.count()
		}
		return total
	}
	wait = func() []ack {
		close(stop)
		wg.Wait()
		var all []ack
		for _, a := range apps {
			if a.err != nil {
				t.Fatal(a.err)
			}
			all = append(all, a.acks...)
		}
		return all
	}
	return progress, wait
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// consumer tails through a Client (which fails over between replicas)
// and records what it is handed.
type consumer struct {
	mu   sync.Mutex
	got  []entryRec
	done chan struct{}
	err  error
}

func startConsumer(ctx context.Context, cl *Client) *consumer {
	c := &consumer{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		s, err := cl.Tail(ctx, 0)
		if err != nil {
			c.err = err
			return
		}
		defer s.Close()
		for idx, data := range s.All() {
			c.mu.Lock()
			c.got = append(c.got, entryRec{idx, string(data)})
			c.mu.Unlock()
		}
		c.err = s.Err()
	}()
	return c
}

// upTo waits until the consumer reached index last and returns its prefix.
func (c *consumer) upTo(ctx context.Context, t testing.TB, last uint64) []entryRec {
	t.Helper()
	waitFor(ctx, t, fmt.Sprintf("consumer at %d", last), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.got) > 0 && c.got[len(c.got)-1].index >= last
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]entryRec(nil), c.got...)
}

func maxIndex(acks []ack) uint64 {
	var m uint64
	for _, a := range acks {
		m = max(m, a.index)
	}
	return m
}

// sameSequence fails unless got is a prefix-equal copy of ref up to last.
func sameSequence(t testing.TB, what string, got, ref []entryRec, last uint64) {
	t.Helper()
	for i, e := range ref {
		if e.index > last {
			break
		}
		if i >= len(got) || got[i] != e {
			var g entryRec
			if i < len(got) {
				g = got[i]
			}
			t.Fatalf("%s entry %d: %v, replicas deliver %v (gap or duplicate)", what, i, g, e)
		}
	}
}

// TestLeaderKilled: during a stream of appends the leader is stopped
// without flushing its chosen log (and stays down), then the next leader
// crashes and restarts from its data directory; appends continue, nothing
// acknowledged is lost, and a tail consumer sees no duplicate and no gap.
func TestLeaderKilled(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3, tcp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cons := startConsumer(ctx, c.client(t))
	progress, wait := startAppenders(ctx, t, 4, func() *Client { return c.client(t) })

	waitFor(ctx, t, "300 acks", func() bool { return progress() >= 300 })
	first := c.leader(ctx)
	c.crash(first.ID(), false) // Close without flush; it stays down
	n := progress()
	waitFor(ctx, t, "progress after the first kill", func() bool { return progress() >= n+300 })

	second := c.leader(ctx)
	c.start(first.ID()) // the first comes back from its directory
	c.crash(second.ID(), true)
	n = progress()
	waitFor(ctx, t, "progress after the crash", func() bool { return progress() >= n+300 })
	acks := wait()

	ref := checkReplicas(ctx, t, c, acks)
	got := cons.upTo(ctx, t, maxIndex(acks))
	sameSequence(t, "consumer", got, ref, maxIndex(acks))
	cancel()
	<-cons.done
	t.Logf("%d acks across two leader failures; consumer saw %d entries", len(acks), len(got))
}

// dropNetwork wraps a Network: each Call is executed by the replica, but
// with probability p its response is lost and the caller gets an error.
type dropNetwork struct {
	Network
	mu      sync.Mutex
	rnd     *rand.Rand
	p       float64
	dropped atomic.Int64
}

func (d *dropNetwork) Dial(ctx context.Context, addr string, cfg paxnet.ClientConfig) (Conn, error) {
	c, err := d.Network.Dial(ctx, addr, cfg)
	if err != nil {
		return nil, err
	}
	return &dropConn{Conn: c, d: d}, nil
}

type dropConn struct {
	Conn
	d *dropNetwork
}

var errResponseDropped = errors.New("test: response dropped")

func (c *dropConn) Call(ctx context.Context, req *paxnet.Request) (*paxnet.Response, error) {
	resp, err := c.Conn.Call(ctx, req)
	c.d.mu.Lock()
	drop := c.d.rnd.Float64() < c.d.p
	c.d.mu.Unlock()
	if err == nil && drop && req.Op == paxnet.OpAppend {
		c.d.dropped.Add(1)
		return nil, errResponseDropped
	}
	return resp, err
}

// TestExactlyOnceUnderFaults: responses are dropped at random (the append
// happened, the client does not know) and the leader is crashed and
// restarted twice; clients retry with the same identity; every logical
// append is delivered exactly once, at the index its client was given.
func TestExactlyOnceUnderFaults(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3, tcp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dn := &dropNetwork{Network: tcpNetwork{}, rnd: rand.New(rand.NewPCG(1, 2)), p: 0.3}
	newClient := func() *Client {
		cl, err := NewClient(ClientConfig{ClusterID: "test", Addrs: c.addrs(), Network: dn,
			AttemptTimeout: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}
	progress, wait := startAppenders(ctx, t, 8, newClient)
	for round := range 2 {
		n := progress()
		waitFor(ctx, t, "progress", func() bool { return progress() >= n+200 })
		c.crash(c.leader(ctx).ID(), true)
		t.Logf("round %d: leader crashed and restarted at %d acks", round, progress())
	}
	n := progress()
	waitFor(ctx, t, "progress after the faults", func() bool { return progress() >= n+200 })
	acks := wait()
	if dn.dropped.Load() == 0 {
		t.Fatal("no response was dropped: the test tested nothing")
	}
	ref := checkReplicas(ctx, t, c, acks)
	// Every logical append that was started is delivered at most once, and
	// every acknowledged one exactly once (checkReplicas).
	if len(ref) != len(acks) {
		t.Fatalf("%d delivered, %d acknowledged (every logical append was acknowledged)", len(ref), len(acks))
	}
	var filtered uint64
	for _, n := range c.nodes {
		filtered = max(filtered, n.Metrics().Filtered)
	}
	t.Logf("%d acks, %d responses dropped, %d delivered, %d duplicates chosen and filtered (max per replica since its start)",
		len(acks), dn.dropped.Load(), len(ref), filtered)
}
