package storage

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/paxlog/paxlog/paxos"
)

// Record kinds. The kind byte follows the CRC in every record (see doc.go).
const (
	kindPromise    byte = 1 // journal: promised ballot
	kindAccept     byte = 2 // journal: ballot + entries accepted at it
	kindJournalCP  byte = 3 // journal: checkpoint of the live acceptor state
	kindChosen     byte = 4 // chosen log: one chosen entry
	kindIdentity   byte = 5 // identity file: node id + cluster id
	kindChosenMeta byte = 6 // chosen.meta file: generation + base slot
	kindBlob       byte = 7 // checkpoint file: slot + opaque blob
	kindBatch      byte = 8 // journal: one Persist call (promise and accept groups, see batch.go)
	kindMax             = kindBatch
)

const (
	headerSize = 4 + 1 + 8 // crc32c, kind, seq
	ballotSize = 16        // round, node
	// acceptEntrySize is the fixed part of an entry inside an accept record:
	// slot, flags, data length. The ballot is the record's.
	acceptEntrySize = 8 + 1 + 4
	// fullEntrySize is the fixed part of an entry that carries its own
	// ballot (journal checkpoint, chosen log).
	fullEntrySize = 8 + ballotSize + 1 + 4
	flagNoop      = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadRecord is the decoder's only error; callers wrap it with file and
// offset (ErrCorrupt) or decide it is a torn tail.
var errBadRecord = errors.New("storage: invalid record")

// rec is a decoded record. It never owns memory: ents and data alias the
// decoded buffer, and entries are produced on demand by eachEntry, so
// decoding allocates nothing.
type rec struct {
	kind   byte
	seq    uint64
	ballot paxos.Ballot // promise, accept, journal checkpoint (promised)
	n      int          // number of entries in ents
	ents   []byte       // encoded entries (accept, journal checkpoint, chosen) or groups (batch)
	a, b   uint64       // identity: node; chosen meta: gen, base; blob: slot
	data   []byte       // identity: cluster id; blob: data
}

// eachEntry calls fn for every entry of an already validated record. Entry
// data aliases the record's buffer.
func (r *rec) eachEntry(fn func(paxos.Entry)) {
	if r.kind != kindBatch {
		walkEntries(r.ents, r.n, r.kind != kindAccept, r.ballot, fn)
		return
	}
	c := cursor{b: r.ents}
	for i := 0; i < r.n; i++ {
		g := nextGroup(&c, r.seq)
		walkEntries(g.ents, g.n, false, g.ballot, fn)
	}
}

// walkEntries calls fn for each of n validated entries in ents; full
// entries carry their own ballot, the others take b.
func walkEntries(ents []byte, n int, full bool, b paxos.Ballot, fn func(paxos.Entry)) {
	c := cursor{b: ents}
	for i := 0; i < n; i++ {
		e := paxos.Entry{Slot: c.u64(), Ballot: b}
		if full {
			e.Ballot = c.ballot()
		}
		e.Noop = c.u8()&flagNoop != 0
		e.Data = c.bytes(int(c.u32()))
		if len(e.Data) == 0 {
			e.Data = nil
		}
		fn(e)
	}
}

// firstEntry returns the first entry of r (the only one for kindChosen).
func (r *rec) firstEntry() paxos.Entry {
	var out paxos.Entry
	done := false
	r.eachEntry(func(e paxos.Entry) {
		if !done {
			out, done = e, true
		}
	})
	return out
}

// cursor reads fixed-width little-endian fields, never past its buffer;
// after any short read it stays bad and returns zeros.
type cursor struct {
	b   []byte
	off int
	bad bool
}

func (c *cursor) take(n int) []byte {
	if c.bad || n < 0 || n > len(c.b)-c.off {
		c.bad = true
		return nil
	}
	p := c.b[c.off : c.off+n : c.off+n]
	c.off += n
	return p
}

func (c *cursor) u8() byte {
	if p := c.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (c *cursor) u32() uint32 {
	if p := c.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (c *cursor) u64() uint64 {
	if p := c.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (c *cursor) ballot() paxos.Ballot {
	r := c.u64()
	return paxos.Ballot{Round: r, Node: paxos.NodeID(c.u64())}
}

func (c *cursor) bytes(n int) []byte { return c.take(n) }

func (c *cursor) rest() int { return len(c.b) - c.off }

// decodeRecord validates b as one whole record and returns a view of it.
// It checks the CRC first, then every length against the bytes that remain,
// and requires that the record is consumed exactly. It allocates nothing.
func decodeRecord(b []byte) (rec, error) {
	var r rec
	if len(b) < headerSize {
		return r, errBadRecord
	}
	if crc32.Checksum(b[4:], castagnoli) != binary.LittleEndian.Uint32(b) {
		return r, errBadRecord
	}
	c := cursor{b: b, off: 4}
	r.kind = c.u8()
	r.seq = c.u64()
	switch r.kind {
	case kindPromise:
		r.ballot = c.ballot()
	case kindAccept, kindJournalCP:
		r.ballot = c.ballot()
		r.n = int(c.u32())
		r.ents = c.b[c.off:]
		c.bad = c.bad || !skipEntries(&c, r.n, r.kind == kindJournalCP)
	case kindBatch:
		r.n = int(c.u32())
		r.ents = c.b[c.off:]
		c.bad = c.bad || !skipGroups(&c, r.n)
	case kindChosen:
		r.n = 1
		r.ents = c.b[c.off:]
		c.bad = c.bad || !skipEntries(&c, 1, true)
	case kindIdentity:
		r.a = c.u64()
		r.data = c.bytes(int(c.u32()))
	case kindChosenMeta:
		r.a, r.b = c.u64(), c.u64()
	case kindBlob:
		r.a = c.u64()
		r.data = c.bytes(int(c.u32()))
	default:
		return rec{}, errBadRecord
	}
	if c.bad || c.rest() != 0 {
		return rec{}, errBadRecord
	}
	return r, nil
}

// skipEntries walks n encoded entries, checking each fixed part and data
// length against what remains, without allocating.
func skipEntries(c *cursor, n int, full bool) bool {
	fixed := acceptEntrySize
	if full {
		fixed = fullEntrySize
	}
	if n < 0 || n > c.rest()/fixed {
		return false
	}
	for i := 0; i < n && !c.bad; i++ {
		c.take(8)
		if full {
			c.take(ballotSize)
		}
		if f := c.u8(); f&^flagNoop != 0 {
			return false
		}
		c.take(int(c.u32()))
	}
	return !c.bad
}

// Encoding. Every encoder appends one whole record to dst.

func beginRecord(dst []byte, kind byte, seq uint64) ([]byte, int) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, kind)
	return binary.LittleEndian.AppendUint64(dst, seq), start
}

func endRecord(dst []byte, start int) []byte {
	sum := crc32.Checksum(dst[start+4:], castagnoli)
	binary.LittleEndian.PutUint32(dst[start:], sum)
	return dst
}

func appendBallot(dst []byte, b paxos.Ballot) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, b.Round)
	return binary.LittleEndian.AppendUint64(dst, uint64(b.Node))
}

func appendEntry(dst []byte, e *paxos.Entry, full bool) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, e.Slot)
	if full {
		dst = appendBallot(dst, e.Ballot)
	}
	var flags byte
	if e.Noop {
		flags = flagNoop
	}
	dst = append(dst, flags)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e.Data)))
	return append(dst, e.Data...)
}

func encodePromise(dst []byte, seq uint64, b paxos.Ballot) []byte {
	dst, start := beginRecord(dst, kindPromise, seq)
	return endRecord(appendBallot(dst, b), start)
}

// encodeEntries encodes an accept record (entries take b as their ballot)
// or a journal checkpoint (entries keep their own ballots; b is the
// promised ballot).
func encodeEntries(dst []byte, kind byte, seq uint64, b paxos.Ballot, ents []paxos.Entry) []byte {
	dst, start := beginRecord(dst, kind, seq)
	dst = appendBallot(dst, b)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ents)))
	for i := range ents {
		dst = appendEntry(dst, &ents[i], kind == kindJournalCP)
	}
	return endRecord(dst, start)
}

func encodeChosen(dst []byte, seq uint64, e *paxos.Entry) []byte {
	dst, start := beginRecord(dst, kindChosen, seq)
	return endRecord(appendEntry(dst, e, true), start)
}

func encodeIdentity(cluster string, node uint64) []byte {
	dst, start := beginRecord(nil, kindIdentity, 0)
	dst = binary.LittleEndian.AppendUint64(dst, node)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(cluster)))
	return endRecord(append(dst, cluster...), start)
}

func encodeChosenMeta(gen, base uint64) []byte {
	dst, start := beginRecord(nil, kindChosenMeta, 0)
	dst = binary.LittleEndian.AppendUint64(dst, gen)
	return endRecord(binary.LittleEndian.AppendUint64(dst, base), start)
}

func encodeBlob(slot uint64, data []byte) []byte {
	dst, start := beginRecord(nil, kindBlob, 0)
	dst = binary.LittleEndian.AppendUint64(dst, slot)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(data)))
	return endRecord(append(dst, data...), start)
}
