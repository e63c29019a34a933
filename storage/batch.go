package storage

import (
	"encoding/binary"
	"slices"

	"github.com/paxlog/paxlog/paxos"
)

// Journal batch records (kind 8; format and replay rule in doc.go): one
// Persist call is one batch record, one tidwall entry with one CRC32C.
// Promise records become promise groups; a run of consecutive accept
// records at one ballot becomes one accept group. The decoder accepts only
// what the encoder writes (at least one group, no accept group directly
// after an accept group of the same ballot), so a valid batch re-encodes
// to the same bytes.

// minGroupSize is the smallest group: a promise (kind and ballot).
const minGroupSize = 1 + ballotSize

// skipGroups validates n groups of a batch record without allocating.
func skipGroups(c *cursor, n int) bool {
	if n < 1 || n > c.rest()/minGroupSize {
		return false
	}
	var prevKind byte
	var prev paxos.Ballot
	for i := 0; i < n && !c.bad; i++ {
		kind := c.u8()
		b := c.ballot()
		switch {
		case kind == kindPromise:
		case kind == kindAccept && !(prevKind == kindAccept && b == prev):
			if !skipEntries(c, int(c.u32()), false) {
				return false
			}
		default:
			return false
		}
		prevKind, prev = kind, b
	}
	return !c.bad
}

// eachGroup calls fn with each group of a validated batch record, as a
// promise or accept rec whose entries alias the batch.
func (r *rec) eachGroup(fn func(g rec)) {
	c := cursor{b: r.ents}
	for i := 0; i < r.n; i++ {
		fn(nextGroup(&c, r.seq))
	}
}

// nextGroup reads the group at c of a validated batch record.
func nextGroup(c *cursor, seq uint64) rec {
	g := rec{kind: c.u8(), seq: seq, ballot: c.ballot()}
	if g.kind == kindAccept {
		g.n = int(c.u32())
		start := c.off
		skipEntries(c, g.n, false)
		g.ents = c.b[start:c.off]
	}
	return g
}

// encodeBatch appends one batch record holding recs, which must have
// passed validateRecords and be non-empty.
func encodeBatch(dst []byte, seq uint64, recs []paxos.Record) []byte {
	dst = slices.Grow(dst, batchSize(recs))
	dst, start := beginRecord(dst, kindBatch, seq)
	countAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	groups := uint32(0)
	for i := 0; i < len(recs); groups++ {
		r := &recs[i]
		dst = appendBallot(append(dst, kindOf(r.Kind)), r.Ballot)
		if r.Kind == paxos.RecordPromise {
			i++
			continue
		}
		j, n := i, 0
		for ; j < len(recs) && recs[j].Kind == paxos.RecordAccept && recs[j].Ballot == r.Ballot; j++ {
			n += len(recs[j].Entries)
		}
		dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
		for ; i < j; i++ {
			for k := range recs[i].Entries {
				dst = appendEntry(dst, &recs[i].Entries[k], false)
			}
		}
	}
	binary.LittleEndian.PutUint32(dst[countAt:], groups)
	return endRecord(dst, start)
}

func kindOf(k paxos.RecordKind) byte {
	if k == paxos.RecordPromise {
		return kindPromise
	}
	return kindAccept
}

// batchSize bounds the encoded size of a batch record (exact when no two
// accept records merge).
func batchSize(recs []paxos.Record) int {
	n := headerSize + 4
	for i := range recs {
		n += minGroupSize + 4
		for j := range recs[i].Entries {
			n += acceptEntrySize + len(recs[i].Entries[j].Data)
		}
	}
	return n
}
