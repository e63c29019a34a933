package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	replog "github.com/paxlog/paxlog/log"
)

// WorkloadConfig sizes the client side of a run.
type WorkloadConfig struct {
	Appenders  int           // concurrent appending clients; default 4
	Readers    int           // linearizable-read workers (CheckTail then Read at one replica); default 1
	Tailers    int           // CheckTail workers; default 1
	Consumers  int           // tails, spread over the replicas; default 3
	OpTimeout  time.Duration // deadline of one call, retries included; default 4s
	AttemptTTL time.Duration // Client.AttemptTimeout; default 400ms
	// Pace is the least time between two calls of one worker (load shape,
	// not a wait for a condition). Default 8ms.
	Pace time.Duration
	// RoundBudget bounds the calls started in one round, so a round always
	// fits a porcupine window (10,000 ops). Default 8,000.
	RoundBudget int
}

func (c WorkloadConfig) withDefaults() WorkloadConfig {
	if c.Appenders == 0 {
		c.Appenders = 4
	}
	if c.Readers == 0 {
		c.Readers = 1
	}
	if c.Tailers == 0 {
		c.Tailers = 1
	}
	if c.Consumers == 0 {
		c.Consumers = 3
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 4 * time.Second
	}
	if c.AttemptTTL == 0 {
		c.AttemptTTL = 400 * time.Millisecond
	}
	if c.Pace == 0 {
		c.Pace = 8 * time.Millisecond
	}
	if c.RoundBudget == 0 {
		c.RoundBudget = 8000
	}
	return c
}

// gate lets workers run operations while open and the round's budget
// lasts; quiesce closes it and waits until no operation is in flight (a
// quiescent point for a fence); resume reopens it with a fresh budget.
type gate struct {
	mu       sync.Mutex
	cond     *sync.Cond
	open     bool
	done     bool
	inflight int
	budget   int // calls the current round may still start
	perRound int
}

func newGate(perRound int) *gate {
	g := &gate{perRound: perRound}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for (!g.open || g.budget <= 0) && !g.done {
		g.cond.Wait()
	}
	if g.done {
		return false
	}
	g.budget--
	g.inflight++
	return true
}

func (g *gate) leave() {
	g.mu.Lock()
	g.inflight--
	g.cond.Broadcast()
	g.mu.Unlock()
}

// quiesce closes the gate and waits for in-flight operations.
func (g *gate) quiesce() {
	g.mu.Lock()
	g.open = false
	for g.inflight > 0 {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

func (g *gate) resume() {
	g.mu.Lock()
	g.open, g.budget = true, g.perRound
	g.cond.Broadcast()
	g.mu.Unlock()
}

func (g *gate) stop() {
	g.mu.Lock()
	g.done = true
	g.cond.Broadcast()
	g.mu.Unlock()
}

// Workload runs the clients of a run and records their operations.
type Workload struct {
	cfg     WorkloadConfig
	cluster *Cluster
	hist    *History
	gate    *gate
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	lanes   atomic.Int32
	lastAck atomic.Uint64 // an index acknowledged recently (read targets)
	lagging atomic.Int64  // reads answered by a replica behind their CheckTail

	mu        sync.Mutex
	clients   []*replog.Client
	consumers []*consumer
}

// consumer is a tail at one replica.
type consumer struct {
	name    string
	replica int
	mu      sync.Mutex
	entries []Entry
	err     error
}

func (c *consumer) last() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == 0 {
		return 0
	}
	return c.entries[len(c.entries)-1].Index
}

// StartWorkload starts every worker with its gate closed; Resume opens it.
func StartWorkload(cl *Cluster, h *History, cfg WorkloadConfig, seed int64) (*Workload, error) {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	w := &Workload{cfg: cfg, cluster: cl, hist: h, gate: newGate(cfg.RoundBudget), ctx: ctx, cancel: cancel}
	for i := range cfg.Appenders {
		c, err := w.client(cl.Addrs())
		if err != nil {
			w.Stop()
			return nil, err
		}
		lane := w.lane()
		w.wg.Go(func() { w.appendLoop(c, lane, fmt.Sprintf("a%d", i)) })
	}
	for range cfg.Tailers {
		c, err := w.client(cl.Addrs())
		if err != nil {
			w.Stop()
			return nil, err
		}
		lane := w.lane()
		w.wg.Go(func() { w.checkTailLoop(c, lane) })
	}
	for i := range cfg.Readers {
		var per []*replog.Client
		for _, addr := range cl.Addrs() {
			c, err := w.client([]string{addr})
			if err != nil {
				w.Stop()
				return nil, err
			}
			per = append(per, c)
		}
		lane := w.lane()
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)+100))
		w.wg.Go(func() { w.readLoop(per, lane, rng) })
	}
	for i := range cfg.Consumers {
		replica := i%cl.N() + 1
		c, err := w.client([]string{cl.Node(replica).Listen})
		if err != nil {
			w.Stop()
			return nil, err
		}
		cs := &consumer{name: fmt.Sprintf("c%d", i), replica: replica}
		w.consumers = append(w.consumers, cs)
		w.wg.Go(func() { w.consume(c, cs) })
	}
	return w, nil
}

func (w *Workload) lane() int { return int(w.lanes.Add(1)) - 1 }

func (w *Workload) client(addrs []string) (*replog.Client, error) {
	c, err := replog.NewClient(replog.ClientConfig{ClusterID: w.cluster.cfg.ClusterID, Addrs: addrs,
		AttemptTimeout: w.cfg.AttemptTTL})
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.clients = append(w.clients, c)
	w.mu.Unlock()
	return c, nil
}

// Resume lets the workers run; Quiesce stops them and waits until no call
// is in flight.
func (w *Workload) Resume()  { w.gate.resume() }
func (w *Workload) Quiesce() { w.gate.quiesce() }

// Append appends value through c and records it on lane (used by the
// workers and by the recovery probe).
func (w *Workload) Append(ctx context.Context, c *replog.Client, lane int, value string) (uint64, error) {
	op := Op{Kind: OpAppend, Client: lane, Value: value, Round: w.hist.Round(), Call: w.hist.Now()}
	idx, err := c.Append(ctx, []byte(value))
	op.Return = w.hist.Now()
	if err != nil {
		op.Failed, op.Err = true, err.Error()
	} else {
		op.Index = idx
		w.lastAck.Store(idx)
	}
	w.hist.Add(op)
	return idx, err
}

func (w *Workload) appendLoop(c *replog.Client, lane int, name string) {
	for n := 0; w.pace() && w.gate.enter(); n++ {
		ctx, cancel := context.WithTimeout(w.ctx, w.cfg.OpTimeout)
		w.Append(ctx, c, lane, fmt.Sprintf("%s-%d", name, n))
		cancel()
		w.gate.leave()
	}
}

// pace spaces a worker's calls by Pace; false once the workload stops.
func (w *Workload) pace() bool {
	t := time.NewTimer(w.cfg.Pace)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// CheckTail runs one CheckTail through c and records it.
func (w *Workload) CheckTail(ctx context.Context, c *replog.Client, lane int) (uint64, error) {
	op := Op{Kind: OpCheckTail, Client: lane, Round: w.hist.Round(), Call: w.hist.Now()}
	t, err := c.CheckTail(ctx)
	op.Return = w.hist.Now()
	if err != nil {
		op.Failed, op.Err = true, err.Error()
	} else {
		op.Index = t
	}
	w.hist.Add(op)
	return t, err
}

func (w *Workload) checkTailLoop(c *replog.Client, lane int) {
	for w.pace() && w.gate.enter() {
		ctx, cancel := context.WithTimeout(w.ctx, w.cfg.OpTimeout)
		w.CheckTail(ctx, c, lane)
		cancel()
		w.gate.leave()
	}
}

// readLoop: CheckTail then Read at one replica, recorded as one read op
// spanning both calls (a linearizable read; Read alone is not).
func (w *Workload) readLoop(per []*replog.Client, lane int, rng *rand.Rand) {
	for w.pace() && w.gate.enter() {
		c := per[rng.IntN(len(per))]
		ctx, cancel := context.WithTimeout(w.ctx, w.cfg.OpTimeout)
		w.read(ctx, c, lane, rng)
		cancel()
		w.gate.leave()
	}
}

func (w *Workload) read(ctx context.Context, c *replog.Client, lane int, rng *rand.Rand) {
	op := Op{Kind: OpRead, Client: lane, Round: w.hist.Round(), Call: w.hist.Now()}
	t, err := c.CheckTail(ctx)
	if err == nil {
		op.Tail = t
		switch rng.IntN(4) {
		case 0:
			op.Index = t
		case 1:
			op.Index = t + 1
		default:
			op.Index = max(w.lastAck.Load(), 1)
		}
		var data []byte
		data, err = c.Read(ctx, op.Index)
		switch {
		case err == nil:
			op.Found, op.Value = true, string(data)
		case errors.Is(err, replog.ErrNotFound) && op.Index <= t && strings.Contains(err.Error(), "(applied "):
			// The replica that answered Read had not applied t: the Client
			// retried Read on a new incarnation of the replica (restarted,
			// wiped or having lost its unsynced chosen log) after the one
			// that answered CheckTail died. Read does not wait and reports
			// "not applied yet" as ErrNotFound, so this answer says nothing
			// about the log: the op is left unchecked (chaos-findings F4).
			err = fmt.Errorf("read at a replica behind the checked tail %d: %w", t, err)
			w.lagging.Add(1)
		case errors.Is(err, replog.ErrNotFound):
			err = nil
		}
	}
	op.Return = w.hist.Now()
	if err != nil {
		op.Failed, op.Err = true, err.Error()
	}
	w.hist.Add(op)
}

// consume tails one replica from the start until the workload stops.
func (w *Workload) consume(c *replog.Client, cs *consumer) {
	ts, err := c.Tail(w.ctx, 0)
	if err != nil {
		cs.mu.Lock()
		cs.err = err
		cs.mu.Unlock()
		return
	}
	defer ts.Close()
	for {
		idx, data, err := ts.Next()
		cs.mu.Lock()
		if err != nil {
			if w.ctx.Err() == nil {
				cs.err = err
			}
			cs.mu.Unlock()
			return
		}
		cs.entries = append(cs.entries, Entry{Index: idx, Value: string(data)})
		cs.mu.Unlock()
	}
}

// WaitConsumers waits until every consumer has seen index tail.
func (w *Workload) WaitConsumers(ctx context.Context, tail uint64) error {
	for _, cs := range w.consumers {
		for cs.last() < tail {
			cs.mu.Lock()
			err := cs.err
			cs.mu.Unlock()
			if err != nil {
				return fmt.Errorf("chaos: consumer %s at replica %d ended: %w", cs.name, cs.replica, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("chaos: consumer %s at replica %d stuck at %d of %d: %w", cs.name, cs.replica, cs.last(), tail, ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

// Observed returns what each consumer saw.
func (w *Workload) Observed() []Observed {
	var out []Observed
	for _, cs := range w.consumers {
		cs.mu.Lock()
		out = append(out, Observed{Name: cs.name, Replica: cs.replica, Entries: append([]Entry(nil), cs.entries...)})
		cs.mu.Unlock()
	}
	return out
}

// Stop ends every worker and consumer and closes every client.
func (w *Workload) Stop() {
	w.gate.stop()
	w.cancel()
	w.mu.Lock()
	for _, c := range w.clients {
		c.Close()
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// LaggingReads counts reads left unchecked because Read was answered by a
// replica incarnation that had not applied the tail CheckTail returned.
func (w *Workload) LaggingReads() int64 { return w.lagging.Load() }
