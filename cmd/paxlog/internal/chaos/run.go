package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"time"

	replog "github.com/paxlog/paxlog/log"
	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

// StorageFaultEnv is the variable a paxlog binary built with -tags
// paxlogfaults reads to arm storage faults (see storage/faultenv_on.go).
const StorageFaultEnv = "PAXLOG_STORAGE_FAULT"

// RunConfig describes one chaos run.
type RunConfig struct {
	Cluster  ClusterConfig
	Workload WorkloadConfig
	// Seed draws every choice of the run (printed; replay with it).
	Seed int64
	// Plan is one deck of faults; Duration > 0 repeats shuffled decks until
	// it has elapsed (the long form).
	Plan     Plan
	Duration time.Duration
	// Hold is the base time a fault stays in place. Default 500ms.
	Hold time.Duration
	// StorageFaults is armed on every replica start (planted bugs such as
	// "lie-fsync"); empty: none.
	StorageFaults string
	// Lin bounds the porcupine check.
	Lin LinConfig
	// Logf receives progress (t.Logf). Default: discard.
	Logf func(format string, args ...any)
}

// Report is the outcome of a run.
type Report struct {
	Seed   int64
	Rounds int
	// ElectionTimeout is the replicas' longest election timeout.
	ElectionTimeout time.Duration
	Elapsed         time.Duration
	Counts          Counts // faults injected (and their shapes)
	Missed          Counts // injections that did not take effect, by fault
	Recovery        []time.Duration
	Record          *Record
	NodeLogs        []string // each replica's log file (every incarnation)
	Log             []Violation
	Lin             LinResult
}

// Violations returns every checker violation.
func (r *Report) Violations() []Violation {
	return append(append([]Violation(nil), r.Log...), r.Lin.Violations...)
}

// RecoveryStats returns the p50, p99 and maximum recovery time.
func (r *Report) RecoveryStats() (p50, p99, maxd time.Duration) {
	if len(r.Recovery) == 0 {
		return 0, 0, 0
	}
	d := slices.Clone(r.Recovery)
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return q(0.50), q(0.99), d[len(d)-1]
}

// runner holds the state of one run.
type runner struct {
	cfg        RunConfig
	rng        *rand.Rand
	cl         *Cluster
	hist       *History
	wl         *Workload
	probe      *replog.Client
	lane       int
	rep        *Report
	seq        int // probe value counter
	diskErrors int // disk errors injected so far (picks the next kind)
	done       bool
}

// Run starts a cluster under cfg.Cluster.Dir, drives the workload through
// the plan's faults and checks the history. The error reports a harness
// failure (a replica that cannot start, a cluster that never recovers);
// checker findings are in Report.Violations.
func Run(ctx context.Context, cfg RunConfig) (*Report, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Hold == 0 {
		cfg.Hold = 500 * time.Millisecond
	}
	cfg.Cluster.Logf = cfg.Logf
	r := &runner{cfg: cfg, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x636861)), hist: NewHistory(),
		rep: &Report{Seed: cfg.Seed, Counts: Counts{}, Missed: Counts{}}}
	cfg.Logf("chaos: seed %d (replay: PAXLOG_CHAOS_SEED=%d)", cfg.Seed, cfg.Seed)
	start := time.Now()
	defer r.close() // also on a panic: no child process outlives Run
	err := r.run(ctx)
	r.rep.Elapsed = time.Since(start)
	r.close()
	if err != nil {
		return r.rep, err
	}
	r.check()
	return r.rep, nil
}

func (r *runner) run(ctx context.Context) error {
	ccfg := r.cfg.Cluster
	ccfg.Logf = r.cfg.Logf
	ccfg.StorageFaults = r.cfg.StorageFaults
	cl, err := StartCluster(ccfg)
	if err != nil {
		return err
	}
	r.cl = cl
	r.rep.ElectionTimeout = cl.cfg.ElectionTimeout()
	for id := 1; id <= cl.N(); id++ {
		r.rep.NodeLogs = append(r.rep.NodeLogs, cl.Node(id).Log)
	}
	r.probe, err = replog.NewClient(replog.ClientConfig{ClusterID: cl.cfg.ClusterID, Addrs: cl.Addrs(),
		AttemptTimeout: 150 * time.Millisecond})
	if err != nil {
		return err
	}
	r.wl, err = StartWorkload(cl, r.hist, r.cfg.Workload, r.cfg.Seed)
	if err != nil {
		return err
	}
	r.lane = r.wl.lane()
	if err := r.healthy(ctx); err != nil {
		return fmt.Errorf("chaos: cluster never became available: %w", err)
	}
	if err := r.fence(ctx); err != nil {
		return err
	}
	deadline := time.Now().Add(r.cfg.Duration)
	for {
		for _, f := range r.cfg.Plan.Deck(r.rng) {
			if err := r.round(ctx, f); err != nil {
				return fmt.Errorf("chaos: round %d (%s): %w", r.rep.Rounds, f, err)
			}
		}
		if r.cfg.Duration <= 0 || time.Now().After(deadline) {
			break
		}
	}
	return r.finish(ctx)
}

// round runs the workload through one fault, heals, and fences.
func (r *runner) round(ctx context.Context, f Fault) error {
	r.rep.Rounds++
	r.wl.Resume()
	if err := r.hold(ctx, r.cfg.Hold/2); err != nil {
		return err
	}
	desc, err := r.inject(ctx, f)
	if err != nil {
		return err
	}
	r.cfg.Logf("chaos: round %d: %s %s", r.rep.Rounds, f, desc)
	if err := r.heal(ctx); err != nil {
		return err
	}
	if err := r.healthy(ctx); err != nil {
		return fmt.Errorf("not available after healing: %w", err)
	}
	return r.fence(ctx)
}

// hold lets the fault (or the load) act for d.
func (r *runner) hold(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// holdTime is Hold to 3*Hold, drawn from the seed.
func (r *runner) holdTime() time.Duration {
	return r.cfg.Hold + time.Duration(r.rng.Int64N(int64(2*r.cfg.Hold)))
}

// heal resumes paused replicas, heals every link and restarts every
// replica that is down.
func (r *runner) heal(ctx context.Context) error {
	r.cl.ResumeAll()
	r.cl.HealAll()
	for id := 1; id <= r.cl.N(); id++ {
		if r.cl.Running(id) {
			continue
		}
		r.cl.Reap(id)
		if err := r.cl.Start(id, ""); err != nil {
			return err
		}
	}
	for id := 1; id <= r.cl.N(); id++ {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := r.cl.WaitServing(wctx, id)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// Log lines of a replica started on an empty data directory (paxos
// Config.Rebuilding): it votes only after the second.
const (
	rebuildingLine = "rebuilding: not voting"
	rebuiltLine    = "voting from now on"
)

// healthy waits until every rebuilding replica votes again and an append
// succeeds. (A rebuilding replica does not count in a quorum: the next
// fault would otherwise find a cluster that tolerates no failure.)
func (r *runner) healthy(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for id := 1; id <= r.cl.N(); id++ {
		for r.cl.Since(id, rebuildingLine) && !r.cl.Since(id, rebuiltLine) {
			if _, err := r.probeAppend(hctx, time.Second); err != nil && hctx.Err() != nil {
				return fmt.Errorf("replica %d still rebuilding: %w", id, err)
			}
		}
	}
	for {
		_, err := r.probeAppend(hctx, time.Second)
		if err == nil {
			return nil
		}
		if hctx.Err() != nil {
			return err
		}
	}
}

// probeAppend appends one probe value with the given deadline.
func (r *runner) probeAppend(ctx context.Context, d time.Duration) (uint64, error) {
	r.seq++
	actx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return r.wl.Append(actx, r.probe, r.lane, fmt.Sprintf("p-%d", r.seq))
}

// fence quiesces the workload and ends the round with a CheckTail.
func (r *runner) fence(ctx context.Context) error {
	r.wl.Quiesce()
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(fctx, 2*time.Second)
		t, err := r.wl.CheckTail(cctx, r.probe, r.lane)
		ccancel()
		if err == nil {
			r.hist.AddFence(t, r.hist.Now())
			return nil
		}
		if fctx.Err() != nil {
			return fmt.Errorf("chaos: fence: %w", err)
		}
	}
}

// leader returns the replica that reports itself leader at the highest
// ballot (0: none), asking every running replica at once. Each question
// uses a fresh client: Client.Status(ctx, addr) keeps a broken cached
// connection after the replica restarts (see chaos-findings.md).
func (r *runner) leader(ctx context.Context) int {
	type answer struct {
		id int
		st *paxnet.StatusInfo
	}
	ch := make(chan answer, r.cl.N())
	asked := 0
	for id := 1; id <= r.cl.N(); id++ {
		if !r.cl.Running(id) {
			continue
		}
		asked++
		go func() {
			ch <- answer{id, r.cl.Status(ctx, id, time.Second)}
		}()
	}
	best, bestB := 0, paxos.Ballot{}
	for range asked {
		a := <-ch
		if a.st != nil && a.st.Role == paxos.Leader.String() && (best == 0 || bestB.Less(a.st.Ballot)) {
			best, bestB = a.id, a.st.Ballot
		}
	}
	return best
}

// finish heals everything, takes the final fence, waits for the
// consumers and reads every replica's log.
func (r *runner) finish(ctx context.Context) error {
	if err := r.heal(ctx); err != nil {
		return err
	}
	r.wl.Resume()
	if err := r.healthy(ctx); err != nil {
		return err
	}
	if err := r.fence(ctx); err != nil {
		return err
	}
	_, fences := r.hist.Snapshot()
	tail := fences[len(fences)-1].Tail
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := r.wl.WaitConsumers(wctx, tail); err != nil {
		r.rep.Missed["consumer-catch-up"]++
		r.cfg.Logf("chaos: %v", err)
	}
	replicas := map[int][]Entry{}
	for id := 1; id <= r.cl.N(); id++ {
		es, err := readReplica(wctx, r.cl, id, tail)
		if err != nil {
			r.cfg.Logf("chaos: replica %d: %v", id, err)
		}
		replicas[id] = es
	}
	r.wl.Stop()
	if n := r.wl.LaggingReads(); n > 0 {
		r.rep.Counts["read/unchecked-lagging-replica"] = int(n)
	}
	ops, fences := r.hist.Snapshot()
	r.rep.Record = &Record{Seed: r.cfg.Seed, Ops: ops, Fences: fences, Replicas: replicas, Consumers: r.wl.Observed()}
	return nil
}

// readReplica tails replica id alone from the start up to index tail.
func readReplica(ctx context.Context, cl *Cluster, id int, tail uint64) ([]Entry, error) {
	var out []Entry
	if tail == 0 {
		return out, nil
	}
	c, err := replog.NewClient(replog.ClientConfig{ClusterID: cl.cfg.ClusterID, Addrs: []string{cl.Node(id).Listen}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ts, err := c.Tail(tctx, 0)
	if err != nil {
		return nil, err
	}
	defer ts.Close()
	for {
		idx, data, err := ts.Next()
		if err != nil {
			return out, fmt.Errorf("read up to %d: stopped after %d entries: %w", tail, len(out), err)
		}
		if idx > tail {
			return out, nil
		}
		out = append(out, Entry{Index: idx, Value: string(data)})
		if idx == tail {
			return out, nil
		}
	}
}

// check runs both checkers and saves the record when one fails.
func (r *runner) check() {
	rec := r.rep.Record
	if rec == nil {
		return
	}
	r.rep.Log = CheckLog(rec)
	lc := r.cfg.Lin
	if lc.OutDir == "" {
		lc.OutDir = r.cfg.Cluster.Dir
	}
	r.rep.Lin = CheckLinearizable(rec, lc)
	if len(r.rep.Violations()) == 0 {
		return
	}
	path := filepath.Join(lc.OutDir, fmt.Sprintf("history-seed-%d.json", r.cfg.Seed))
	if err := rec.Save(path); err != nil {
		r.cfg.Logf("chaos: saving the history failed: %v", err)
		return
	}
	r.cfg.Logf("chaos: history saved to %s", path)
}

func (r *runner) close() {
	if r.done {
		return
	}
	r.done = true
	if r.wl != nil {
		r.wl.Stop()
	}
	if r.probe != nil {
		r.probe.Close()
	}
	if r.cl != nil {
		if err := r.cl.Close(); err != nil && !errors.Is(err, context.Canceled) {
			r.cfg.Logf("chaos: closing the cluster: %v", err)
		}
	}
}
