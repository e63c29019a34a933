package log

import (
	"fmt"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

// owner is the state of the goroutine that owns the paxos core. Nothing in
// it is touched by any other goroutine.
type owner struct {
	n      *Node
	core   core
	ap     *applier
	leader bool

	awaiting  bool             // no usable checkpoint: store chosen entries, apply nothing (restore.go)
	fetchAt   uint64           // nonzero: start fetching a checkpoint for this first slot
	pendingCP *checkpoint      // fetched, waiting for the chosen log to reach it
	cpCh      chan *checkpoint // fetched checkpoints

	backlog  []*proposal        // taken from the queue, not yet proposed
	bySlot   map[uint64]waitRef // proposed entries by slot
	byKey    map[key][]waitRef  // waiters by (client, seq); client 0 is never keyed
	retry    bool               // the last Propose met back-pressure
	lingered bool               // the last propose waited for the job in flight

	pipe    *persister // writes jobs of Readys (persister.go)
	flying  *job       // with the persister, not yet finished
	pending *job       // Readys taken since, waiting for flying
}

// waitRef is one waiter: entry i of proposal p, proposed at slot (0 when it
// only waits for another copy of the same key).
type waitRef struct {
	p    *proposal
	i    int
	k    key
	slot uint64
}

func newOwner(n *Node, c core, ap *applier) *owner {
	return &owner{n: n, core: c, ap: ap, cpCh: make(chan *checkpoint, 1),
		bySlot: make(map[uint64]waitRef), byKey: make(map[key][]waitRef)}
}

// maxStepBatch bounds how many inbound messages are stepped before the node
// handles a Ready, so one busy peer cannot starve persistence.
const maxStepBatch = 256

// maxReadyBytes bounds the entry bytes stepped (follower) or proposed
// (leader) before a Ready is handled: it bounds one Persist batch, hence
// the storage's write buffers, and the latency of one fsync.
const maxReadyBytes = 2 << 20

// slowPersist is the Persist duration above which a warning is logged.
const slowPersist = 100 * time.Millisecond

func (o *owner) run() {
	defer close(o.n.done)
	o.pipe = newPersister(o.n)
	ticker := time.NewTicker(o.n.cfg.TickInterval)
	defer ticker.Stop()
	msgs := o.n.trans.Messages()
	if o.fetchAt != 0 {
		o.awaitCheckpoint(o.fetchAt)
		o.fetchAt = 0
	}
	for {
		select {
		case <-o.n.stop:
			o.shutdown(nil)
			return
		case <-ticker.C:
			o.core.Tick()
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
				continue
			}
			o.stepMore(msgs, o.step(m))
		case <-o.n.queue.signal:
			// Acknowledgements that arrived with the appends are stepped
			// first, so their commits are not held behind the next fsync.
			o.stepMore(msgs, 0)
		case j := <-o.pipe.done:
			if err := o.finish(j); err != nil {
				o.shutdown(err)
				return
			}
		case f := <-o.n.ctrl:
			f(o)
		case cp := <-o.cpCh:
			if !o.awaiting {
				continue // a second fetch answered after the first
			}
			if err := o.tryRestore(cp); err != nil {
				o.shutdown(err)
				return
			}
		}
		if err := o.work(); err != nil {
			o.shutdown(err)
			return
		}
	}
}

// stepMore steps the messages already waiting in msgs (nil: none), up to
// maxStepBatch messages or maxReadyBytes of entries counting size.
func (o *owner) stepMore(msgs <-chan paxos.Message, size int) {
	for i := 1; i < maxStepBatch && size < maxReadyBytes && len(msgs) > 0; i++ {
		size += o.step(<-msgs)
	}
}

// step hands m to the core and returns its entry bytes.
func (o *owner) step(m paxos.Message) int {
	if err := o.core.Step(m); err != nil {
		o.n.log.Debug("step", "type", m.Type, "from", m.From, "error", err)
	}
	size := 0
	for i := range m.Entries {
		size += m.Entries[i].Size()
	}
	return size
}

// work takes what the stepped messages produced (a leader commits the
// entries just acknowledged and answers their clients), proposes what is
// queued, takes that, and hands the pending job to the persister if it is
// idle (persister.go). Appends that arrive while a job is being written
// are proposed by a later iteration, many per Propose (group commit),
// while earlier batches are still being accepted. Between iterations the
// loop steps inbound messages, so acknowledgements are never starved by a
// stream of appends.
func (o *owner) work() error {
	if err := o.takeAll(); err != nil {
		return err
	}
	o.propose()
	if err := o.takeAll(); err != nil {
		return err
	}
	if len(o.backlog) > 0 && !o.retry && !o.lingered {
		o.n.queue.poke() // more than one Ready's worth was queued
	}
	return o.submit()
}

// takeAll takes every Ready the core has.
func (o *owner) takeAll() error {
	for o.core.HasReady() {
		if err := o.take(o.core.Ready()); err != nil {
			return err
		}
	}
	return nil
}

// markRebuilt ends a rebuild (paxos Ready.Rebuilt): the chosen log the
// core re-learned from peers is synced first, because no journal record
// backs it, then the store's rebuilding flag is cleared.
func (o *owner) markRebuilt() error {
	if err := o.n.store.Sync(); err != nil {
		return fmt.Errorf("replog: node %d sync before leaving rebuild: %w", o.n.cfg.ID, err)
	}
	if err := o.n.store.MarkRebuilt(); err != nil {
		return fmt.Errorf("replog: node %d mark rebuilt: %w", o.n.cfg.ID, err)
	}
	o.n.log.Info("rebuilt: voting from now on", "chosen", o.n.store.LastIndex())
	return nil
}

// setSoft publishes the role and fails waiters when leadership is lost.
func (o *owner) setSoft(s paxos.SoftState) {
	if cur := o.n.soft.Load(); *cur != s {
		if cur.Leader != s.Leader {
			o.n.counters.leaderChanges.Add(1)
		}
		o.n.soft.Store(&s)
		o.n.log.Debug("soft state", "role", s.Role, "leader", s.Leader, "ballot", s.Ballot)
	}
	wasLeader := o.leader
	o.leader = s.Role == paxos.Leader
	if wasLeader && !o.leader {
		o.failProposed(o.n.notLeader())
	}
}

// failProposed fails every proposed entry and the backlog with err.
func (o *owner) failProposed(err error) {
	for _, refs := range o.byKey {
		for _, r := range refs {
			r.p.complete(r.i, result{err: err})
		}
	}
	for _, r := range o.bySlot {
		r.p.complete(r.i, result{err: err})
	}
	o.n.inflight.Add(-int64(len(o.bySlot)))
	clear(o.bySlot)
	clear(o.byKey)
	o.failBacklog(err)
}

func (o *owner) failBacklog(err error) {
	held := 0
	for _, p := range o.backlog {
		p.failAll(err)
		held += len(p.data)
	}
	o.backlog = nil
	o.n.queue.release(held)
}

// reset restarts the chosen log at first (every peer trimmed past us).
func (o *owner) reset(first uint64) error {
	if err := o.n.store.ResetChosen(first); err != nil {
		return fmt.Errorf("replog: node %d reset chosen log at %d: %w", o.n.cfg.ID, first, err)
	}
	o.n.log.Warn("chosen log reset to the peers' trim point", "slot", first)
	ap := newApplier(o.n.filtered)
	ap.applied = first - 1
	ap.filtered.reset(nil)
	o.ap = ap
	o.n.publish(ap, first)
	if slot, data := o.n.store.Checkpoint(); data != nil && slot+1 >= first {
		return o.restore(&checkpoint{slot: slot, data: data}, true)
	}
	o.awaitCheckpoint(first)
	return nil
}

// shutdown fails everything pending, syncs and closes (fatal: skip sync).
func (o *owner) shutdown(fatal error) {
	cause := fmt.Errorf("replog: node %d: %w", o.n.cfg.ID, ErrClosed)
	if fatal != nil {
		o.n.log.Error("stopping after a fatal error", "error", fatal)
		cause = fmt.Errorf("%w: %w", ErrStopped, fatal)
		o.n.fatal.Store(&cause)
	}
	for _, p := range o.n.queue.close(cause) {
		p.failAll(cause)
		o.n.queue.release(len(p.data))
	}
	o.pipe.stop() // the job in flight is written (or fails) before anything closes
	o.failProposed(cause)
	o.n.trans.Close()
	if fatal == nil && !o.n.crash.Load() {
		if err := o.n.store.Sync(); err != nil {
			o.n.log.Error("sync at close", "error", err)
			o.n.fatal.Store(&err)
		}
	}
	if err := o.n.store.Close(); err != nil && fatal == nil {
		o.n.log.Error("close store", "error", err)
	}
	o.n.wake.broadcast()
}
