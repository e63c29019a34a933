package log

import (
	"fmt"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

// The owner pipelines Readys (the paxos Ready contract's pipelined form):
// it takes a Ready, sends its Eager messages, appends and applies its
// Committed entries at once (they are chosen: a majority made them
// durable, and the core counts this node's own vote only after Advance),
// and hands its Persist and Messages to the persister goroutine. While the
// persister is inside an fsync the owner keeps stepping acknowledgements,
// committing, answering clients and proposing; the Readys it takes
// meanwhile form the next job, which the persister writes with one fsync
// when the current one is done (group commit). Advance is called for
// every Ready, in the order taken, once its job is durable and sent.
//
// THE DURABILITY RULE holds per job: every record of a job is fsynced
// before any of its Messages (promises, accepted, nacks) leaves, and jobs
// are written in order, so a message never reports state that an earlier
// Ready has not made durable. A failed Persist stops the node: the
// persister sends nothing of that job and takes no other.

// job is the Readys handed to the persister together.
type job struct {
	rds   []paxos.Ready
	recs  []paxos.Record // every Persist of rds, in order
	bytes int            // entry bytes in recs
	err   error          // set by the persister: the node must stop
}

func (j *job) add(rd paxos.Ready) {
	j.rds = append(j.rds, rd)
	for i := range rd.Persist {
		j.recs = append(j.recs, rd.Persist[i])
		for k := range rd.Persist[i].Entries {
			j.bytes += rd.Persist[i].Entries[k].Size()
		}
	}
}

// maxJobBytes bounds the entry bytes of the job the owner forms while
// another is being written; past it the owner waits for the persister.
const maxJobBytes = 4 * maxReadyBytes

// persister makes jobs durable and then sends their Messages, one job at a
// time and in order.
type persister struct {
	n      *Node
	in     chan *job // at most one job outstanding (owner.flying)
	done   chan *job
	exited chan struct{}
}

func newPersister(n *Node) *persister {
	p := &persister{n: n, in: make(chan *job, 1), done: make(chan *job, 1), exited: make(chan struct{})}
	go p.run()
	return p
}

func (p *persister) run() {
	defer close(p.exited)
	for j := range p.in {
		j.err = p.n.persist(j.recs)
		if j.err == nil {
			for i := range j.rds {
				for _, m := range j.rds[i].Messages {
					p.n.trans.Send(m)
				}
			}
		}
		p.done <- j // never blocks: one job outstanding, done has room for it
		if j.err != nil {
			return // fail-stop: nothing after a failed Persist
		}
	}
}

// stop lets the job in flight finish and waits for the goroutine.
func (p *persister) stop() {
	close(p.in)
	<-p.exited
}

// persist makes recs durable with one Persist (one fsync) and counts it.
func (n *Node) persist(recs []paxos.Record) error {
	if len(recs) == 0 {
		return nil
	}
	start := time.Now()
	err := n.store.Persist(recs)
	d := time.Since(start)
	n.counters.persists.Add(1)
	n.counters.persistRecords.Add(uint64(len(recs)))
	n.counters.persistNanos.Add(uint64(d))
	if d > slowPersist {
		n.log.Warn("slow persist", "records", len(recs), "duration", d)
	}
	if err != nil {
		return fmt.Errorf("replog: node %d persist %d records: %w", n.cfg.ID, len(recs), err)
	}
	return nil
}

// take handles one Ready just taken from the core: the pipelined form, or
// the synchronous form for the rare Readys that change what the chosen log
// is (ResetTo, Rebuilt) and while the node waits for a checkpoint.
func (o *owner) take(rd paxos.Ready) error {
	o.setSoft(rd.SoftState)
	// Eager messages report no acceptor state: they leave now, so a
	// leader's fsync runs concurrently with its followers'.
	for _, m := range rd.Eager {
		o.n.trans.Send(m)
	}
	if rd.ResetTo != 0 || rd.Rebuilt || o.awaiting {
		if err := o.drain(); err != nil {
			return err
		}
		return o.handleSync(rd)
	}
	if err := o.commit(rd.Committed); err != nil {
		return err
	}
	if o.flying == nil && o.pending == nil && len(rd.Persist) == 0 && len(rd.Messages) == 0 {
		o.core.Advance(rd) // nothing to write or send, nothing before it
		return nil
	}
	if o.pending == nil {
		o.pending = &job{}
	}
	o.pending.add(rd)
	return nil
}

// submit hands the pending job to the persister when it is idle, and waits
// for the one in flight when the pending job has grown too large.
func (o *owner) submit() error {
	if o.pending != nil && o.flying != nil && o.pending.bytes >= maxJobBytes {
		if err := o.finish(<-o.pipe.done); err != nil {
			return err
		}
	}
	if o.pending != nil && o.flying == nil {
		o.flying, o.pending = o.pending, nil
		o.pipe.in <- o.flying
	}
	return nil
}

// finish advances the core past a job the persister has written.
func (o *owner) finish(j *job) error {
	o.flying = nil
	if j.err != nil {
		return j.err
	}
	for i := range j.rds {
		o.core.Advance(j.rds[i])
	}
	return nil
}

// drain waits until every Ready taken so far is durable, sent and advanced.
func (o *owner) drain() error {
	for o.flying != nil || o.pending != nil {
		if err := o.submit(); err != nil {
			return err
		}
		if err := o.finish(<-o.pipe.done); err != nil {
			return err
		}
	}
	return nil
}

// handleSync performs one Ready in the contract's base order, with nothing
// else in flight: persist, send Messages, reset or append the chosen log,
// end a rebuild, Advance.
func (o *owner) handleSync(rd paxos.Ready) error {
	if err := o.n.persist(rd.Persist); err != nil {
		return err
	}
	for _, m := range rd.Messages {
		o.n.trans.Send(m)
	}
	if rd.ResetTo != 0 {
		if err := o.reset(rd.ResetTo); err != nil {
			return err
		}
	}
	if err := o.commit(rd.Committed); err != nil {
		return err
	}
	if rd.Rebuilt {
		if err := o.markRebuilt(); err != nil {
			return err
		}
	}
	o.core.Advance(rd)
	return nil
}
