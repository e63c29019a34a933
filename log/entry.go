package log

import (
	"encoding/binary"
	"fmt"
)

// entryKind is the first byte of every entry this package proposes.
type entryKind uint8

const (
	kindUser    entryKind = 1 // a client append: delivered unless filtered
	kindBarrier entryKind = 2 // a CheckTail barrier: never delivered
	kindTrim    entryKind = 3 // a replicated trim: never delivered
)

// Header flags.
const (
	flagConditional = 1 << 0 // expect follows: the entry is an AppendIf
	flagNoDedup     = 1 << 1 // the identity only matches waiters; no dedup
	knownFlags      = flagConditional | flagNoDedup
)

// header is the prefix this package writes inside paxos.Entry.Data. See
// doc.go for the byte layout.
type header struct {
	kind     entryKind
	cond     bool
	noDedup  bool // Node.Append: the (client, seq) is unique but not deduplicated
	clientID uint64
	seq      uint64
	expect   uint64 // cond only: the expected last delivered index
	before   uint64 // kindTrim only: drop every slot below it
}

// maxHeader bounds an encoded header: two bytes and four uvarints.
const maxHeader = 2 + 4*binary.MaxVarintLen64

// encodeEntry returns the header followed by payload in one new slice.
func encodeEntry(h header, payload []byte) []byte {
	b := make([]byte, 0, maxHeader+len(payload))
	var flags byte
	if h.cond {
		flags |= flagConditional
	}
	if h.noDedup {
		flags |= flagNoDedup
	}
	b = append(b, byte(h.kind), flags)
	b = binary.AppendUvarint(b, h.clientID)
	b = binary.AppendUvarint(b, h.seq)
	if h.cond {
		b = binary.AppendUvarint(b, h.expect)
	}
	if h.kind == kindTrim {
		b = binary.AppendUvarint(b, h.before)
	}
	return append(b, payload...)
}

// decodeEntry splits data into its header and payload. The payload aliases
// data. An error means the entry was not written by this package; such an
// entry is never delivered.
func decodeEntry(data []byte) (header, []byte, error) {
	var h header
	if len(data) < 2 {
		return h, nil, fmt.Errorf("replog: entry of %d bytes has no header", len(data))
	}
	h.kind, h.cond, h.noDedup = entryKind(data[0]), data[1]&flagConditional != 0, data[1]&flagNoDedup != 0
	if h.kind < kindUser || h.kind > kindTrim || data[1]&^knownFlags != 0 {
		return h, nil, fmt.Errorf("replog: unknown entry kind %d flags %#x", data[0], data[1])
	}
	rest := data[2:]
	fields := []*uint64{&h.clientID, &h.seq}
	if h.cond {
		fields = append(fields, &h.expect)
	}
	if h.kind == kindTrim {
		fields = append(fields, &h.before)
	}
	for _, f := range fields {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return h, nil, fmt.Errorf("replog: truncated entry header")
		}
		*f, rest = v, rest[n:]
	}
	return h, rest, nil
}

// EntryInfo describes an entry of the chosen log as this package wrote it
// (for tools such as paxlog dump-wal).
type EntryInfo struct {
	Kind        string // "user", "barrier" or "trim"
	ClientID    uint64
	Seq         uint64
	NoDedup     bool   // a Node.Append entry: identity not deduplicated
	Conditional bool   // an AppendIf
	ExpectLast  uint64 // Conditional: the expected last delivered index
	TrimBefore  uint64 // Kind "trim": drop slots below it
	Payload     []byte // Kind "user": the appended data (aliases the input)
}

// DescribeEntry decodes the header of paxos.Entry.Data written by this
// package (see doc.go for the layout). An error means the data was not
// written by it; such an entry is never delivered.
func DescribeEntry(data []byte) (EntryInfo, error) {
	h, payload, err := decodeEntry(data)
	if err != nil {
		return EntryInfo{}, err
	}
	kind := map[entryKind]string{kindUser: "user", kindBarrier: "barrier", kindTrim: "trim"}[h.kind]
	return EntryInfo{Kind: kind, ClientID: h.clientID, Seq: h.seq, NoDedup: h.noDedup,
		Conditional: h.cond, ExpectLast: h.expect, TrimBefore: h.before, Payload: payload}, nil
}
