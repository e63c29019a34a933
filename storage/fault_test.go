package storage

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paxlog/paxlog/paxos"
)

// TestFailStop injects a write error and, separately, an fsync error into
// the journal: the failing Persist fails, the store is poisoned, every later
// call fails with ErrPoisoned, and a reopen yields exactly the records
// whose Persist returned success.
func TestFailStop(t *testing.T) {
	for _, mode := range []string{"write", "fsync"} {
		t.Run(mode, func(t *testing.T) {
			fsys := newFaultFS()
			o := testOpts(t.TempDir())
			o.FS = fsys
			o.SegmentSize = 1 << 10
			s := mustOpen(t, o)
			acked := uint64(0)
			for k := uint64(1); k <= 20; k++ {
				if err := s.Persist([]paxos.Record{acceptRec(k, k)}); err != nil {
					t.Fatal(err)
				}
				acked = k
			}
			if err := s.AppendChosen([]paxos.Entry{chosenEntry(1, 1)}); err != nil {
				t.Fatal(err)
			}
			journal := filepath.Join(o.Dir, journalDir)
			inJournal := func(p string) bool { return strings.HasPrefix(p, journal) }
			fsys.mu.Lock()
			if mode == "write" {
				fsys.failWrite = inJournal
			} else {
				fsys.failSync = inJournal
			}
			fsys.mu.Unlock()

			err := s.Persist([]paxos.Record{acceptRec(21, 21), acceptRec(21, 22)})
			if !errors.Is(err, ErrPoisoned) || !errors.Is(err, errInjected) {
				t.Fatalf("failing persist: %v", err)
			}
			fsys.mu.Lock()
			fsys.failWrite, fsys.failSync = nil, nil // the disk "recovers": the store must not
			fsys.mu.Unlock()
			later := map[string]error{
				"persist":    s.Persist([]paxos.Record{acceptRec(22, 23)}),
				"append":     s.AppendChosen([]paxos.Entry{chosenEntry(1, 2)}),
				"sync":       s.Sync(),
				"trim":       s.TrimChosen(2),
				"reset":      s.ResetChosen(5),
				"checkpoint": s.SetCheckpoint(1, nil),
			}
			_, later["entries"] = s.Entries(1, 100)
			later["close"] = s.Close()
			for op, err := range later {
				if !errors.Is(err, ErrPoisoned) {
					t.Errorf("%s after failure: %v, want ErrPoisoned", op, err)
				}
			}

			o.FS = nil
			s = mustOpen(t, o)
			defer mustClose(t, s)
			hs := s.HardState()
			var want []paxos.Entry
			for k := uint64(2); k <= acked; k++ {
				want = append(want, chosenEntry(k, k))
			}
			if hs.Promised != ballot(acked) || !sameEntries(hs.Accepted, want) || hs.Chosen != 1 {
				t.Fatalf("after reopen: promised %s chosen %d accepted %s", hs.Promised, hs.Chosen,
					fmtEntries(hs.Accepted))
			}
		})
	}
}

// TestCheckpointWriteErrorPoisons: a write error in a file of our own
// (the checkpoint blob) poisons the store too.
func TestCheckpointWriteErrorPoisons(t *testing.T) {
	fsys := newFaultFS()
	o := testOpts(t.TempDir())
	o.FS = fsys
	s := mustOpen(t, o)
	fsys.mu.Lock()
	fsys.failWrite = func(p string) bool { return strings.Contains(p, checkpointFile) }
	fsys.mu.Unlock()
	if err := s.SetCheckpoint(3, []byte("x")); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("set checkpoint: %v", err)
	}
	if err := s.Persist([]paxos.Record{acceptRec(1, 1)}); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("persist after failure: %v", err)
	}
	s.Close()
}

// TestLostUnsyncedWrites simulates a crash that loses everything not
// fsynced: every acknowledged Persist survives; chosen entries appended
// without Sync may be lost, and then their slots are still in the
// recovered acceptor state from the journal.
func TestLostUnsyncedWrites(t *testing.T) {
	fsys := newFaultFS()
	o := testOpts(t.TempDir())
	o.FS = fsys
	o.SegmentSize = 2 << 10
	o.JournalCompactBytes = 6 << 10
	s := mustOpen(t, o)
	for k := uint64(1); k <= 300; k++ {
		if err := s.Persist([]paxos.Record{acceptRec(k, k)}); err != nil {
			t.Fatal(err)
		}
		if k > 3 {
			if err := s.AppendChosen([]paxos.Entry{chosenEntry(k-3, k-3)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s.journal.first == 1 {
		t.Fatal("journal never compacted: the test does not cover compaction")
	}
	fsys.crash(t, o.Dir) // s is abandoned as a crashed process would be
	s.lock.release()     // as the kernel does when a process dies
	o.FS = nil
	s2 := mustOpen(t, o)
	defer mustClose(t, s2)
	hs := s2.HardState()
	if hs.Chosen >= 297 {
		t.Fatalf("chosen log kept %d entries: the crash lost nothing", hs.Chosen)
	}
	if hs.Promised != ballot(300) {
		t.Fatalf("promised %s", hs.Promised)
	}
	for slot := hs.First; slot <= hs.Chosen; slot++ {
		if e, err := s2.Entry(slot); err != nil || !sameEntry(e, chosenEntry(slot, slot)) {
			t.Fatalf("chosen slot %d: %v %v", slot, e, err)
		}
	}
	var want []paxos.Entry
	for k := hs.Chosen + 1; k <= 300; k++ {
		want = append(want, chosenEntry(k, k))
	}
	if !sameEntries(hs.Accepted, want) {
		t.Fatalf("chosen %d, accepted %s", hs.Chosen, fmtEntries(hs.Accepted))
	}
}
