package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/tidwall/wal"

	"github.com/paxlog/paxlog/paxos"
)

// Store serves the paxos node's catch-up reads.
var _ paxos.LogReader = (*Store)(nil)

// view is an immutable snapshot of the chosen log for readers. cache holds
// the entries of slots [cacheFirst, last]; slices of it never change once
// published (the writer only appends past their length or reallocates).
type view struct {
	w           *wlog  // the chosen log generation this view reads from
	base        uint64 // slot of WAL index 1 in w
	first, last uint64 // last == first-1 when empty
	cacheFirst  uint64
	cache       []paxos.Entry
}

// entryCache is the writer's side of the cache of recent chosen entries.
type entryCache struct {
	ents  []paxos.Entry
	first uint64 // slot of ents[0]
	bytes int    // sum of Entry.Size
}

func (c *entryCache) reset(first uint64) { *c = entryCache{first: first} }

// add appends entries (data copied) and evicts from the front down to max
// bytes, always keeping the newest entry.
func (c *entryCache) add(ents []paxos.Entry, max int) {
	for _, e := range ents {
		e.Data = slices.Clone(e.Data)
		c.ents = append(c.ents, e)
		c.bytes += e.Size()
	}
	c.evict(func(e *paxos.Entry) bool { return c.bytes > max && len(c.ents) > 1 })
}

// evictBelow drops cached slots below slot.
func (c *entryCache) evictBelow(slot uint64) {
	c.evict(func(e *paxos.Entry) bool { return e.Slot < slot })
	if len(c.ents) == 0 && c.first < slot {
		c.first = slot
	}
}

func (c *entryCache) evict(drop func(*paxos.Entry) bool) {
	n := 0
	for n < len(c.ents) && drop(&c.ents[n]) {
		c.bytes -= c.ents[n].Size()
		n++
	}
	if n == 0 {
		return
	}
	c.first += uint64(n)
	// Never clear evicted slots in place: published views may still read
	// them. The dead prefix is freed when append next reallocates, so the
	// array holds at most about twice the live entries.
	c.ents = c.ents[n:]
}

// publish installs a new view from the writer's state.
func (s *Store) publish(first, last uint64) {
	s.view.Store(&view{
		w: s.chosen, base: s.meta.base, first: first, last: last,
		cacheFirst: s.cache.first, cache: s.cache.ents[:len(s.cache.ents):len(s.cache.ents)],
	})
}

// publishReset publishes the freshly opened chosen log with an empty cache.
func (s *Store) publishReset() {
	w, base := s.chosen, s.meta.base
	last := base + w.last - 1
	s.cache.reset(last + 1)
	s.publish(base+w.first-1, last)
}

// FirstIndex is the first slot held in the chosen log (the trim point). It
// is lock-free.
func (s *Store) FirstIndex() uint64 { return s.view.Load().first }

// LastIndex is the last chosen slot held (FirstIndex()-1 when empty). It
// is lock-free.
func (s *Store) LastIndex() uint64 { return s.view.Load().last }

// AppendChosen appends chosen entries: contiguous slots starting at
// LastIndex()+1. It does not fsync (the journal still holds the accepts;
// Sync makes the chosen log durable, and journal compaction syncs it
// before it drops anything). A failed write poisons the store.
func (s *Store) AppendChosen(entries []paxos.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	v := s.view.Load()
	for i := range entries {
		if want := v.last + 1 + uint64(i); entries[i].Slot != want {
			return fmt.Errorf("%w: chosen entry %d has slot %d, want %d", ErrInvalid, i, entries[i].Slot, want)
		}
	}
	buf := s.buf[:0]
	for i := range entries {
		start := len(buf)
		buf = encodeChosen(buf, s.chosen.last+1+uint64(i), &entries[i])
		s.chosen.add(buf[start:])
	}
	s.buf = buf
	if err := s.chosen.write(); err != nil {
		return s.fail("chosen log write", err)
	}
	last := entries[len(entries)-1].Slot
	s.cache.add(entries, s.opts.CacheBytes)
	s.publish(v.first, last)
	for _, e := range entries {
		delete(s.acc.entries, e.Slot)
	}
	return nil
}

// Entry returns the chosen entry of slot. Below FirstIndex the error wraps
// paxos.ErrCompacted; above LastIndex it wraps ErrNotFound.
func (s *Store) Entry(slot uint64) (paxos.Entry, error) {
	ents, err := s.Entries(slot, 0)
	if err != nil {
		return paxos.Entry{}, err
	}
	if len(ents) == 0 {
		return paxos.Entry{}, fmt.Errorf("%w: slot %d is above the last chosen slot %d", ErrNotFound, slot, s.LastIndex())
	}
	return ents[0], nil
}

// Entries returns chosen entries from slot from onward, in slot order, at
// most maxBytes in total (counted with Entry.Size) but at least one when
// any exists. Below FirstIndex the error wraps paxos.ErrCompacted; from
// above LastIndex returns nothing. It implements paxos.LogReader. Returned
// entry data is shared with the cache: callers must not modify it.
func (s *Store) Entries(from uint64, maxBytes int) ([]paxos.Entry, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	v := s.view.Load()
	if from < v.first {
		return nil, compacted(from, v.first)
	}
	var out []paxos.Entry
	size := 0
	for slot := from; slot <= v.last; slot++ {
		var e paxos.Entry
		if slot >= v.cacheFirst {
			e = v.cache[slot-v.cacheFirst]
		} else {
			var err error
			if e, err = s.coldRead(v, slot); err != nil {
				return nil, err
			}
		}
		if len(out) > 0 && size+e.Size() > maxBytes {
			break
		}
		out = append(out, e)
		size += e.Size()
	}
	return out, nil
}

func compacted(slot, first uint64) error {
	return fmt.Errorf("%w: slot %d is below the first slot held %d", paxos.ErrCompacted, slot, first)
}

// coldRead reads a slot older than the cache from tidwall/wal. Such reads
// are serialized with each other; they wait for a writer only while it
// calls write(2), never across an fsync.
func (s *Store) coldRead(v *view, slot uint64) (paxos.Entry, error) {
	idx := slot - v.base + 1
	s.readMu.Lock()
	data, err := v.w.read(idx)
	s.readMu.Unlock()
	if err != nil {
		// A concurrent trim or reset may have removed the slot.
		if nv := s.view.Load(); slot < nv.first {
			return paxos.Entry{}, compacted(slot, nv.first)
		} else if nv.w != v.w && (errors.Is(err, wal.ErrClosed) || errors.Is(err, wal.ErrNotFound)) {
			return s.coldRead(nv, slot)
		}
		return paxos.Entry{}, fmt.Errorf("storage: read slot %d: %w", slot, err)
	}
	r, err := decodeRecord(data)
	if err == nil && r.kind == kindChosen && r.seq == idx {
		if e := r.firstEntry(); e.Slot == slot {
			return e, nil
		}
	}
	return paxos.Entry{}, corruptf(v.w.dir, -1, "chosen log record for slot %d (index %d) is invalid", slot, idx)
}

// TrimChosen drops chosen slots below before (the log's replicated Trim).
// before may be at most LastIndex()+1. The removal of segment files is
// followed by a directory fsync.
func (s *Store) TrimChosen(before uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	v := s.view.Load()
	if before <= v.first {
		return nil
	}
	if before > v.last+1 {
		return fmt.Errorf("%w: trim before %d is past the last chosen slot %d", ErrInvalid, before, v.last)
	}
	// Publish the new first slot before removing anything, so a reader
	// never finds a slot missing that its view still claims.
	s.cache.evictBelow(before)
	s.publish(before, v.last)
	if err := s.chosen.truncateFront(before - s.meta.base + 1); err != nil {
		return s.fail("chosen log trim", err)
	}
	return nil
}

// ResetChosen discards the chosen log and restarts it empty at slot first
// (a replica that fell behind a trim made everywhere). Crash-safe: the new
// log is created in a new directory, then chosen.meta is replaced
// atomically, then the old directory is removed.
func (s *Store) ResetChosen(first uint64) error {
	if first == 0 {
		return fmt.Errorf("%w: reset chosen log to slot 0", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	m := chosenMeta{gen: s.meta.gen + 1, base: first}
	dir := filepath.Join(s.opts.Dir, chosenDirName(m.gen))
	if err := s.fsys.RemoveAll(dir); err != nil {
		return s.fail("reset chosen log", err)
	}
	w, err := openWlog(s.fsys, dir, s.opts.SegmentSize, s.opts.NoSync, s.log, nil)
	if err == nil {
		err = writeChosenMeta(s.fsys, s.opts.Dir, m)
	}
	if err != nil {
		return s.fail("reset chosen log", err)
	}
	old, oldDir := s.chosen, filepath.Join(s.opts.Dir, chosenDirName(s.meta.gen))
	s.chosen, s.meta = w, m
	s.publishReset()
	s.acc.dropThrough(first - 1)
	s.readMu.Lock()
	err = old.close(false)
	s.readMu.Unlock()
	if err == nil {
		err = s.fsys.RemoveAll(oldDir)
	}
	if err == nil {
		err = s.fsys.SyncDir(s.opts.Dir)
	}
	if err != nil {
		return s.fail("reset chosen log: remove old log", err)
	}
	s.log.Info("chosen log reset", "first", first, "gen", m.gen)
	return nil
}
