package log

import (
	"cmp"
	"slices"
	"sync"

	"github.com/paxlog/paxlog/paxos"
)

// filteredSet holds the user slots at or above the trim point that were
// chosen but not delivered (duplicates, failed conditions, too-old
// sequence numbers). The applying goroutine writes it; tailers read it for
// slots at or below the published applied index, so every reader of a slot
// sees its final verdict. Such slots are rare, so a locked map is cheap.
type filteredSet struct {
	mu    sync.RWMutex
	slots map[uint64]struct{}
}

func newFilteredSet() *filteredSet { return &filteredSet{slots: make(map[uint64]struct{})} }

func (f *filteredSet) add(slot uint64) {
	f.mu.Lock()
	f.slots[slot] = struct{}{}
	f.mu.Unlock()
}

func (f *filteredSet) has(slot uint64) bool {
	f.mu.RLock()
	_, ok := f.slots[slot]
	f.mu.RUnlock()
	return ok
}

// pruneBelow forgets slots below first (they were trimmed).
func (f *filteredSet) pruneBelow(first uint64) {
	f.mu.Lock()
	for s := range f.slots {
		if s < first {
			delete(f.slots, s)
		}
	}
	f.mu.Unlock()
}

// reset replaces the content with slots.
func (f *filteredSet) reset(slots []uint64) {
	f.mu.Lock()
	f.slots = make(map[uint64]struct{}, len(slots))
	for _, s := range slots {
		f.slots[s] = struct{}{}
	}
	f.mu.Unlock()
}

// sorted returns the slots in increasing order.
func (f *filteredSet) sorted() []uint64 {
	f.mu.RLock()
	out := make([]uint64, 0, len(f.slots))
	for s := range f.slots {
		out = append(out, s)
	}
	f.mu.RUnlock()
	slices.SortFunc(out, cmp.Compare)
	return out
}

// applier turns the chosen sequence into verdicts. It is deterministic: the
// same chosen entries from the same starting state give the same verdicts,
// dedup table and filtered set on every replica and after every restart.
// Only the node's owner goroutine calls it.
type applier struct {
	applied       uint64 // last slot applied
	lastDelivered uint64 // last slot delivered to consumers
	dedup         *dedupTable
	filtered      *filteredSet
}

// applied is the result of applying one slot.
type applyResult struct {
	slot    uint64
	h       header
	decoded bool    // h is valid
	v       verdict // what the slot became
	o       outcome // user entries: the outcome for waiters (first copy's for duplicates)
	last    uint64  // barriers: the last delivered index before the barrier
}

func newApplier(filtered *filteredSet) *applier {
	return &applier{dedup: newDedupTable(), filtered: filtered}
}

// apply applies the next chosen slot.
func (a *applier) apply(e *paxos.Entry) applyResult {
	a.applied = e.Slot
	defer a.dedup.sweep(e.Slot)
	res := applyResult{slot: e.Slot}
	if e.Noop {
		return res
	}
	h, _, err := decodeEntry(e.Data)
	if err != nil {
		return res
	}
	res.h, res.decoded = h, true
	switch h.kind {
	case kindBarrier:
		res.last = a.lastDelivered
	case kindUser:
		res.v, res.o = a.applyUser(e.Slot, h)
		if res.v != vDelivered {
			a.filtered.add(e.Slot)
		}
	}
	return res
}

func (a *applier) applyUser(slot uint64, h header) (verdict, outcome) {
	dedup := h.clientID != 0 && !h.noDedup
	if dedup {
		o, found, tooOld := a.dedup.lookup(h.clientID, h.seq)
		if tooOld {
			a.dedup.touch(h.clientID, slot)
			return vTooOld, outcome{}
		}
		if found && !plantedSkipDedup {
			a.dedup.touch(h.clientID, slot)
			return vDuplicate, o
		}
	}
	var o outcome
	if h.cond && a.lastDelivered != h.expect {
		o = outcome{v: vCondFailed, last: a.lastDelivered}
	} else {
		a.lastDelivered = slot
		o = outcome{v: vDelivered, index: slot}
	}
	if dedup {
		a.dedup.record(h.clientID, h.seq, slot, o)
	}
	return o.v, o
}
