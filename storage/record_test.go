package storage

import (
	"bytes"
	"encoding/binary"
	"flag"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/paxlog/paxlog/paxos"
)

func sampleRecords() [][]byte {
	ents := []paxos.Entry{chosenEntry(3, 7), {Slot: 8, Ballot: ballot(3), Noop: true}}
	return [][]byte{
		encodePromise(nil, 1, ballot(9)),
		encodeEntries(nil, kindAccept, 2, ballot(3), ents),
		encodeEntries(nil, kindJournalCP, 3, ballot(4), ents),
		encodeChosen(nil, 4, &ents[0]),
		encodeIdentity("cluster", 5),
		encodeChosenMeta(2, 100),
		encodeBlob(42, []byte("blob")),
		encodeBatch(nil, 6, []paxos.Record{
			{Kind: paxos.RecordPromise, Ballot: ballot(3)},
			{Kind: paxos.RecordAccept, Ballot: ballot(3), Entries: ents[:1]},
			{Kind: paxos.RecordAccept, Ballot: ballot(3), Entries: ents[1:]}, // merges with the one before
			{Kind: paxos.RecordAccept, Ballot: ballot(5)},
			{Kind: paxos.RecordPromise, Ballot: ballot(5)},
			{Kind: paxos.RecordAccept, Ballot: ballot(5), Entries: []paxos.Entry{{Slot: 9, Ballot: ballot(5), Data: []byte("x")}}},
		}),
	}
}

// reencode encodes a decoded record again, for the round-trip check.
func reencode(r *rec) []byte {
	var ents []paxos.Entry
	r.eachEntry(func(e paxos.Entry) { ents = append(ents, e) })
	switch r.kind {
	case kindPromise:
		return encodePromise(nil, r.seq, r.ballot)
	case kindAccept, kindJournalCP:
		return encodeEntries(nil, r.kind, r.seq, r.ballot, ents)
	case kindChosen:
		return encodeChosen(nil, r.seq, &ents[0])
	case kindIdentity:
		return encodeIdentity(string(r.data), r.a)
	case kindChosenMeta:
		return encodeChosenMeta(r.a, r.b)
	case kindBlob:
		return encodeBlob(r.a, r.data)
	case kindBatch:
		var recs []paxos.Record
		r.eachGroup(func(g rec) {
			pr := paxos.Record{Kind: paxos.RecordPromise, Ballot: g.ballot}
			if g.kind == kindAccept {
				pr.Kind = paxos.RecordAccept
				g.eachEntry(func(e paxos.Entry) { pr.Entries = append(pr.Entries, e) })
			}
			recs = append(recs, pr)
		})
		return encodeBatch(nil, r.seq, recs)
	}
	return nil
}

func TestRecordRoundTrip(t *testing.T) {
	for _, b := range sampleRecords() {
		r, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("kind %d: %v", b[4], err)
		}
		if got := reencode(&r); !bytes.Equal(got, b) {
			t.Fatalf("kind %d: round trip differs", b[4])
		}
		for i := 0; i < len(b); i++ { // every short record is invalid
			if _, err := decodeRecord(b[:i]); err == nil {
				t.Fatalf("kind %d: prefix of %d bytes accepted", b[4], i)
			}
		}
	}
}

// withCRC fixes the checksum of a hand-made record.
func withCRC(b []byte) []byte {
	binary.LittleEndian.PutUint32(b, crc32.Checksum(b[4:], castagnoli))
	return b
}

// hugeRecords claim gigabyte lengths and counts behind valid checksums.
func hugeRecords() [][]byte {
	hdr := func(kind byte) []byte {
		b := []byte{0, 0, 0, 0, kind}
		return binary.LittleEndian.AppendUint64(b, 1)
	}
	acceptHuge := binary.LittleEndian.AppendUint32(append(hdr(kindAccept), make([]byte, 16)...), 1<<30)
	entryHuge := binary.LittleEndian.AppendUint32(append(hdr(kindAccept), make([]byte, 16)...), 1)
	entryHuge = binary.LittleEndian.AppendUint64(entryHuge, 1)
	entryHuge = append(entryHuge, 0)
	entryHuge = binary.LittleEndian.AppendUint32(entryHuge, 0xffffffff)
	blobHuge := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint64(hdr(kindBlob), 1), 3<<30)
	identHuge := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint64(hdr(kindIdentity), 1), 1<<31)
	groupsHuge := binary.LittleEndian.AppendUint32(hdr(kindBatch), 1<<30)
	groupHuge := append(binary.LittleEndian.AppendUint32(hdr(kindBatch), 1), kindAccept)
	groupHuge = binary.LittleEndian.AppendUint32(append(groupHuge, make([]byte, 16)...), 1<<31)
	return [][]byte{withCRC(acceptHuge), withCRC(entryHuge), withCRC(blobHuge), withCRC(identHuge),
		withCRC(groupsHuge), withCRC(groupHuge)}
}

// FuzzRecord: the decoder never panics, never allocates more than the
// record's own size, and whatever it accepts re-encodes to the same bytes.
// The seed corpus (testdata/fuzz/FuzzRecord) holds records claiming
// gigabyte lengths and counts.
func FuzzRecord(f *testing.F) {
	for _, b := range append(sampleRecords(), hugeRecords()...) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		n := 0
		if err == nil {
			r.eachEntry(func(e paxos.Entry) { n += len(e.Data) })
		}
		if !fuzzing() { // ReadMemStats stalls the fuzzing engine's workers
			checkNoAlloc(t, b)
		}
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("entries hold %d data bytes in a %d-byte record", n, len(b))
		}
		if got := reencode(&r); !bytes.Equal(got, b) {
			t.Fatalf("accepted record does not round-trip")
		}
	})
}

func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// checkNoAlloc: decoding b and walking its entries allocates nothing, so
// never more than the record's own size.
func checkNoAlloc(t *testing.T, b []byte) {
	t.Helper()
	allocs := testing.AllocsPerRun(20, func() {
		if r, err := decodeRecord(b); err == nil {
			r.eachEntry(func(paxos.Entry) {})
		}
	})
	if allocs != 0 {
		t.Fatalf("decoding %d bytes allocated %v times", len(b), allocs)
	}
}

// TestDecodeAllocatesNothing runs the allocation check over random and
// truncated inputs as well (FuzzRecord only checks it outside fuzzing).
func TestDecodeAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := append(sampleRecords(), hugeRecords()...)
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.IntN(200))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if len(b) > 5 {
			b[4] = byte(rng.IntN(int(kindMax) + 2))
			b = withCRC(b)
		}
		inputs = append(inputs, b)
	}
	for _, b := range inputs {
		checkNoAlloc(t, b)
	}
}

// TestFuzzCorpusClaimsHugeLengths keeps the checked-in seed corpus honest:
// it exists and its entries claim lengths or counts of a gigabyte or more
// that the decoder refuses.
func TestFuzzCorpusClaimsHugeLengths(t *testing.T) {
	files, _ := filepath.Glob("testdata/fuzz/FuzzRecord/*")
	if len(files) < len(hugeRecords()) {
		t.Fatalf("seed corpus has %d files", len(files))
	}
	for _, b := range hugeRecords() {
		if _, err := decodeRecord(b); err == nil {
			t.Fatal("huge claim accepted")
		}
	}
	for _, f := range files {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
}
