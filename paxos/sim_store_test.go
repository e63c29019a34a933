package paxos

import (
	"fmt"
	"slices"
)

// simStore is one node's simulated durable state: only what the driver made
// durable survives a crash. It is also the node's LogReader.
type simStore struct {
	promised Ballot
	accepted map[uint64]Entry // slot -> highest-ballot accept, slots above the chosen log only
	first    uint64           // first slot of the chosen log
	log      []Entry          // chosen log; log[i].Slot == first+i
	// rebuilding is the durable flag of a store created empty (a new or
	// wiped data directory); the driver clears it when a Ready says Rebuilt.
	rebuilding bool
}

// newSimStore is an empty data directory: it starts rebuilding, like a
// directory storage.Open creates.
func newSimStore() *simStore {
	return &simStore{accepted: make(map[uint64]Entry), first: 1, rebuilding: true}
}

// chosen is the last slot of the durable chosen log (first-1 when empty).
func (s *simStore) chosen() uint64 { return s.first + uint64(len(s.log)) - 1 }

// persist makes one record durable.
func (s *simStore) persist(rec *Record) {
	if s.promised.Less(rec.Ballot) {
		s.promised = rec.Ballot
	}
	if rec.Kind != RecordAccept {
		return
	}
	for _, e := range rec.Entries {
		if e.Slot <= s.chosen() {
			continue
		}
		if old, ok := s.accepted[e.Slot]; ok && rec.Ballot.Less(old.Ballot) {
			continue
		}
		e.Ballot = rec.Ballot
		s.accepted[e.Slot] = e
	}
}

// appendChosen appends newly chosen entries; they must be contiguous.
func (s *simStore) appendChosen(resetTo uint64, entries []Entry) error {
	if resetTo != 0 {
		s.first, s.log = resetTo, nil
		for slot := range s.accepted {
			if slot < resetTo {
				delete(s.accepted, slot)
			}
		}
	}
	for _, e := range entries {
		if e.Slot != s.chosen()+1 {
			return fmt.Errorf("committed slot %d does not follow chosen log end %d", e.Slot, s.chosen())
		}
		s.log = append(s.log, e)
		delete(s.accepted, e.Slot)
	}
	return nil
}

// hardState is exactly what was persisted, in the form NewNode takes.
func (s *simStore) hardState() HardState {
	hs := HardState{Promised: s.promised, First: s.first, Chosen: s.chosen()}
	for _, e := range s.accepted {
		if e.Slot > hs.Chosen {
			hs.Accepted = append(hs.Accepted, e)
		}
	}
	slices.SortFunc(hs.Accepted, func(a, b Entry) int {
		switch {
		case a.Slot < b.Slot:
			return -1
		case a.Slot > b.Slot:
			return 1
		}
		return 0
	})
	return hs
}

// Entries implements LogReader over the durable chosen log.
func (s *simStore) Entries(from uint64, maxBytes int) ([]Entry, error) {
	if from < s.first {
		return nil, fmt.Errorf("%w: slot %d below %d", ErrCompacted, from, s.first)
	}
	var out []Entry
	size := 0
	for i := from - s.first; i < uint64(len(s.log)); i++ {
		e := s.log[i]
		if len(out) > 0 && size+e.Size() > maxBytes {
			break
		}
		size += e.Size()
		out = append(out, e)
	}
	return out, nil
}

// FirstIndex implements LogReader.
func (s *simStore) FirstIndex() uint64 { return s.first }
