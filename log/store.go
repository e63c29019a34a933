package log

import (
	"github.com/paxlog/paxlog/paxos"
)

// Store is the durable state a Node needs: the acceptor journal and the
// chosen log. The default is *storage.Store; tests may hand a Node the
// in-memory one (NewMemStore).
//
// Concurrency: the node's persister goroutine calls Persist while its owner
// goroutine calls the other methods; tailers and readers call Entries,
// FirstIndex and LastIndex concurrently with both. Every method must be
// safe for concurrent use, and neither AppendChosen nor the readers should
// wait behind a Persist's fsync (storage.Store does not).
type Store interface {
	// HardState is what the paxos node restarts from.
	HardState() paxos.HardState
	// Persist makes recs durable with one fsync. An error is fatal.
	Persist(recs []paxos.Record) error
	// AppendChosen appends entries contiguous from LastIndex()+1; not synced.
	AppendChosen(entries []paxos.Entry) error
	// Entries returns chosen entries from slot from onward, at most maxBytes
	// (at least one if any); below FirstIndex it wraps paxos.ErrCompacted.
	Entries(from uint64, maxBytes int) ([]paxos.Entry, error)
	// FirstIndex is the first slot held; LastIndex the last (FirstIndex-1
	// when empty).
	FirstIndex() uint64
	LastIndex() uint64
	// TrimChosen drops chosen entries below before.
	TrimChosen(before uint64) error
	// ResetChosen discards the chosen log and restarts it at first.
	ResetChosen(first uint64) error
	// SetCheckpoint durably records data as the state after applying slot.
	SetCheckpoint(slot uint64, data []byte) error
	// Checkpoint returns the last checkpoint (0, nil when none).
	Checkpoint() (uint64, []byte)
	// Sync makes every chosen entry appended so far durable.
	Sync() error
	// Close releases the store; it does not imply Sync.
	Close() error
	// Rebuilding reports that the store was created empty (a new replica,
	// or one whose data was lost) and MarkRebuilt was not called since: the
	// core starts with paxos.Config.Rebuilding and does not vote until it
	// has re-learned the chosen log from peers.
	Rebuilding() bool
	// MarkRebuilt durably clears that state. The owner calls it when a
	// Ready says Rebuilt, after persisting it and syncing the chosen log.
	MarkRebuilt() error
}
