package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paxlog/paxlog/paxos"
)

// buildJournal persists single-record batches (record k accepts slot k at
// round k) into a journal of small segments: at least n records, and more
// until the last segment holds at least 5. It returns the record count.
func buildJournal(t *testing.T, n int) (dir string, o Options, count uint64) {
	t.Helper()
	dir = t.TempDir()
	o = testOpts(dir)
	o.SegmentSize = 1 << 10
	s := mustOpen(t, o)
	for k := uint64(1); ; k++ {
		if err := s.Persist([]paxos.Record{acceptRec(k, k)}); err != nil {
			t.Fatal(err)
		}
		if k >= uint64(n) && s.journal.last-s.journal.segs[len(s.journal.segs)-1]+1 >= 5 {
			count = k
			break
		}
	}
	mustClose(t, s)
	return dir, o, count
}

// wantPrefix checks that s holds exactly records 1..k-1 of buildJournal.
func wantPrefix(t *testing.T, s *Store, k uint64, what string) {
	t.Helper()
	hs := s.HardState()
	var want []paxos.Entry
	for j := uint64(1); j < k; j++ {
		want = append(want, chosenEntry(j, j))
	}
	if hs.Promised != ballot(k-1) || !sameEntries(hs.Accepted, want) {
		t.Fatalf("%s: promised %s accepted %s, want records before %d", what, hs.Promised,
			fmtEntries(hs.Accepted), k)
	}
}

// TestTornTail cuts the last segment at every byte offset inside each of
// its last three records, and separately zero-fills from that offset: Open
// succeeds with exactly the records before the damaged one.
func TestTornTail(t *testing.T) {
	t.Parallel()
	pristine, _, n := buildJournal(t, 30)
	segs := segFiles(t, filepath.Join(pristine, journalDir))
	if len(segs) < 2 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	lastSeg := segs[len(segs)-1]
	fr := frames(t, lastSeg)
	if len(fr) < 4 {
		t.Fatalf("last segment holds %d records, want >= 4", len(fr))
	}
	orig, err := os.ReadFile(lastSeg)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(pristine, lastSeg)
	cases := 0
	for i := len(fr) - 3; i < len(fr); i++ {
		k := n - uint64(len(fr)-1-i) // the record held by frame i
		for off := fr[i][0]; off < fr[i][1]; off++ {
			for _, zero := range []bool{false, true} {
				work := filepath.Join(t.TempDir(), "d")
				copyDir(t, pristine, work)
				seg := filepath.Join(work, rel)
				damaged := append([]byte(nil), orig[:off]...)
				if zero {
					damaged = append(damaged, make([]byte, len(orig)-off)...)
				}
				if err := os.WriteFile(seg, damaged, 0o640); err != nil {
					t.Fatal(err)
				}
				logs := &logBuffer{}
				o := testOpts(work)
				o.SegmentSize = 1 << 10
				o.Logger = logs.logger()
				s := mustOpen(t, o)
				wantPrefix(t, s, k, "after damage")
				if start := fr[i][0]; len(damaged) > start { // cut back to the record start
					checkTornCopy(t, seg, damaged[start:], logs.String())
				}
				if off == fr[i][0]+3 { // the repaired log takes new records
					if err := s.Persist([]paxos.Record{acceptRec(k, k)}); err != nil {
						t.Fatal(err)
					}
					mustClose(t, s)
					s = mustOpen(t, o)
					wantPrefix(t, s, k+1, "after repair and append")
				}
				mustClose(t, s)
				cases++
			}
		}
	}
	t.Logf("%d damaged copies opened", cases)
}

func checkTornCopy(t *testing.T, seg string, cut []byte, logs string) {
	t.Helper()
	matches, _ := filepath.Glob(seg + ".torn-*")
	if len(matches) != 1 {
		t.Fatalf("torn copies beside %s: %v", seg, matches)
	}
	got, err := os.ReadFile(matches[0])
	if err != nil || !bytes.Equal(got, cut) {
		t.Fatalf("torn copy holds %d bytes, want the %d cut bytes (%v)", len(got), len(cut), err)
	}
	if !strings.Contains(logs, "[WARN]  storage: cut torn tail") || !strings.Contains(logs, "file="+seg) {
		t.Fatalf("no WARN naming %s in log:\n%s", seg, logs)
	}
}

// TestFlippedBit flips every bit of non-tail records (in the first
// segment, and at the start and middle of the last one): Open fails with
// ErrCorrupt naming the segment file and the record's offset.
func TestFlippedBit(t *testing.T) {
	t.Parallel()
	dir, o, n := buildJournal(t, 30)
	segs := segFiles(t, filepath.Join(dir, journalDir))
	last := segs[len(segs)-1]
	lastFr := frames(t, last)
	targets := []struct {
		file  string
		frame [2]int
	}{
		{segs[0], frames(t, segs[0])[0]},
		{last, lastFr[0]},
		{last, lastFr[len(lastFr)-2]},
	}
	flips := 0
	for _, tg := range targets {
		orig, err := os.ReadFile(tg.file)
		if err != nil {
			t.Fatal(err)
		}
		for off := tg.frame[0]; off < tg.frame[1]; off++ {
			for bit := 0; bit < 8; bit++ {
				b := append([]byte(nil), orig...)
				b[off] ^= 1 << bit
				if err := os.WriteFile(tg.file, b, 0o640); err != nil {
					t.Fatal(err)
				}
				s, err := Open(o)
				if err == nil {
					s.Close()
					t.Fatalf("%s byte %d bit %d: Open succeeded", tg.file, off, bit)
				}
				var ce *CorruptError
				if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.File != tg.file ||
					ce.Offset != int64(tg.frame[0]) {
					t.Fatalf("%s byte %d bit %d: err = %v, want ErrCorrupt at offset %d", tg.file, off, bit,
						err, tg.frame[0])
				}
				flips++
			}
		}
		if err := os.WriteFile(tg.file, orig, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	s := mustOpen(t, o) // restored: opens again, nothing was cut
	wantPrefix(t, s, n+1, "after restoring")
	mustClose(t, s)
	t.Logf("%d flipped bits refused", flips)
}

// TestMissingSegment: a missing middle segment, or a missing first segment
// of a journal that was never compacted, is ErrCorrupt naming the file.
func TestMissingSegment(t *testing.T) {
	dir, o, _ := buildJournal(t, 60)
	segs := segFiles(t, filepath.Join(dir, journalDir))
	if len(segs) < 3 {
		t.Fatalf("want >= 3 segments, got %d", len(segs))
	}
	for _, missing := range []int{1, 0} {
		work := filepath.Join(t.TempDir(), "d")
		copyDir(t, dir, work)
		ws := segFiles(t, filepath.Join(work, journalDir))
		if err := os.Remove(ws[missing]); err != nil {
			t.Fatal(err)
		}
		o.Dir = work
		_, err := Open(o)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.File != ws[missing+1] {
			t.Fatalf("segment %d removed: err = %v, want ErrCorrupt naming %s", missing, err, ws[missing+1])
		}
	}
}

// TestChosenLogTornTailAndCorruption: the chosen log gets the same scan.
func TestChosenLogTornTailAndCorruption(t *testing.T) {
	dir := t.TempDir()
	o := testOpts(dir)
	s := mustOpen(t, o)
	for slot := uint64(1); slot <= 5; slot++ {
		if err := s.AppendChosen([]paxos.Entry{chosenEntry(1, slot)}); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, s)
	seg := segFiles(t, filepath.Join(dir, chosenDirName(1)))[0]
	fr := frames(t, seg)
	orig, _ := os.ReadFile(seg)

	os.WriteFile(seg, orig[:fr[4][0]+5], 0o640)
	s = mustOpen(t, o)
	if s.LastIndex() != 4 {
		t.Fatalf("torn chosen tail: last = %d, want 4", s.LastIndex())
	}
	mustClose(t, s)

	b := append([]byte(nil), orig[:fr[4][0]]...)
	b[fr[1][0]+9] ^= 0x10
	os.WriteFile(seg, b, 0o640)
	if _, err := Open(o); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), seg) {
		t.Fatalf("flipped bit in chosen log: %v", err)
	}
}
