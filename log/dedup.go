package log

import (
	"cmp"
	"slices"
)

// Dedup bounds. They are part of the replicated state machine: every
// replica must use the same values, so they are constants, not knobs.
const (
	// dedupWindow is how many recent sequence numbers are remembered per
	// client. A sequence number at or below (highest seen - dedupWindow) is
	// too old to judge and is filtered with ErrSeqTooOld; a Client keeps
	// fewer appends than this in flight.
	dedupWindow = 1024
	// maxClients bounds the table. A new client beyond it evicts the client
	// whose last append is the oldest slot (ties: lowest id).
	maxClients = 4096
	// clientIdleSlots: a client with no append chosen in this many slots is
	// evicted (checked every sweepEvery slots). Its retries after that are
	// treated as new appends.
	clientIdleSlots = 1 << 22
	sweepEvery      = 4096
)

// verdict is what applying a slot decided.
type verdict uint8

const (
	vInternal   verdict = iota // no-op, barrier, trim or foreign data: never delivered
	vDelivered                 // a user entry delivered to consumers at its slot
	vDuplicate                 // a copy of an append chosen earlier: filtered
	vCondFailed                // an AppendIf whose expectation did not hold: filtered
	vTooOld                    // a sequence number below its client's window: filtered
)

// outcome is the remembered result of one (client, seq).
type outcome struct {
	v     verdict // vDelivered or vCondFailed
	index uint64  // vDelivered: the index of the first copy
	last  uint64  // vCondFailed: the last delivered index it was checked against
}

type clientState struct {
	maxSeq   uint64
	lastSlot uint64
	win      map[uint64]outcome
}

// dedupTable is the deterministic per-client table. Only the goroutine that
// applies chosen entries touches it.
type dedupTable struct {
	clients map[uint64]*clientState
}

func newDedupTable() *dedupTable {
	return &dedupTable{clients: make(map[uint64]*clientState)}
}

// lookup reports the remembered outcome of (client, seq): found is true for
// a duplicate; tooOld when seq is below the client's window.
func (d *dedupTable) lookup(client, seq uint64) (o outcome, found, tooOld bool) {
	cs := d.clients[client]
	if cs == nil {
		return outcome{}, false, false
	}
	if seq+dedupWindow <= cs.maxSeq {
		return outcome{}, false, true
	}
	o, found = cs.win[seq]
	return o, found, false
}

// record remembers the outcome of a new (client, seq) applied at slot.
func (d *dedupTable) record(client, seq, slot uint64, o outcome) {
	cs := d.clients[client]
	if cs == nil {
		cs = &clientState{win: make(map[uint64]outcome)}
		d.clients[client] = cs
		d.evictOverflow(client)
	}
	cs.win[seq] = o
	cs.maxSeq = max(cs.maxSeq, seq)
	cs.lastSlot = slot
	if len(cs.win) > dedupWindow+dedupWindow/4 {
		for q := range cs.win {
			if q+dedupWindow <= cs.maxSeq {
				delete(cs.win, q)
			}
		}
	}
}

// touch marks a client active at slot (duplicates keep it alive too).
func (d *dedupTable) touch(client, slot uint64) {
	if cs := d.clients[client]; cs != nil {
		cs.lastSlot = slot
	}
}

// evictOverflow evicts the least recently active client other than keep
// while the table is over maxClients.
func (d *dedupTable) evictOverflow(keep uint64) {
	for len(d.clients) > maxClients {
		var victim uint64
		var vs *clientState
		for id, cs := range d.clients {
			if id == keep {
				continue
			}
			if vs == nil || cs.lastSlot < vs.lastSlot || (cs.lastSlot == vs.lastSlot && id < victim) {
				victim, vs = id, cs
			}
		}
		delete(d.clients, victim)
	}
}

// sweep evicts idle clients; it runs when slot is a multiple of sweepEvery.
func (d *dedupTable) sweep(slot uint64) {
	if slot%sweepEvery != 0 {
		return
	}
	for id, cs := range d.clients {
		if slot-cs.lastSlot > clientIdleSlots {
			delete(d.clients, id)
		}
	}
}

// sortedIDs returns the client ids in increasing order (for checkpoints).
func (d *dedupTable) sortedIDs() []uint64 {
	ids := make([]uint64, 0, len(d.clients))
	for id := range d.clients {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, cmp.Compare)
	return ids
}
