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
	// maxClients bounds the table (at most 16 KiB per client). A new client
	// beyond it evicts the client whose last append is the oldest slot
	// (ties: lowest id).
	maxClients = 1024
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

// condFailedBit marks a window value that holds a failed condition's last
// index rather than a delivered index (indexes never reach 2^63).
const condFailedBit = 1 << 63

func (o outcome) pack() uint64 {
	if o.v == vCondFailed {
		return condFailedBit | o.last
	}
	return o.index
}

func unpack(v uint64) outcome {
	if v&condFailedBit != 0 {
		return outcome{v: vCondFailed, last: v &^ condFailedBit}
	}
	return outcome{v: vDelivered, index: v}
}

// slot of a client's window ring: seq 0 marks an empty slot.
type winSlot struct{ seq, val uint64 }

// clientState is one client's row. Its window is a ring indexed by
// seq % len(ring) that grows (16 up to dedupWindow slots) only when a new
// seq would overwrite one still inside the window, so no in-window
// outcome is ever lost and lookups do not depend on the ring's size: the
// table is deterministic whatever order it was built in. 16 bytes per
// remembered seq; 16 KiB for a client that used its whole window.
type clientState struct {
	maxSeq   uint64
	lastSlot uint64
	ring     []winSlot
}

func (cs *clientState) inWindow(seq uint64) bool { return seq+dedupWindow > cs.maxSeq }

func (cs *clientState) get(seq uint64) (outcome, bool) {
	if len(cs.ring) == 0 {
		return outcome{}, false
	}
	s := cs.ring[seq%uint64(len(cs.ring))]
	if s.seq != seq || seq == 0 {
		return outcome{}, false
	}
	return unpack(s.val), true
}

func (cs *clientState) put(seq uint64, o outcome) {
	cs.maxSeq = max(cs.maxSeq, seq)
	if len(cs.ring) == 0 {
		cs.ring = make([]winSlot, 16)
	}
	for {
		pos := seq % uint64(len(cs.ring))
		old := cs.ring[pos]
		if old.seq == 0 || old.seq == seq || !cs.inWindow(old.seq) || len(cs.ring) >= dedupWindow {
			cs.ring[pos] = winSlot{seq: seq, val: o.pack()}
			return
		}
		cs.grow()
	}
}

// grow doubles the ring, keeping the in-window slots.
func (cs *clientState) grow() {
	old := cs.ring
	cs.ring = make([]winSlot, 2*len(old))
	for _, s := range old {
		if s.seq != 0 && cs.inWindow(s.seq) {
			cs.ring[s.seq%uint64(len(cs.ring))] = s
		}
	}
}

// entries returns the in-window (seq, outcome) pairs in seq order.
func (cs *clientState) entries() []winSlot {
	var out []winSlot
	for _, s := range cs.ring {
		if s.seq != 0 && cs.inWindow(s.seq) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b winSlot) int { return cmp.Compare(a.seq, b.seq) })
	return out
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
	if !cs.inWindow(seq) {
		return outcome{}, false, true
	}
	o, found = cs.get(seq)
	return o, found, false
}

// record remembers the outcome of a new (client, seq) applied at slot.
func (d *dedupTable) record(client, seq, slot uint64, o outcome) {
	cs := d.clients[client]
	if cs == nil {
		cs = &clientState{}
		d.clients[client] = cs
		d.evictOverflow(client)
	}
	cs.put(seq, o)
	cs.lastSlot = slot
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
