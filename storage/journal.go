package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/paxlog/paxlog/paxos"
)

// acceptor is the live acceptor state the journal describes: the highest
// ballot promised or accepted, and the highest-ballot accepted entry of
// every slot above the chosen log.
type acceptor struct {
	promised paxos.Ballot
	entries  map[uint64]paxos.Entry
}

func newAcceptor() acceptor { return acceptor{entries: make(map[uint64]paxos.Entry)} }

func (a *acceptor) promise(b paxos.Ballot) {
	if a.promised.Less(b) {
		a.promised = b
	}
}

// accept keeps e unless a higher ballot is held for its slot or the slot
// is at or below chosen. e.Data must be owned by the acceptor (copied by
// the caller).
func (a *acceptor) accept(e paxos.Entry, chosen uint64) {
	if e.Slot <= chosen {
		return
	}
	if old, ok := a.entries[e.Slot]; ok && e.Ballot.Less(old.Ballot) {
		return
	}
	a.entries[e.Slot] = e
}

// acceptBatch applies a batch record that was just written (b is its
// encoding, which the caller never modifies again). Entry data aliases b:
// the batch is the one allocation that owns it, so nothing is copied.
func (a *acceptor) acceptBatch(b []byte, chosen uint64) {
	r := rec{kind: kindBatch, n: int(binary.LittleEndian.Uint32(b[headerSize:])), ents: b[headerSize+4:]}
	c := cursor{b: r.ents}
	for i := 0; i < r.n; i++ {
		g := nextGroup(&c, 0)
		a.promise(g.ballot)
		walkEntries(g.ents, g.n, false, g.ballot, func(e paxos.Entry) { a.accept(e, chosen) })
	}
}

// acceptCopy accepts e with a copy of its data (replay: e aliases a
// segment buffer).
func (a *acceptor) acceptCopy(e paxos.Entry) {
	e.Data = slices.Clone(e.Data)
	a.accept(e, 0)
}

// replayGroup applies one promise or accept group of a batch record.
func (a *acceptor) replayGroup(g rec) {
	a.promise(g.ballot)
	g.eachEntry(a.acceptCopy)
}

func (a *acceptor) dropThrough(slot uint64) {
	for s := range a.entries {
		if s <= slot {
			delete(a.entries, s)
		}
	}
}

func (a *acceptor) sorted() []paxos.Entry {
	out := make([]paxos.Entry, 0, len(a.entries))
	for _, e := range a.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(x, y paxos.Entry) int {
		switch {
		case x.Slot < y.Slot:
			return -1
		case x.Slot > y.Slot:
			return 1
		}
		return 0
	})
	return out
}

// replay applies one journal record during recovery. A journal whose
// front was truncated must start with a checkpoint.
func (a *acceptor) replay(first uint64) visitFunc {
	return func(idx uint64, r *rec) error {
		if err := checkJournal(first, idx, r); err != nil {
			return err
		}
		switch r.kind {
		case kindPromise:
			a.promise(r.ballot)
		case kindAccept:
			a.promise(r.ballot)
			r.eachEntry(a.acceptCopy)
		case kindBatch:
			r.eachGroup(a.replayGroup)
		case kindJournalCP:
			*a = newAcceptor()
			a.promised = r.ballot
			r.eachEntry(a.acceptCopy)
		}
		return nil
	}
}

// checkJournal verifies that the valid record r may sit at WAL index idx
// of a journal whose first index is first: a journal kind, and a
// checkpoint first when the front was truncated.
func checkJournal(first, idx uint64, r *rec) error {
	switch r.kind {
	case kindPromise, kindAccept, kindBatch, kindJournalCP:
	default:
		return fmt.Errorf("record kind %d in the journal", r.kind)
	}
	if idx == first && first > 1 && r.kind != kindJournalCP {
		return errors.New("journal was truncated but does not start with a checkpoint")
	}
	return nil
}

func (s *Store) openJournal() error {
	dir := filepath.Join(s.opts.Dir, journalDir)
	segs, err := listSegments(s.fsys, dir)
	if err != nil {
		return err
	}
	first := uint64(1)
	if len(segs) > 0 {
		first = segs[0].index
	}
	w, err := openWlog(s.fsys, dir, s.opts.SegmentSize, s.opts.NoSync, s.log, s.acc.replay(first))
	if err != nil {
		return err
	}
	s.journal = w
	return nil
}

// Persist makes acceptor records durable: the whole slice is one journal
// batch record, written with one tidwall WriteBatch and one fsync (group
// commit). It returns only after the fsync. A failed write or fsync
// poisons the store. Invalid records (unknown kind, zero slot, an accept
// entry whose ballot differs from its record's) return ErrInvalid and
// write nothing.
func (s *Store) Persist(recs []paxos.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := validateRecords(recs); err != nil {
		return err
	}
	s.jmu.Lock()
	defer s.jmu.Unlock()
	b, err := s.writeBatch(recs)
	if err != nil {
		return err
	}
	// The fsync runs under jmu alone: chosen-log appends, syncs and trims
	// (mu) proceed while the journal is being made durable.
	if err := s.journal.sync(); err != nil {
		return s.fail("journal fsync", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err // poisoned by another writer meanwhile: stop anyway
	}
	s.acc.acceptBatch(b, s.view.Load().last)
	return s.maybeCompact()
}

// writeBatch encodes recs as one batch record (one tidwall entry, one CRC:
// WAL index = batch sequence) and writes it, under mu. The encoding is a
// fresh buffer: after the fsync the acceptor keeps the entries' data
// inside it (tidwall copied it).
func (s *Store) writeBatch(recs []paxos.Record) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	b := encodeBatch(nil, s.journal.last+1, recs)
	s.journal.add(b)
	if err := s.journal.write(); err != nil {
		return nil, s.fail("journal write", err)
	}
	return b, nil
}

func validateRecords(recs []paxos.Record) error {
	for i, r := range recs {
		switch r.Kind {
		case paxos.RecordPromise:
			if len(r.Entries) != 0 {
				return fmt.Errorf("%w: record %d: promise with %d entries", ErrInvalid, i, len(r.Entries))
			}
		case paxos.RecordAccept:
			for _, e := range r.Entries {
				if e.Slot == 0 || e.Ballot != r.Ballot {
					return fmt.Errorf("%w: record %d: entry slot %d ballot %s in an accept at ballot %s",
						ErrInvalid, i, e.Slot, e.Ballot, r.Ballot)
				}
			}
		default:
			return fmt.Errorf("%w: record %d: kind %d", ErrInvalid, i, r.Kind)
		}
	}
	return nil
}

// maybeCompact checkpoints the live acceptor state and truncates the
// journal front once the journal is past JournalCompactBytes and twice the
// last checkpoint. The chosen log is synced first: the checkpoint leaves
// out slots at or below the chosen log, so those must be durable there.
func (s *Store) maybeCompact() error {
	w := s.journal
	if w.bytes <= max(int64(s.opts.JournalCompactBytes), s.compactFloor) {
		return nil
	}
	if err := s.chosen.sync(); err != nil {
		return s.fail("sync chosen log before journal compaction", err)
	}
	chosen := s.view.Load().last
	s.acc.dropThrough(chosen)
	seq := w.last + 1
	s.buf = encodeEntries(s.buf[:0], kindJournalCP, seq, s.acc.promised, s.acc.sorted())
	// Wait until the journal is at least twice the checkpoint, so that a
	// large live state is not rewritten on every Persist.
	s.compactFloor = 2 * int64(len(s.buf))
	if w.bytes <= s.compactFloor {
		return nil
	}
	w.add(s.buf)
	if err := w.write(); err != nil {
		return s.fail("journal checkpoint write", err)
	}
	if err := w.sync(); err != nil {
		return s.fail("journal checkpoint fsync", err)
	}
	if err := w.truncateFront(seq); err != nil {
		return s.fail("journal truncate", err)
	}
	s.log.Debug("journal compacted", "first", seq, "chosen", chosen, "accepted", len(s.acc.entries),
		"bytes", w.bytes)
	return nil
}
