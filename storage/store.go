package storage

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/paxlog/paxlog/paxos"
)

// Store is a replica's durable state: the acceptor journal, the chosen log
// and the log layer's checkpoint blob.
//
// Concurrency: every method is safe for concurrent use. Writers (Persist,
// AppendChosen, TrimChosen, ResetChosen, SetCheckpoint, Sync, Close) are
// serialized by one mutex (mu) held across their fsync, with one
// exception: Persist holds mu while it writes its batch and after the
// fsync, but runs the journal fsync itself under jmu alone (one Persist at
// a time), so a chosen-log append never waits for a journal fsync. The
// lock order is jmu, then mu. Readers (Entries,
// Entry, FirstIndex, LastIndex, Checkpoint) never take it: they load an
// immutable view published with an atomic pointer, are served from the
// cache of recent chosen entries, and read older entries from tidwall/wal
// (whose lock is held by a writer only while it writes, never across an
// fsync). HardState takes the writer mutex.
type Store struct {
	opts Options
	fsys FS
	log  hclog.Logger

	jmu     sync.Mutex // Persist (and Close): held across the journal fsync
	mu      sync.Mutex // writers; never held across the journal fsync of Persist
	journal *wlog
	chosen  *wlog
	meta    chosenMeta
	acc     acceptor
	cache   entryCache
	buf     []byte // encoding scratch
	// compactFloor: no journal compaction below this many bytes (twice the
	// last checkpoint record).
	compactFloor int64

	readMu sync.Mutex // serializes cold reads from tidwall (see wlog)
	view   atomic.Pointer[view]
	ckpt   atomic.Pointer[blob]
	failed atomic.Pointer[error] // first write/fsync failure: poisoned
	closed atomic.Bool
	lock   *dirLock
	// rebuilding mirrors the identity file's flag (identity.go).
	rebuilding atomic.Bool
}

// Open opens or creates the data directory opts.Dir and recovers it:
// identity check, segment scan with torn-tail repair, journal replay. It
// returns ErrIdentity, ErrCorrupt (with file and offset) or ErrInvalid
// wrapped with context. Open never modifies opts.
func Open(opts Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{opts: o, fsys: o.FS, log: o.Logger, acc: newAcceptor()}
	if err := s.fsys.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", o.Dir, err)
	}
	if s.lock, err = lockDir(o.Dir); err != nil {
		return nil, err
	}
	if err := s.recover(); err != nil {
		s.lock.release()
		return nil, err
	}
	v := s.view.Load()
	s.acc.dropThrough(v.last)
	s.log.Debug("opened", "dir", o.Dir, "first", v.first, "chosen", v.last,
		"accepted", len(s.acc.entries), "promised", s.acc.promised)
	return s, nil
}

// recover opens both logs and the checkpoint blob.
func (s *Store) recover() error {
	rebuilding, err := checkIdentity(s.fsys, &s.opts)
	if err != nil {
		return err
	}
	s.rebuilding.Store(rebuilding)
	if err := s.openChosen(); err != nil {
		return err
	}
	if err := s.openJournal(); err != nil {
		s.chosen.close(false)
		return err
	}
	b, err := readBlob(s.fsys, s.opts.Dir)
	if err == nil {
		s.ckpt.Store(b)
		err = s.fsys.SyncDir(s.opts.Dir)
	}
	if err != nil {
		s.closeLogs(false)
		return fmt.Errorf("storage: open %s: %w", s.opts.Dir, err)
	}
	return nil
}

// openChosen opens the chosen log of the generation named by chosen.meta.
func (s *Store) openChosen() error {
	m, ok, err := readChosenMeta(s.fsys, s.opts.Dir)
	if err != nil {
		return err
	}
	if !ok {
		m = chosenMeta{gen: 1, base: 1}
		if err := writeChosenMeta(s.fsys, s.opts.Dir, m); err != nil {
			return err
		}
	}
	if err := removeStaleChosen(s.fsys, s.opts.Dir, m.gen); err != nil {
		return err
	}
	dir := filepath.Join(s.opts.Dir, chosenDirName(m.gen))
	w, err := openWlog(s.fsys, dir, s.opts.SegmentSize, s.opts.NoSync, s.log, checkChosen(m.base))
	if err != nil {
		return err
	}
	s.chosen, s.meta = w, m
	s.publishReset()
	return nil
}

// checkChosen verifies that the record at WAL index idx is a chosen entry
// for slot base+idx-1.
func checkChosen(base uint64) visitFunc {
	return func(idx uint64, r *rec) error {
		if r.kind != kindChosen {
			return fmt.Errorf("record kind %d in the chosen log", r.kind)
		}
		if slot := r.firstEntry().Slot; slot != base+idx-1 {
			return fmt.Errorf("chosen entry for slot %d at slot %d", slot, base+idx-1)
		}
		return nil
	}
}

// usable returns ErrClosed or ErrPoisoned when the store cannot be used.
func (s *Store) usable() error {
	if s.closed.Load() {
		return ErrClosed
	}
	if p := s.failed.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrPoisoned, *p)
	}
	return nil
}

// fail poisons the store with its first failure and returns the error for
// the failing call. Nothing is retried.
func (s *Store) fail(op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	if s.failed.CompareAndSwap(nil, &err) {
		s.log.Error("store poisoned: stop the node", "op", op, "error", err)
	}
	return fmt.Errorf("%w: %w", ErrPoisoned, *s.failed.Load())
}

// Sync makes every chosen entry appended so far durable.
func (s *Store) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.chosen.sync(); err != nil {
		return s.fail("sync chosen log", err)
	}
	return nil
}

// Close syncs the chosen log and closes the store. Later calls return
// ErrClosed. Closing a poisoned store releases it without any fsync and
// returns the poison error.
func (s *Store) Close() error {
	s.jmu.Lock()
	defer s.jmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	perr := s.usable()
	s.closed.Store(true)
	defer s.lock.release()
	if err := s.closeLogs(perr != nil); err != nil {
		return err
	}
	return perr
}

func (s *Store) closeLogs(poisoned bool) error {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	err := s.chosen.close(poisoned)
	if jerr := s.journal.close(poisoned); err == nil {
		err = jerr
	}
	return err
}

// HardState returns what the paxos node restarts from: the highest ballot
// promised or accepted, the highest-ballot accepted entry of every slot
// above the chosen log (in slot order), and the chosen log's bounds.
func (s *Store) HardState() paxos.HardState {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.view.Load()
	return paxos.HardState{
		Promised: s.acc.promised,
		Accepted: s.acc.sorted(),
		First:    v.first,
		Chosen:   v.last,
	}
}
