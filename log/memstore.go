package log

import (
	"fmt"
	"slices"
	"sync"

	"github.com/paxlog/paxlog/paxos"
)

// MemStore is an in-memory Store for tests and examples. It keeps every
// record; "durable" means "in memory", so a MemStore handed to a new Node
// after Close behaves like a data directory after a clean restart.
type MemStore struct {
	mu       sync.RWMutex
	promised paxos.Ballot
	accepted map[uint64]paxos.Entry // slot -> highest-ballot accepted entry
	first    uint64
	chosen   []paxos.Entry // chosen[i].Slot == first+i
	cpSlot   uint64
	cpData   []byte
	closed   bool
	rebuilt  bool // MarkRebuilt was called
}

// NewMemStore returns an empty in-memory store whose chosen log starts at
// 1. Like a new data directory it starts rebuilding (Store.Rebuilding).
func NewMemStore() *MemStore {
	return &MemStore{accepted: make(map[uint64]paxos.Entry), first: 1}
}

// Rebuilding implements Store: true until MarkRebuilt.
func (s *MemStore) Rebuilding() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.rebuilt
}

// MarkRebuilt implements Store.
func (s *MemStore) MarkRebuilt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("replog: memstore closed")
	}
	s.rebuilt = true
	return nil
}

var _ Store = (*MemStore)(nil)

// HardState implements Store.
func (s *MemStore) HardState() paxos.HardState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = false // a new node reopens the store
	last := s.first + uint64(len(s.chosen)) - 1
	hs := paxos.HardState{Promised: s.promised, First: s.first, Chosen: last}
	for slot, e := range s.accepted {
		if slot > last {
			hs.Accepted = append(hs.Accepted, e)
		}
	}
	slices.SortFunc(hs.Accepted, func(a, b paxos.Entry) int { return int(a.Slot) - int(b.Slot) })
	return hs
}

// Persist implements Store.
func (s *MemStore) Persist(recs []paxos.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("replog: memstore closed")
	}
	for _, r := range recs {
		if s.promised.Less(r.Ballot) {
			s.promised = r.Ballot
		}
		for _, e := range r.Entries {
			if old, ok := s.accepted[e.Slot]; !ok || !e.Ballot.Less(old.Ballot) {
				e.Data = slices.Clone(e.Data)
				s.accepted[e.Slot] = e
			}
		}
	}
	return nil
}

// AppendChosen implements Store.
func (s *MemStore) AppendChosen(entries []paxos.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		if want := s.first + uint64(len(s.chosen)); e.Slot != want {
			return fmt.Errorf("replog: memstore append slot %d, want %d", e.Slot, want)
		}
		e.Data = slices.Clone(e.Data)
		s.chosen = append(s.chosen, e)
		delete(s.accepted, e.Slot)
	}
	return nil
}

// Entries implements Store.
func (s *MemStore) Entries(from uint64, maxBytes int) ([]paxos.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if from < s.first {
		return nil, fmt.Errorf("replog: memstore slot %d below %d: %w", from, s.first, paxos.ErrCompacted)
	}
	var out []paxos.Entry
	size := 0
	for i := from - s.first; i < uint64(len(s.chosen)); i++ {
		e := s.chosen[i]
		if len(out) > 0 && size+e.Size() > maxBytes {
			break
		}
		size += e.Size()
		out = append(out, e)
	}
	return out, nil
}

// FirstIndex implements Store.
func (s *MemStore) FirstIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.first
}

// LastIndex implements Store.
func (s *MemStore) LastIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.first + uint64(len(s.chosen)) - 1
}

// TrimChosen implements Store.
func (s *MemStore) TrimChosen(before uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if before <= s.first {
		return nil
	}
	n := min(before-s.first, uint64(len(s.chosen)))
	s.chosen = slices.Clone(s.chosen[n:])
	s.first = before
	return nil
}

// ResetChosen implements Store.
func (s *MemStore) ResetChosen(first uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chosen, s.first = nil, first
	for slot := range s.accepted {
		if slot < first {
			delete(s.accepted, slot)
		}
	}
	return nil
}

// SetCheckpoint implements Store.
func (s *MemStore) SetCheckpoint(slot uint64, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cpSlot, s.cpData = slot, slices.Clone(data)
	return nil
}

// Checkpoint implements Store.
func (s *MemStore) Checkpoint() (uint64, []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cpSlot, s.cpData
}

// Sync implements Store.
func (s *MemStore) Sync() error { return nil }

// Close implements Store.
func (s *MemStore) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
