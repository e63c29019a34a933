package storage

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

func TestPersistReopenHardState(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, testOpts(dir))
	if hs := s.HardState(); hs.First != 1 || hs.Chosen != 0 || len(hs.Accepted) != 0 || !hs.Promised.IsZero() {
		t.Fatalf("fresh hard state = %+v", hs)
	}
	recs := []paxos.Record{
		{Kind: paxos.RecordPromise, Ballot: ballot(3)},
		acceptRec(3, 1, 2, 3),
		acceptRec(2, 4), // lower ballot accepted at a new slot still counts
		acceptRec(5, 2),
		acceptRec(4, 2), // lower than the ballot already held for slot 2
	}
	for _, r := range recs {
		if err := s.Persist([]paxos.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	want := []paxos.Entry{chosenEntry(3, 1), chosenEntry(5, 2), chosenEntry(3, 3), chosenEntry(2, 4)}
	check := func(s *Store) {
		t.Helper()
		hs := s.HardState()
		if hs.Promised != ballot(5) || !sameEntries(hs.Accepted, want) {
			t.Fatalf("hard state promised=%s accepted=%s, want 5.1 %s", hs.Promised,
				fmtEntries(hs.Accepted), fmtEntries(want))
		}
	}
	check(s)
	mustClose(t, s)
	s = mustOpen(t, testOpts(dir))
	defer mustClose(t, s)
	check(s)
}

func TestPersistRejectsInvalidRecords(t *testing.T) {
	s := mustOpen(t, testOpts(t.TempDir()))
	defer mustClose(t, s)
	bad := [][]paxos.Record{
		{{Kind: 9, Ballot: ballot(1)}},
		{{Kind: paxos.RecordAccept, Ballot: ballot(1), Entries: []paxos.Entry{{Slot: 0, Ballot: ballot(1)}}}},
		{{Kind: paxos.RecordAccept, Ballot: ballot(2), Entries: []paxos.Entry{{Slot: 1, Ballot: ballot(1)}}}},
		{{Kind: paxos.RecordPromise, Ballot: ballot(1), Entries: []paxos.Entry{{Slot: 1}}}},
	}
	for i, recs := range bad {
		if err := s.Persist(recs); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: err = %v, want ErrInvalid", i, err)
		}
	}
	if err := s.Persist([]paxos.Record{acceptRec(1, 1)}); err != nil {
		t.Fatalf("store unusable after invalid input: %v", err)
	}
}

func TestChosenLogReadTrimReset(t *testing.T) {
	dir := t.TempDir()
	o := testOpts(dir)
	o.SegmentSize = 1 << 10 // many segments
	o.CacheBytes = 400      // most reads are cold
	s := mustOpen(t, o)
	var all []paxos.Entry
	for slot := uint64(1); slot <= 300; slot += 10 {
		var batch []paxos.Entry
		for i := uint64(0); i < 10; i++ {
			batch = append(batch, chosenEntry(1, slot+i))
		}
		batch[3].Noop, batch[3].Data = true, nil
		if err := s.AppendChosen(batch); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
	}
	if err := s.AppendChosen([]paxos.Entry{chosenEntry(1, 302)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("gap accepted: %v", err)
	}
	if n := len(s.view.Load().cache); n >= 30 {
		t.Fatalf("cache holds %d entries with CacheBytes 400", n)
	}
	readAll := func(s *Store, from uint64) {
		t.Helper()
		got, err := s.Entries(from, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if !sameEntries(got, all[from-1:]) {
			t.Fatalf("Entries(%d) = %s", from, fmtEntries(got[:5]))
		}
		one, err := s.Entries(from, 1)
		if err != nil || len(one) != 1 || !sameEntry(one[0], all[from-1]) {
			t.Fatalf("Entries(%d, 1) = %v, %v", from, one, err)
		}
	}
	readAll(s, 1)
	readAll(s, 295)
	if _, err := s.Entry(301); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Entry(301) err = %v", err)
	}
	if err := s.TrimChosen(150); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Entries(149, 100); !errors.Is(err, paxos.ErrCompacted) {
		t.Fatalf("read below trim: %v", err)
	}
	readAll(s, 150)
	mustClose(t, s)

	s = mustOpen(t, o)
	if s.FirstIndex() != 150 || s.LastIndex() != 300 {
		t.Fatalf("after reopen first=%d last=%d", s.FirstIndex(), s.LastIndex())
	}
	readAll(s, 150)
	if err := s.TrimChosen(301); err != nil { // trim everything
		t.Fatal(err)
	}
	if s.FirstIndex() != 301 || s.LastIndex() != 300 {
		t.Fatalf("after full trim first=%d last=%d", s.FirstIndex(), s.LastIndex())
	}
	if err := s.ResetChosen(1000); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendChosen([]paxos.Entry{chosenEntry(2, 1000), chosenEntry(2, 1001)}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	s = mustOpen(t, o)
	defer mustClose(t, s)
	if s.FirstIndex() != 1000 || s.LastIndex() != 1001 {
		t.Fatalf("after reset+reopen first=%d last=%d", s.FirstIndex(), s.LastIndex())
	}
	if e, err := s.Entry(1001); err != nil || !sameEntry(e, chosenEntry(2, 1001)) {
		t.Fatalf("Entry(1001) = %v, %v", e, err)
	}
	if _, err := os.Stat(filepath.Join(dir, chosenDirName(1))); !os.IsNotExist(err) {
		t.Fatalf("old chosen generation still present: %v", err)
	}
}

func TestChosenSlotsLeaveHardState(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, testOpts(dir))
	if err := s.Persist([]paxos.Record{acceptRec(1, 1, 2, 3, 4)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendChosen([]paxos.Entry{chosenEntry(1, 1), chosenEntry(1, 2)}); err != nil {
		t.Fatal(err)
	}
	want := []paxos.Entry{chosenEntry(1, 3), chosenEntry(1, 4)}
	if hs := s.HardState(); !sameEntries(hs.Accepted, want) || hs.Chosen != 2 {
		t.Fatalf("hard state %+v", hs)
	}
	mustClose(t, s)
	s = mustOpen(t, testOpts(dir))
	defer mustClose(t, s)
	if hs := s.HardState(); !sameEntries(hs.Accepted, want) || hs.Chosen != 2 || hs.First != 1 {
		t.Fatalf("hard state after reopen %+v", hs)
	}
}

func TestCheckpointBlob(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, testOpts(dir))
	if slot, data := s.Checkpoint(); slot != 0 || data != nil {
		t.Fatalf("fresh checkpoint = %d %q", slot, data)
	}
	if err := s.SetCheckpoint(42, []byte("dedup table")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	s = mustOpen(t, testOpts(dir))
	defer mustClose(t, s)
	if slot, data := s.Checkpoint(); slot != 42 || string(data) != "dedup table" {
		t.Fatalf("checkpoint after reopen = %d %q", slot, data)
	}
}

// TestJournalCompaction: the journal stays bounded while the chosen log
// advances, and recovery after compaction equals the persisted state.
func TestJournalCompaction(t *testing.T) {
	dir := t.TempDir()
	o := testOpts(dir)
	o.SegmentSize = 2 << 10
	o.JournalCompactBytes = 8 << 10
	s := mustOpen(t, o)
	for slot := uint64(1); slot <= 2000; slot++ {
		round := slot/100 + 1
		if err := s.Persist([]paxos.Record{{Kind: paxos.RecordPromise, Ballot: ballot(round)}, acceptRec(round, slot)}); err != nil {
			t.Fatal(err)
		}
		if slot > 5 {
			if err := s.AppendChosen([]paxos.Entry{chosenEntry((slot-5)/100+1, slot-5)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s.journal.first == 1 {
		t.Fatal("journal never compacted")
	}
	if s.journal.bytes > 3*int64(o.JournalCompactBytes) {
		t.Fatalf("journal holds %d bytes", s.journal.bytes)
	}
	want := s.HardState()
	if len(want.Accepted) != 5 || want.Chosen != 1995 {
		t.Fatalf("hard state before reopen: chosen %d accepted %s", want.Chosen, fmtEntries(want.Accepted))
	}
	mustClose(t, s)
	s = mustOpen(t, o)
	defer mustClose(t, s)
	got := s.HardState()
	if got.Promised != want.Promised || got.Chosen != want.Chosen || !sameEntries(got.Accepted, want.Accepted) {
		t.Fatalf("after reopen %+v, want %+v", got, want)
	}
}

// TestReadersNeverWaitForFsync: while a Persist is stuck in its journal
// fsync, readers of the chosen log are served and a chosen-log append
// (even of the slot being accepted) completes; the accept that lands after
// it does not reappear as live acceptor state.
func TestReadersNeverWaitForFsync(t *testing.T) {
	fsys := newFaultFS()
	o := testOpts(t.TempDir())
	o.FS = fsys
	o.CacheBytes = 200
	s := mustOpen(t, o)
	defer mustClose(t, s)
	var ents []paxos.Entry
	for slot := uint64(1); slot <= 50; slot++ {
		ents = append(ents, chosenEntry(1, slot))
	}
	if err := s.AppendChosen(ents); err != nil {
		t.Fatal(err)
	}
	block := make(chan struct{})
	fsys.mu.Lock()
	fsys.block = block
	fsys.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- s.Persist([]paxos.Record{acceptRec(1, 51)}) }()
	deadline := time.After(10 * time.Second)
	select {
	case <-fsys.entered:
	case <-deadline:
		t.Fatal("persist never reached its fsync")
	}
	got, err := s.Entries(1, 1<<20)
	if err != nil || !sameEntries(got, ents) {
		t.Fatalf("read during fsync: %v", err)
	}
	if s.FirstIndex() != 1 || s.LastIndex() != 50 {
		t.Fatal("bad bounds during fsync")
	}
	appended := make(chan error, 1)
	go func() { appended <- s.AppendChosen([]paxos.Entry{chosenEntry(1, 51)}) }()
	select {
	case err := <-appended:
		if err != nil {
			t.Fatalf("append chosen during the journal fsync: %v", err)
		}
	case <-time.After(10 * time.Second):
		close(block) // let both finish so the store closes
		<-appended
		t.Fatal("a chosen-log append waited for a journal fsync")
	}
	if s.LastIndex() != 51 {
		t.Fatalf("last %d after appending 51 during the fsync", s.LastIndex())
	}
	select {
	case err := <-done:
		t.Fatalf("persist returned before its fsync was released: %v", err)
	default:
	}
	fsys.mu.Lock()
	fsys.block = nil
	fsys.mu.Unlock()
	close(block)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-deadline:
		t.Fatal("persist did not finish")
	}
	if hs := s.HardState(); hs.Chosen != 51 || len(hs.Accepted) != 0 {
		t.Fatalf("hard state %+v: want chosen 51 and nothing accepted above it", hs)
	}
}

func TestClosedStore(t *testing.T) {
	s := mustOpen(t, testOpts(t.TempDir()))
	mustClose(t, s)
	if err := s.Persist([]paxos.Record{acceptRec(1, 1)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("persist after close: %v", err)
	}
	if _, err := s.Entries(1, 10); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

func TestOptionsValidated(t *testing.T) {
	for _, o := range []Options{
		{ClusterID: "c", NodeID: 1},
		{Dir: t.TempDir(), NodeID: 1},
		{Dir: t.TempDir(), ClusterID: "c"},
		{Dir: t.TempDir(), ClusterID: "c", NodeID: 1, SegmentSize: -1},
	} {
		orig := o
		if _, err := Open(o); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%+v) = %v, want ErrInvalid", o, err)
		}
		if o != orig {
			t.Errorf("options modified")
		}
	}
}

// TestConcurrentReaders: readers run while the writer appends, trims and
// persists; every entry they see is the right one (run with -race).
func TestConcurrentReaders(t *testing.T) {
	o := testOpts(t.TempDir())
	o.SegmentSize = 2 << 10
	o.CacheBytes = 1 << 10
	s := mustOpen(t, o)
	defer mustClose(t, s)
	stop := make(chan struct{})
	errs := make(chan error, 2)
	for r := 0; r < 2; r++ {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				first := s.FirstIndex()
				ents, err := s.Entries(first, 4<<10)
				if errors.Is(err, paxos.ErrCompacted) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				for i, e := range ents {
					if !sameEntry(e, chosenEntry(1, first+uint64(i))) {
						errs <- errors.New("reader saw a wrong entry")
						return
					}
				}
			}
		}()
	}
	for slot := uint64(1); slot <= 600; slot++ {
		if err := s.AppendChosen([]paxos.Entry{chosenEntry(1, slot)}); err != nil {
			t.Fatal(err)
		}
		if slot%50 == 0 {
			if err := s.TrimChosen(slot - 30); err != nil {
				t.Fatal(err)
			}
			if err := s.Persist([]paxos.Record{acceptRec(1, slot+1)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	for r := 0; r < 2; r++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
