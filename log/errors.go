package log

import (
	"errors"
	"fmt"

	"github.com/paxlog/paxlog/paxos"
)

// Errors returned by Node and Client. They are wrapped with context; use
// errors.Is (and errors.As for the typed ones).
var (
	// ErrClosed: the Node or Client is closed (or closing). An append that
	// fails with it may or may not have been chosen; a Client retries it
	// elsewhere with the same (client id, sequence).
	ErrClosed = errors.New("replog: closed")
	// ErrNotLeader: this replica is not the leader. Appends, trims and
	// barriers are redirected, not forwarded: errors wrap it in
	// *NotLeaderError, which names the leader when known.
	ErrNotLeader = errors.New("replog: not the leader")
	// ErrBackpressure: the in-flight window stayed full until the append's
	// context ended. Errors wrap it in *BackpressureError.
	ErrBackpressure = errors.New("replog: in-flight window full")
	// ErrConditionFailed: an AppendIf found that the last delivered index was
	// not the expected one. Errors wrap it in *ConditionError.
	ErrConditionFailed = errors.New("replog: condition failed")
	// ErrTrimmed: the index is below the trim point. Errors wrap it in
	// *TrimmedError, which carries the first available index.
	ErrTrimmed = errors.New("replog: index trimmed")
	// ErrNotFound: Read of a slot that holds no delivered entry (a no-op, a
	// filtered duplicate, a failed condition or an internal entry).
	ErrNotFound = errors.New("replog: no entry at index")
	// ErrNotApplied: Read of an index above what this replica has applied.
	// It is transient: the replica may be behind (restarted, catching up) or
	// the index may not be chosen yet. Client.Read retries it until its
	// context ends; after CheckTail returned t, every index <= t becomes
	// readable on every replica.
	ErrNotApplied = errors.New("replog: index not applied here yet")
	// ErrSeqTooOld: an append's sequence number is older than its client's
	// dedup window, so the log cannot tell whether it is a duplicate; it is
	// not delivered. Clients bound their in-flight appends to avoid it.
	ErrSeqTooOld = errors.New("replog: sequence number below the dedup window")
	// ErrDropped: the slot an append was proposed at was filled with another
	// value (a leader change); retry with the same (client id, sequence).
	ErrDropped = errors.New("replog: proposal dropped by a leader change")
	// ErrStopped: the node stopped after a fatal error (a failed persist or
	// chosen-log write); it never retries and must be restarted.
	ErrStopped = errors.New("replog: node stopped after a fatal error")
	// ErrInvalidConfig: the Config cannot be used; the error says why.
	ErrInvalidConfig = errors.New("replog: invalid config")
	// ErrInvalid: a malformed call (empty append, zero index, ...).
	ErrInvalid = errors.New("replog: invalid request")
	// ErrUnavailable: a Client reached no replica that could serve it before
	// its context ended; the wrapped error is the last one seen.
	ErrUnavailable = errors.New("replog: cluster unavailable")

	// errInternal: a replica answered with an internal error (a bug or a
	// storage failure there); the message says which.
	errInternal = errors.New("replog: internal error")
)

// NotLeaderError names the leader an append should be sent to.
type NotLeaderError struct {
	LeaderID paxos.NodeID // 0 when unknown
	Leader   string       // the leader's client address, "" when unknown
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == 0 {
		return "replog: not the leader (leader unknown)"
	}
	return fmt.Sprintf("replog: not the leader (leader is %d at %s)", e.LeaderID, e.Leader)
}

// Unwrap makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// TrimmedError says where the log now starts.
type TrimmedError struct {
	Index uint64 // the index asked for
	First uint64 // the first index available
}

func (e *TrimmedError) Error() string {
	return fmt.Sprintf("replog: index %d trimmed (first available is %d)", e.Index, e.First)
}

// Unwrap makes errors.Is(err, ErrTrimmed) true.
func (e *TrimmedError) Unwrap() error { return ErrTrimmed }

// ConditionError reports a failed AppendIf.
type ConditionError struct {
	Expected uint64 // the caller's expected last index
	Last     uint64 // the last delivered index when the append was applied
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("replog: condition failed: expected last index %d, log is at %d", e.Expected, e.Last)
}

// Unwrap makes errors.Is(err, ErrConditionFailed) true.
func (e *ConditionError) Unwrap() error { return ErrConditionFailed }

// BackpressureError reports an append that gave up waiting for window space.
type BackpressureError struct {
	Queued int // proposals waiting at the leader when it gave up
}

func (e *BackpressureError) Error() string {
	return fmt.Sprintf("replog: in-flight window full (%d queued) until the deadline", e.Queued)
}

// Unwrap makes errors.Is(err, ErrBackpressure) true.
func (e *BackpressureError) Unwrap() error { return ErrBackpressure }
