package storage

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

// The crash test re-executes this test binary as a child that persists
// batches into a data directory and prints "ack <id>" after each Persist
// returns. The parent SIGKILLs it at random moments and checks, after each
// kill, that every acknowledged batch is present and intact.
const crashEnv = "PAXLOG_STORAGE_CRASH_CHILD"

// crashSlots is the number of slots per batch; batch k accepts slots
// [(k-1)*crashSlots+1, k*crashSlots] at round k, with payload(k, slot).
const crashSlots = 4

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		if err := crashChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashOpts(dir string) Options {
	o := testOpts(dir)
	o.SegmentSize = 4 << 10
	o.JournalCompactBytes = 12 << 10
	o.CacheBytes = 1 << 10
	return o
}

func batchSlots(k uint64) (first, last uint64) {
	return (k-1)*crashSlots + 1, k * crashSlots
}

func crashBatch(k uint64) []paxos.Record {
	first, last := batchSlots(k)
	mid := first + crashSlots/2
	var a, b []uint64
	for s := first; s <= last; s++ {
		if s < mid {
			a = append(a, s)
		} else {
			b = append(b, s)
		}
	}
	return []paxos.Record{{Kind: paxos.RecordPromise, Ballot: ballot(k)}, acceptRec(k, a...), acceptRec(k, b...)}
}

// crashChild runs until killed: it resumes after the highest slot it finds,
// persists batches, lets the chosen log trail behind, syncs and trims it now
// and then (so compaction, segment cycling and trims all get killed
// mid-way).
func crashChild(dir string) error {
	s, err := Open(crashOpts(dir))
	if err != nil {
		return err
	}
	hs := s.HardState()
	top := hs.Chosen
	if n := len(hs.Accepted); n > 0 {
		top = hs.Accepted[n-1].Slot
	}
	out := bufio.NewWriter(os.Stdout)
	for k := top/crashSlots + 1; ; k++ {
		if err := s.Persist(crashBatch(k)); err != nil {
			return err
		}
		fmt.Fprintf(out, "ack %d\n", k)
		if err := out.Flush(); err != nil {
			return err
		}
		if err := crashChosen(s, k); err != nil {
			return err
		}
	}
}

func crashChosen(s *Store, k uint64) error {
	if k < 3 {
		return nil
	}
	_, upTo := batchSlots(k - 2)
	var ents []paxos.Entry
	for slot := s.LastIndex() + 1; slot <= upTo; slot++ {
		ents = append(ents, chosenEntry((slot-1)/crashSlots+1, slot))
	}
	if err := s.AppendChosen(ents); err != nil {
		return err
	}
	switch {
	case k%16 == 0:
		return s.Sync()
	case k%25 == 0 && upTo > 40:
		return s.TrimChosen(upTo - 40)
	}
	return nil
}

// TestCrashSIGKILL: at least 50 SIGKILLs of a real child process at random
// moments; after each, every acknowledged batch must be intact.
func TestCrashSIGKILL(t *testing.T) {
	t.Parallel()
	const kills = 60
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("PAXLOG_CRASH_SEED"); v != "" { // replay a failure
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (replay: PAXLOG_CRASH_SEED=%d; kill timing still varies)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	acked := uint64(0)
	for i := 0; i < kills; i++ {
		acked = max(acked, runAndKill(t, dir, rng))
		checkAcked(t, dir, acked, i)
	}
	if acked < kills {
		t.Fatalf("only %d batches acknowledged in %d runs", acked, kills)
	}
	t.Logf("%d kills, %d batches acknowledged", kills, acked)
}

// runAndKill starts the child, kills it either after a random number of
// new acknowledgements or at a random moment (possibly during recovery),
// and returns the highest batch it acknowledged.
func runAndKill(t *testing.T, dir string, rng *rand.Rand) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acks := make(chan uint64)
	go func() {
		defer close(acks)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if id, err := strconv.ParseUint(strings.TrimPrefix(sc.Text(), "ack "), 10, 64); err == nil {
				acks <- id
			}
		}
	}()
	var timer <-chan time.Time
	target := 1 + rng.IntN(40)
	if rng.IntN(4) == 0 { // kill at a random moment instead
		timer = time.After(time.Duration(rng.IntN(60)) * time.Millisecond)
		target = 1 << 30
	}
	deadline := time.After(30 * time.Second)
	var top uint64
	seen := 0
	killed := false
	kill := func() {
		if !killed {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	for {
		select {
		case id, ok := <-acks:
			if !ok {
				err := cmd.Wait()
				if !killed {
					t.Fatalf("child exited by itself: %v\n%s", err, stderr.String())
				}
				return top
			}
			if id <= top {
				t.Fatalf("ack %d after ack %d", id, top)
			}
			top = id
			if seen++; seen >= target {
				kill()
			}
		case <-timer:
			kill()
		case <-deadline:
			kill()
			t.Fatalf("child made no progress in 30s:\n%s", stderr.String())
		}
	}
}

// checkAcked reopens the store and checks every batch up to acked: each
// slot is in the chosen log (or below its trim point) or accepted at the
// batch's ballot with its payload; the promise covers the last batch.
func checkAcked(t *testing.T, dir string, acked uint64, run int) {
	t.Helper()
	if err := ackedIntact(dir, acked); err != nil {
		t.Fatalf("run %d: %v", run, err)
	}
}

func ackedIntact(dir string, acked uint64) error {
	s, err := Open(crashOpts(dir))
	if err != nil {
		return fmt.Errorf("reopen after SIGKILL: %w", err)
	}
	defer s.Close()
	hs := s.HardState()
	if acked > 0 && hs.Promised.Less(ballot(acked)) {
		return fmt.Errorf("promised %s, acked batch %d", hs.Promised, acked)
	}
	accepted := make(map[uint64]paxos.Entry, len(hs.Accepted))
	for i, e := range hs.Accepted {
		if i > 0 && e.Slot <= hs.Accepted[i-1].Slot {
			return fmt.Errorf("accepted entries out of order")
		}
		accepted[e.Slot] = e
	}
	_, lastSlot := batchSlots(max(acked, 1))
	for slot := uint64(1); acked > 0 && slot <= lastSlot; slot++ {
		want := chosenEntry((slot-1)/crashSlots+1, slot)
		switch {
		case slot < hs.First:
		case slot <= hs.Chosen:
			e, err := s.Entry(slot)
			if err != nil || !sameEntry(e, want) {
				return fmt.Errorf("chosen slot %d = %v, %v", slot, e, err)
			}
		default:
			if e, ok := accepted[slot]; !ok || !sameEntry(e, want) {
				return fmt.Errorf("acked slot %d (batch %d) missing or wrong: %v (chosen %d)", slot,
					(slot-1)/crashSlots+1, e, hs.Chosen)
			}
		}
	}
	return nil
}

// TestCrashCheckerCatchesLoss proves the crash test's checker can fail: a
// batch claimed acknowledged but never persisted, and a damaged payload,
// are both reported.
func TestCrashCheckerCatchesLoss(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, crashOpts(dir))
	for k := uint64(1); k <= 3; k++ {
		if err := s.Persist(crashBatch(k)); err != nil {
			t.Fatal(err)
		}
	}
	bad := crashBatch(4)
	bad[1].Entries[0].Data = []byte("not the payload")
	if err := s.Persist(bad); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	if err := ackedIntact(dir, 3); err != nil {
		t.Fatalf("intact store reported: %v", err)
	}
	if err := ackedIntact(dir, 4); err == nil {
		t.Fatal("damaged payload not reported")
	}
	if err := ackedIntact(dir, 5); err == nil {
		t.Fatal("missing batch not reported")
	}
}
