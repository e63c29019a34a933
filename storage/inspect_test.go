package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/paxlog/paxlog/paxos"
)

// inspectAll collects every Item of dir.
func inspectAll(t *testing.T, dir string) ([]Item, error) {
	t.Helper()
	var items []Item
	err := Inspect(dir, func(it Item) error {
		items = append(items, it)
		return nil
	})
	return items, err
}

// itemKinds lists the kinds of items, with their WAL index for log records.
func itemKinds(items []Item) string {
	var b strings.Builder
	for _, it := range items {
		if it.Index != 0 {
			fmt.Fprintf(&b, "%s#%d ", it.Kind, it.Index)
		} else {
			b.WriteString(it.Kind + " ")
		}
	}
	return strings.TrimSpace(b.String())
}

// dirBytes is every file of dir with its full contents, for checking that
// nothing changed.
func dirBytes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			out[p] = "dir"
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = fmt.Sprintf("%v %s", fi.ModTime(), b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameDir(a, b map[string]string) string {
	var diff []string
	for k, v := range a {
		if b[k] != v {
			diff = append(diff, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			diff = append(diff, k+" (new)")
		}
	}
	sort.Strings(diff)
	return strings.Join(diff, ", ")
}

// TestInspectRecordsInOrder writes batches, chosen entries and a
// checkpoint blob through a Store and reads each record back with Inspect:
// kinds in file order, offsets and lengths covering each segment exactly,
// and the contents of every record.
func TestInspectRecordsInOrder(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, testOpts(dir))
	batches := [][]paxos.Record{
		{{Kind: paxos.RecordPromise, Ballot: ballot(1)}},
		{acceptRec(2, 1, 2), acceptRec(2, 3)}, // one accept group of three entries
		{{Kind: paxos.RecordPromise, Ballot: ballot(3)}, acceptRec(3, 4)},
	}
	for _, b := range batches {
		if err := s.Persist(b); err != nil {
			t.Fatal(err)
		}
	}
	chosen := []paxos.Entry{chosenEntry(2, 1), chosenEntry(2, 2), {Slot: 3, Ballot: ballot(2), Noop: true}}
	if err := s.AppendChosen(chosen); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCheckpoint(2, []byte("dedup table")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)

	items, err := inspectAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "identity meta checkpoint-blob batch#1 batch#2 batch#3 chosen#1 chosen#2 chosen#3"
	if got := itemKinds(items); got != want {
		t.Fatalf("items %q, want %q", got, want)
	}
	id, meta, blob := items[0], items[1], items[2]
	if id.File != filepath.Join(dir, identityFile) || id.ClusterID != "test-cluster" || id.NodeID != 1 || !id.Rebuilding {
		t.Errorf("identity item %+v", id)
	}
	if meta.Gen != 1 || meta.Base != 1 || meta.File != filepath.Join(dir, chosenMetaFile) {
		t.Errorf("meta item %+v", meta)
	}
	if blob.Slot != 2 || string(blob.Data) != "dedup table" {
		t.Errorf("checkpoint-blob item %+v", blob)
	}

	b1, b2, b3 := items[3], items[4], items[5]
	if len(b1.Groups) != 1 || b1.Groups[0].Kind != ItemPromise || b1.Groups[0].Ballot != ballot(1) || len(b1.Entries) != 0 {
		t.Errorf("batch 1: %+v", b1)
	}
	wantB2 := append(acceptRec(2, 1, 2).Entries, acceptRec(2, 3).Entries...)
	if len(b2.Groups) != 1 || b2.Groups[0].Kind != ItemAccept || b2.Groups[0].Ballot != ballot(2) ||
		!sameEntries(b2.Groups[0].Entries, wantB2) || !sameEntries(b2.Entries, wantB2) {
		t.Errorf("batch 2: groups %+v entries %s", b2.Groups, fmtEntries(b2.Entries))
	}
	if len(b3.Groups) != 2 || b3.Groups[0].Kind != ItemPromise || b3.Groups[1].Kind != ItemAccept ||
		b3.Groups[1].Ballot != ballot(3) || !sameEntries(b3.Entries, acceptRec(3, 4).Entries) {
		t.Errorf("batch 3: groups %+v entries %s", b3.Groups, fmtEntries(b3.Entries))
	}
	for i, it := range items[6:] {
		if len(it.Entries) != 1 || !sameEntry(it.Entries[0], chosen[i]) {
			t.Errorf("chosen #%d: %s, want %s", it.Index, fmtEntries(it.Entries), fmtEntries(chosen[i:i+1]))
		}
	}
	checkFrames(t, items[3:6], filepath.Join(dir, journalDir))
	checkFrames(t, items[6:], filepath.Join(dir, chosenDirName(1)))
}

// checkFrames checks that the log items of one single-segment WAL
// directory sit exactly on its tidwall frames, in order.
func checkFrames(t *testing.T, items []Item, walDir string) {
	t.Helper()
	segs := segFiles(t, walDir)
	if len(segs) != 1 {
		t.Fatalf("%s: segments %v", walDir, segs)
	}
	fr := frames(t, segs[0])
	if len(fr) != len(items) {
		t.Fatalf("%s: %d frames, %d items", segs[0], len(fr), len(items))
	}
	for i, it := range items {
		if it.File != segs[0] || it.Offset != int64(fr[i][0]) || it.Len != int64(fr[i][1]-fr[i][0]) {
			t.Errorf("item %d: %s@%d+%d, want %s@%d+%d", i, it.File, it.Offset, it.Len, segs[0], fr[i][0], fr[i][1]-fr[i][0])
		}
	}
}

// TestInspectCompactedJournal replays the records Inspect reports from a
// compacted, multi-segment journal and gets the HardState Open recovers.
func TestInspectCompactedJournal(t *testing.T) {
	dir := t.TempDir()
	o := testOpts(dir)
	o.SegmentSize = 4 << 10
	o.JournalCompactBytes = 8 << 10
	s := mustOpen(t, o)
	for slot := uint64(1); slot <= 300; slot++ {
		round := 1 + slot/50
		if err := s.Persist([]paxos.Record{acceptRec(round, slot)}); err != nil {
			t.Fatal(err)
		}
		if slot%3 == 0 {
			if err := s.AppendChosen([]paxos.Entry{chosenEntry(round, slot/3)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustClose(t, s)
	s = mustOpen(t, o)
	hs := s.HardState()
	mustClose(t, s)

	items, err := inspectAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	var promised paxos.Ballot
	acc := map[uint64]paxos.Entry{}
	firstJournal, chosenLast := "", uint64(0)
	files := map[string]bool{}
	for _, it := range items {
		files[it.File] = true
		switch it.Kind {
		case ItemJournalCP:
			promised, acc = it.Ballot, map[uint64]paxos.Entry{}
			for _, e := range it.Entries {
				acc[e.Slot] = e
			}
		case ItemBatch:
			for _, g := range it.Groups {
				if promised.Less(g.Ballot) {
					promised = g.Ballot
				}
				for _, e := range g.Entries {
					if old, ok := acc[e.Slot]; !ok || !e.Ballot.Less(old.Ballot) {
						acc[e.Slot] = e
					}
				}
			}
		case ItemChosen:
			chosenLast = it.Entries[0].Slot
		}
		if firstJournal == "" && (it.Kind == ItemJournalCP || it.Kind == ItemBatch) {
			firstJournal = it.Kind
		}
	}
	if firstJournal != ItemJournalCP {
		t.Errorf("compacted journal starts with %q, want a checkpoint; items %s", firstJournal, itemKinds(items))
	}
	if len(files) < 6 {
		t.Errorf("records in %d files, want several segments per log", len(files))
	}
	var accepted []paxos.Entry
	for slot, e := range acc {
		if slot > chosenLast {
			accepted = append(accepted, e)
		}
	}
	sort.Slice(accepted, func(i, j int) bool { return accepted[i].Slot < accepted[j].Slot })
	if promised != hs.Promised || chosenLast != hs.Chosen || !sameEntries(accepted, hs.Accepted) {
		t.Errorf("replayed items: promised %s chosen %d accepted %s\nOpen: promised %s chosen %d accepted %s",
			promised, chosenLast, fmtEntries(accepted), hs.Promised, hs.Chosen, fmtEntries(hs.Accepted))
	}
}

// TestInspectTornTail appends half a record to the journal: Inspect
// reports it as a torn tail where Open would cut, after every valid
// record, and the directory is byte-for-byte unchanged.
func TestInspectTornTail(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, testOpts(dir))
	for round := uint64(1); round <= 3; round++ {
		if err := s.Persist([]paxos.Record{acceptRec(round, round)}); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, s)
	seg := segFiles(t, filepath.Join(dir, journalDir))[0]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	fr := frames(t, seg)
	last := data[fr[2][0]:fr[2][1]]
	torn := append(append([]byte{}, data...), last[:len(last)/2]...) // a torn 4th record
	if err := os.WriteFile(seg, torn, 0o640); err != nil {
		t.Fatal(err)
	}
	before := dirBytes(t, dir)

	items, err := inspectAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := itemKinds(items), "identity meta batch#1 batch#2 batch#3 torn-tail#4"; got != want {
		t.Fatalf("items %q, want %q", got, want)
	}
	tt := items[len(items)-1]
	if tt.File != seg || tt.Offset != int64(len(data)) || tt.Len != int64(len(last)/2) {
		t.Errorf("torn tail %+v, want %s offset %d length %d", tt, seg, len(data), len(last)/2)
	}
	if diff := sameDir(before, dirBytes(t, dir)); diff != "" {
		t.Errorf("Inspect changed %s", diff)
	}

	// Open cuts exactly there.
	cp := t.TempDir()
	copyDir(t, dir, cp)
	mustClose(t, mustOpen(t, testOpts(cp)))
	fi, err := os.Stat(filepath.Join(cp, journalDir, filepath.Base(seg)))
	if err != nil || fi.Size() != tt.Offset {
		t.Errorf("Open cut the segment to %v (%v), Inspect said offset %d", fi.Size(), err, tt.Offset)
	}
}

// TestInspectCorrupt flips a byte of a record followed by valid records,
// of the identity file, and removes a middle segment: Inspect returns the
// *CorruptError Open returns (same file and offset) and changes nothing.
func TestInspectCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string) (file string, off int64)
	}{
		{"journal record", func(t *testing.T, dir string) (string, int64) {
			seg := segFiles(t, filepath.Join(dir, journalDir))[0]
			fr := frames(t, seg)
			flip(t, seg, fr[1][0]+20)
			return seg, int64(fr[1][0])
		}},
		{"chosen record", func(t *testing.T, dir string) (string, int64) {
			seg := segFiles(t, filepath.Join(dir, chosenDirName(1)))[0]
			fr := frames(t, seg)
			flip(t, seg, fr[0][1]-1)
			return seg, int64(fr[0][0])
		}},
		{"identity", func(t *testing.T, dir string) (string, int64) {
			path := filepath.Join(dir, identityFile)
			flip(t, path, 15)
			return path, 0
		}},
		{"missing segment", func(t *testing.T, dir string) (string, int64) {
			segs := segFiles(t, filepath.Join(dir, chosenDirName(1)))
			if err := os.Remove(segs[1]); err != nil {
				t.Fatal(err)
			}
			return segs[2], -1
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := testOpts(dir)
			o.SegmentSize = 1 << 10
			o.JournalCompactBytes = 1 << 20 // no compaction: several journal segments
			s := mustOpen(t, o)
			for slot := uint64(1); slot <= 60; slot++ {
				if err := s.Persist([]paxos.Record{acceptRec(1, slot)}); err != nil {
					t.Fatal(err)
				}
				if err := s.AppendChosen([]paxos.Entry{chosenEntry(1, slot)}); err != nil {
					t.Fatal(err)
				}
			}
			mustClose(t, s)
			file, off := tc.damage(t, dir)
			before := dirBytes(t, dir)
			cp := t.TempDir()
			copyDir(t, dir, cp)

			_, err := inspectAll(t, dir)
			var ce *CorruptError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.File != file || ce.Offset != off {
				t.Fatalf("Inspect: %v, want corruption at %s offset %d", err, file, off)
			}
			if diff := sameDir(before, dirBytes(t, dir)); diff != "" {
				t.Errorf("Inspect changed %s", diff)
			}
			_, oerr := Open(testOpts(cp))
			var oce *CorruptError
			if !errors.As(oerr, &oce) || strings.Replace(oce.File, cp, dir, 1) != ce.File || oce.Offset != ce.Offset {
				t.Errorf("Inspect: %v\nOpen:    %v", err, oerr)
			}
		})
	}
}

// TestInspectStops returns fn's error unchanged and refuses a missing
// directory.
func TestInspectStops(t *testing.T) {
	dir := t.TempDir()
	mustClose(t, mustOpen(t, testOpts(dir)))
	stop := errors.New("enough")
	n := 0
	err := Inspect(dir, func(Item) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("Inspect: %v after %d items, want %v after 1", err, n, stop)
	}
	if err := Inspect(filepath.Join(dir, "nope"), func(Item) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Inspect of a missing dir: %v", err)
	}
}

func flip(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x10
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// TestInspectUnfinishedTruncation leaves a tidwall TruncateFront half done
// in the chosen log (the .START copy written, old segments not yet
// removed): Inspect reports it and reads the log as Open finishes it,
// without finishing it itself.
func TestInspectUnfinishedTruncation(t *testing.T) {
	dir := t.TempDir()
	o := testOpts(dir)
	o.SegmentSize = 1 << 10
	s := mustOpen(t, o)
	for slot := uint64(1); slot <= 60; slot++ {
		if err := s.AppendChosen([]paxos.Entry{chosenEntry(1, slot)}); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, s)
	segs := segFiles(t, filepath.Join(dir, chosenDirName(1)))
	if len(segs) < 3 {
		t.Fatalf("chosen log segments %v, want 3 or more", segs)
	}
	data, err := os.ReadFile(segs[1])
	if err != nil {
		t.Fatal(err)
	}
	start := segs[1] + ".START"
	if err := os.WriteFile(start, data, 0o640); err != nil {
		t.Fatal(err)
	}
	first, _ := parseSegName(filepath.Base(segs[1]))
	before := dirBytes(t, dir)

	items, err := inspectAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	var tr *Item
	var chosen []Item
	for i := range items {
		switch items[i].Kind {
		case ItemTruncation:
			tr = &items[i]
		case ItemChosen:
			chosen = append(chosen, items[i])
		}
	}
	if tr == nil || tr.File != start || tr.Index != first || strings.Join(tr.Replaced, ",") != segs[0]+","+segs[1] {
		t.Fatalf("truncation item %+v, want %s at %d replacing %v", tr, start, first, segs[:2])
	}
	if len(chosen) != int(60-first+1) || chosen[0].Index != first || chosen[0].File != start || chosen[len(chosen)-1].Index != 60 {
		t.Errorf("chosen items %s", itemKinds(chosen))
	}
	if diff := sameDir(before, dirBytes(t, dir)); diff != "" {
		t.Errorf("Inspect changed %s", diff)
	}
	s = mustOpen(t, o)
	defer mustClose(t, s)
	if s.FirstIndex() != first || s.LastIndex() != 60 {
		t.Errorf("Open: chosen log [%d,%d], Inspect said [%d,60]", s.FirstIndex(), s.LastIndex(), first)
	}
}

// TestInspectLegacyRecords reads a journal of whole promise and accept
// records (written by versions before batch records).
func TestInspectLegacyRecords(t *testing.T) {
	dir := t.TempDir()
	mustClose(t, mustOpen(t, testOpts(dir)))
	acc := acceptRec(2, 1, 2)
	var seg []byte
	for _, rec := range [][]byte{encodePromise(nil, 1, ballot(1)), encodeEntries(nil, kindAccept, 2, ballot(2), acc.Entries)} {
		seg = binary.AppendUvarint(seg, uint64(len(rec)))
		seg = append(seg, rec...)
	}
	if err := os.WriteFile(filepath.Join(dir, journalDir, segmentName(1)), seg, 0o640); err != nil {
		t.Fatal(err)
	}
	items, err := inspectAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := itemKinds(items), "identity meta promise#1 accept#2"; got != want {
		t.Fatalf("items %q, want %q", got, want)
	}
	p, a := items[2], items[3]
	if p.Ballot != ballot(1) || a.Ballot != ballot(2) || !sameEntries(a.Entries, acc.Entries) || a.Offset != p.Len {
		t.Errorf("promise %+v\naccept %+v %s", p, a, fmtEntries(a.Entries))
	}
	s := mustOpen(t, testOpts(dir))
	defer mustClose(t, s)
	if hs := s.HardState(); hs.Promised != ballot(2) || !sameEntries(hs.Accepted, acc.Entries) {
		t.Errorf("Open of the same journal: %+v", hs)
	}
}
