package log

import (
	"fmt"

	"github.com/paxlog/paxlog/paxos"
)

// commit appends newly chosen entries to the chosen log, applies them in
// slot order (verdicts, dedup, conditions, trims), completes their waiters
// and wakes tailers.
func (o *owner) commit(entries []paxos.Entry) error {
	last := o.n.store.LastIndex()
	for len(entries) > 0 && entries[0].Slot <= last {
		entries = entries[1:] // already held (replayed at start)
	}
	if len(entries) == 0 {
		return nil
	}
	if err := o.n.store.AppendChosen(entries); err != nil {
		return fmt.Errorf("replog: node %d append chosen slots %d-%d: %w", o.n.cfg.ID,
			entries[0].Slot, entries[len(entries)-1].Slot, err)
	}
	if o.awaiting {
		if o.pendingCP != nil {
			return o.tryRestore(o.pendingCP)
		}
		return nil // verdicts unknown until a checkpoint arrives (restore.go)
	}
	o.n.counters.applied.Add(uint64(len(entries)))
	for i := range entries {
		res := o.ap.apply(&entries[i])
		o.count(&entries[i], res)
		if err := o.settle(res); err != nil {
			return err
		}
	}
	o.n.publish(o.ap, o.n.first.Load())
	if o.retry {
		o.n.queue.poke() // the window has room again
	}
	return nil
}

// settle completes the waiters of one applied slot.
func (o *owner) settle(res applyResult) error {
	k := key{res.h.clientID, res.h.seq}
	if ref, ok := o.bySlot[res.slot]; ok {
		delete(o.bySlot, res.slot)
		o.n.inflight.Add(-1)
		if !res.decoded || ref.k != k {
			o.completeKey(ref.k, ref, result{err: fmt.Errorf("replog: slot %d: %w", res.slot, ErrDropped)})
		}
	}
	if !res.decoded {
		return nil
	}
	var r result
	switch res.h.kind {
	case kindUser:
		r = userResult(res.h, res.v, res.o)
	case kindBarrier:
		r = result{index: res.last}
	case kindTrim:
		first, err := o.trim(res)
		if err != nil {
			return err
		}
		r = result{index: first}
	}
	o.completeKey(k, waitRef{}, r)
	return nil
}

// completeKey completes every waiter of k (and ref itself, which may be
// unkeyed) with r.
func (o *owner) completeKey(k key, ref waitRef, r result) {
	if ref.p != nil {
		ref.p.complete(ref.i, r)
	}
	if k.client == 0 {
		return
	}
	refs, ok := o.byKey[k]
	if !ok {
		return
	}
	delete(o.byKey, k)
	for _, w := range refs {
		w.p.complete(w.i, r)
		if w.slot != 0 {
			if cur, ok := o.bySlot[w.slot]; ok && cur.p == w.p && cur.i == w.i {
				delete(o.bySlot, w.slot)
				o.n.inflight.Add(-1)
			}
		}
	}
}

// trim applies a trim entry: the effective trim point is min(before,
// slot+1); every replica syncs the chosen log, checkpoints its applied
// state at this slot, then drops the prefix. It returns the first index.
func (o *owner) trim(res applyResult) (uint64, error) {
	before := min(res.h.before, res.slot+1)
	first := o.n.first.Load()
	if before <= first {
		return first, nil
	}
	if err := o.n.store.Sync(); err != nil {
		return 0, fmt.Errorf("replog: node %d sync before trim at %d: %w", o.n.cfg.ID, res.slot, err)
	}
	if err := o.n.store.SetCheckpoint(res.slot, o.ap.encodeCheckpoint(before)); err != nil {
		return 0, fmt.Errorf("replog: node %d checkpoint at %d: %w", o.n.cfg.ID, res.slot, err)
	}
	if err := o.n.store.TrimChosen(before); err != nil {
		return 0, fmt.Errorf("replog: node %d trim before %d: %w", o.n.cfg.ID, before, err)
	}
	// Order matters for tailers: the store and the published first index
	// move before the filtered set forgets the trimmed slots (tail.go).
	o.n.first.Store(before)
	o.n.filtered.pruneBelow(before)
	o.n.log.Info("trimmed", "before", before, "slot", res.slot)
	return before, nil
}

// count updates the delivery counters for one applied slot.
func (o *owner) count(e *paxos.Entry, res applyResult) {
	switch {
	case res.v == vDelivered:
		o.n.counters.delivered.Add(1)
		o.n.counters.deliveredBytes.Add(uint64(len(e.Data)))
	case res.decoded && res.h.kind == kindUser:
		o.n.counters.filtered.Add(1)
	}
}
