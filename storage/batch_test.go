package storage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paxlog/paxlog/paxos"
)

// mixedBatch has promises, accepts at several ballots, runs of accepts at
// one ballot (stored as one group), an empty accept and a lower ballot
// that must not replace a higher one.
func mixedBatch() []paxos.Record {
	return []paxos.Record{
		{Kind: paxos.RecordPromise, Ballot: ballot(3)},
		acceptRec(3, 1, 2),
		acceptRec(3, 3),
		{Kind: paxos.RecordAccept, Ballot: ballot(3)},
		acceptRec(2, 4),
		acceptRec(5, 2),
		acceptRec(5, 6),
		acceptRec(4, 2),
		{Kind: paxos.RecordPromise, Ballot: ballot(7)},
		acceptRec(6, 8),
	}
}

// TestBatchReplaysLikeSeparateRecords: one Persist of many records gives,
// live and after reopen, the hard state that persisting them one per call
// gives.
func TestBatchReplaysLikeSeparateRecords(t *testing.T) {
	oneDir, batchDir := t.TempDir(), t.TempDir()
	one, batch := mustOpen(t, testOpts(oneDir)), mustOpen(t, testOpts(batchDir))
	for _, r := range mixedBatch() {
		if err := one.Persist([]paxos.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Persist(mixedBatch()); err != nil {
		t.Fatal(err)
	}
	want := one.HardState()
	if want.Promised != ballot(7) || len(want.Accepted) != 6 {
		t.Fatalf("reference hard state promised=%s accepted=%s", want.Promised, fmtEntries(want.Accepted))
	}
	check := func(what string, s *Store) {
		t.Helper()
		hs := s.HardState()
		if hs.Promised != want.Promised || !sameEntries(hs.Accepted, want.Accepted) {
			t.Fatalf("%s: promised=%s accepted=%s, want %s %s", what, hs.Promised, fmtEntries(hs.Accepted),
				want.Promised, fmtEntries(want.Accepted))
		}
	}
	check("live", batch)
	mustClose(t, batch)
	mustClose(t, one)
	batch = mustOpen(t, testOpts(batchDir))
	defer mustClose(t, batch)
	check("reopened", batch)
}

// TestTornBatchIsAtomic cuts the journal at every byte offset inside the
// last batch, and separately zero-fills from there: Open yields the state
// of the batches before it and nothing of the torn one.
func TestTornBatchIsAtomic(t *testing.T) {
	t.Parallel()
	pristine := t.TempDir()
	s := mustOpen(t, testOpts(pristine))
	first := []paxos.Record{acceptRec(2, 1, 2, 3), {Kind: paxos.RecordPromise, Ballot: ballot(4)}}
	if err := s.Persist(first); err != nil {
		t.Fatal(err)
	}
	want := s.HardState()
	if err := s.Persist(mixedBatch()); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	segs := segFiles(t, filepath.Join(pristine, journalDir))
	seg := segs[len(segs)-1]
	fr := frames(t, seg)
	orig, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(pristine, seg)
	last := fr[len(fr)-1]
	for off := last[0]; off < last[1]; off++ {
		for _, zero := range []bool{false, true} {
			work := filepath.Join(t.TempDir(), "d")
			copyDir(t, pristine, work)
			damaged := append([]byte(nil), orig[:off]...)
			if zero {
				damaged = append(damaged, make([]byte, len(orig)-off)...)
			}
			if err := os.WriteFile(filepath.Join(work, rel), damaged, 0o640); err != nil {
				t.Fatal(err)
			}
			s := mustOpen(t, testOpts(work))
			hs := s.HardState()
			if hs.Promised != want.Promised || !sameEntries(hs.Accepted, want.Accepted) {
				t.Fatalf("cut at %d (zero=%v): promised=%s accepted=%s, want %s %s", off, zero, hs.Promised,
					fmtEntries(hs.Accepted), want.Promised, fmtEntries(want.Accepted))
			}
			mustClose(t, s)
		}
	}
}
