package log

import (
	"errors"
	"fmt"

	"github.com/paxlog/paxlog/paxos"
)

// propose moves queued proposals into Propose calls: as many entries per
// call as MaxBatchEntries/MaxBatchBytes allow, so concurrent appends share
// one Accept message and one fsync on every replica.
func (o *owner) propose() {
	if o.lingered = o.lingering(); o.lingered {
		return
	}
	o.backlog = append(o.backlog, o.n.queue.drain()...)
	if len(o.backlog) == 0 {
		return
	}
	if !o.leader {
		o.failBacklog(o.n.notLeader())
		return
	}
	if o.awaiting {
		o.failBacklog(errRestoring)
		return
	}
	for size := 0; len(o.backlog) > 0; {
		if size >= maxReadyBytes {
			return // the rest goes after this Ready is handled
		}
		taken, data, refs := o.nextBatch()
		for _, d := range data {
			size += len(d)
		}
		if len(data) > 0 {
			first, err := o.core.Propose(data)
			if errors.Is(err, paxos.ErrBackpressure) {
				for _, p := range o.backlog[:taken] {
					p.state.CompareAndSwap(stateTaken, stateQueued) // appenders may withdraw again
				}
				o.retry = true
				return
			}
			if err != nil {
				o.failTaken(taken, o.proposeError(err))
				continue
			}
			o.register(first, refs)
			o.n.counters.proposeCalls.Add(1)
			o.n.counters.proposed.Add(uint64(len(data)))
		}
		o.resolveEarly(taken)
		o.n.queue.release(o.release(taken))
	}
	o.retry = false
}

// Lingering thresholds (see lingering): a leader with at least
// lingerInflight entries proposed and not yet chosen lets new appends wait
// for the job being written, unless lingerEntries of them are queued.
const (
	lingerInflight = 32
	lingerEntries  = 64
)

// lingering says a leader should let appends gather into one Propose: while
// a job is being written to disk and lingerInflight entries are already in
// flight, queued entries wait for the job to finish (at most one fsync,
// when the loop proposes again) unless lingerEntries of them are queued.
// With few entries in flight there is nothing to gather behind: the
// persisters batch fsyncs on every replica anyway, and waiting only adds
// the rest of an fsync to each append (at 16 clients over TCP it cost 8 %
// of appends/s, median of ten alternated runs). With many in flight the
// wait gathers bigger Proposes, so fewer Accept messages and less CPU (at
// 256 clients in process, proposing at once cost a quarter of appends/s).
// An idle leader proposes at once.
func (o *owner) lingering() bool {
	return o.leader && o.flying != nil && len(o.bySlot) >= lingerInflight && o.n.queue.queued() < lingerEntries
}

// nextBatch picks the first proposals of the backlog that fit one Propose
// and the entries of them that need a slot. It changes nothing.
func (o *owner) nextBatch() (taken int, data [][]byte, refs []waitRef) {
	size := 0
	for taken < len(o.backlog) {
		p := o.backlog[taken]
		psize := 0
		for _, d := range p.data {
			psize += len(d)
		}
		if taken > 0 && (len(data)+len(p.data) > o.n.cfg.MaxBatchEntries || size+psize > o.n.cfg.MaxBatchBytes) {
			break
		}
		if !p.claim() {
			taken++ // withdrawn by its appender: released, never proposed
			continue
		}
		for i, d := range p.data {
			if p.set[i] || o.knownKey(p.hdrs[i]) {
				continue
			}
			data = append(data, d)
			refs = append(refs, waitRef{p: p, i: i, k: key{p.hdrs[i].clientID, p.hdrs[i].seq}})
		}
		size += psize
		taken++
	}
	return taken, data, refs
}

// knownKey reports whether a user entry needs no new slot: its (client,
// seq) was already applied, or a copy is in flight from this node.
func (o *owner) knownKey(h header) bool {
	if h.kind != kindUser || h.clientID == 0 || h.noDedup || plantedSkipDedup {
		return false
	}
	if _, found, tooOld := o.ap.dedup.lookup(h.clientID, h.seq); found || tooOld {
		return true
	}
	return len(o.byKey[key{h.clientID, h.seq}]) > 0
}

// register records the waiters of entries proposed from slot first on.
func (o *owner) register(first uint64, refs []waitRef) {
	for j, r := range refs {
		r.slot = first + uint64(j)
		o.bySlot[r.slot] = r
		if r.k.client != 0 {
			o.byKey[r.k] = append(o.byKey[r.k], r)
		}
	}
	o.n.inflight.Add(int64(len(refs)))
}

// resolveEarly settles the taken entries that got no slot: duplicates of
// applied appends answer from the dedup table; copies of in-flight ones
// wait for them.
func (o *owner) resolveEarly(taken int) {
	for _, p := range o.backlog[:taken] {
		for i, h := range p.hdrs {
			if p.set[i] || h.kind != kindUser || h.clientID == 0 || h.noDedup || plantedSkipDedup {
				continue
			}
			k := key{h.clientID, h.seq}
			if refs := o.byKey[k]; len(refs) > 0 && !containsRef(refs, p, i) {
				o.byKey[k] = append(refs, waitRef{p: p, i: i, k: k})
				continue
			}
			if out, found, tooOld := o.ap.dedup.lookup(h.clientID, h.seq); found || tooOld {
				p.complete(i, userResult(h, verdictOf(out, tooOld), out))
			}
		}
	}
}

func containsRef(refs []waitRef, p *proposal, i int) bool {
	for _, r := range refs {
		if r.p == p && r.i == i {
			return true
		}
	}
	return false
}

func verdictOf(o outcome, tooOld bool) verdict {
	if tooOld {
		return vTooOld
	}
	return vDuplicate
}

// release drops the first taken proposals from the backlog and returns
// their entry count.
func (o *owner) release(taken int) int {
	n := 0
	for _, p := range o.backlog[:taken] {
		n += len(p.data)
	}
	clear(o.backlog[:taken])
	o.backlog = o.backlog[taken:]
	return n
}

func (o *owner) failTaken(taken int, err error) {
	for _, p := range o.backlog[:taken] {
		p.failAll(err)
	}
	o.n.queue.release(o.release(taken))
}

func (o *owner) proposeError(err error) error {
	var nl *paxos.NotLeaderError
	if errors.As(err, &nl) {
		return &NotLeaderError{LeaderID: nl.Leader, Leader: o.n.cfg.Peers[nl.Leader]}
	}
	return fmt.Errorf("replog: node %d propose: %w", o.n.cfg.ID, err)
}

// userResult turns a user entry's verdict into what its appender gets.
func userResult(h header, v verdict, out outcome) result {
	switch {
	case v == vTooOld:
		return result{err: fmt.Errorf("replog: client %d seq %d: %w", h.clientID, h.seq, ErrSeqTooOld)}
	case out.v == vCondFailed:
		return result{err: &ConditionError{Expected: h.expect, Last: out.last}}
	default:
		return result{index: out.index}
	}
}
