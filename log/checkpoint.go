package log

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// checkpointVersion is the first byte of an encoded checkpoint.
const checkpointVersion = 1

var errBadCheckpoint = errors.New("replog: malformed checkpoint")

// encodeCheckpoint serializes the applier's state (see doc.go for the
// layout), keeping the filtered slots from minSlot on: what a replica needs
// to go on applying after slot a.applied, and to serve tails from minSlot,
// without the entries before minSlot.
func (a *applier) encodeCheckpoint(minSlot uint64) []byte {
	b := []byte{checkpointVersion}
	b = binary.AppendUvarint(b, a.applied)
	b = binary.AppendUvarint(b, a.lastDelivered)
	b = binary.AppendUvarint(b, minSlot)
	ids := a.dedup.sortedIDs()
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		cs := a.dedup.clients[id]
		b = binary.AppendUvarint(b, id)
		b = binary.AppendUvarint(b, cs.maxSeq)
		b = binary.AppendUvarint(b, cs.lastSlot)
		ents := cs.entries()
		b = binary.AppendUvarint(b, uint64(len(ents)))
		for _, e := range ents {
			b = binary.AppendUvarint(b, e.seq)
			b = binary.AppendUvarint(b, e.val)
		}
	}
	slots := a.filtered.sorted()
	for len(slots) > 0 && slots[0] < minSlot {
		slots = slots[1:]
	}
	b = binary.AppendUvarint(b, uint64(len(slots)))
	for _, s := range slots {
		b = binary.AppendUvarint(b, s)
	}
	return b
}

// decoder reads uvarints and remembers the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: truncated at %d bytes from the end", errBadCheckpoint, len(d.b))
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = fmt.Errorf("%w: truncated", errBadCheckpoint)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// count reads a length and checks it against the bytes left (each item
// takes at least one byte), so a corrupt count cannot cause a huge allocation.
func (d *decoder) count() int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: count %d exceeds %d bytes left", errBadCheckpoint, n, len(d.b))
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

// restoreCheckpoint replaces the applier's state with the encoded one and
// returns the first slot whose verdict it knows (the trim point it was
// taken at).
func (a *applier) restoreCheckpoint(data []byte) (uint64, error) {
	d := &decoder{b: data}
	if v := d.byte(); d.err == nil && v != checkpointVersion {
		return 0, fmt.Errorf("%w: version %d", errBadCheckpoint, v)
	}
	applied, lastDelivered, validFrom := d.uvarint(), d.uvarint(), d.uvarint()
	table := newDedupTable()
	for range d.count() {
		id := d.uvarint()
		cs := &clientState{maxSeq: d.uvarint(), lastSlot: d.uvarint()}
		maxSeq := cs.maxSeq
		for range d.count() {
			q := d.uvarint()
			cs.put(q, unpack(d.uvarint()))
		}
		if d.err == nil && cs.maxSeq != maxSeq {
			d.err = fmt.Errorf("%w: client %d window above its max seq %d", errBadCheckpoint, id, maxSeq)
		}
		table.clients[id] = cs
	}
	slots := make([]uint64, 0, 16)
	for range d.count() {
		slots = append(slots, d.uvarint())
	}
	if d.err != nil {
		return 0, d.err
	}
	a.applied, a.lastDelivered, a.dedup = applied, lastDelivered, table
	a.filtered.reset(slots)
	return validFrom, nil
}
