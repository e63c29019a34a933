package storage

import (
	"errors"
	"fmt"
)

// Errors returned by the store. Callers test them with errors.Is; the
// returned errors wrap them with context (file, offset, slot, values).
var (
	// ErrCorrupt: data on disk is invalid somewhere other than a torn tail
	// (a bad record followed by valid ones, a missing or gapped segment, a
	// bad identity or meta file). Open refuses to start; reads of a damaged
	// record return it. Errors carry the file and offset (*CorruptError).
	ErrCorrupt = errors.New("storage: corrupt data")
	// ErrPoisoned: an earlier write or fsync failed; the store is fail-stop
	// and every later call returns this (wrapping the first failure). The
	// node must stop; reopening recovers what was acknowledged.
	ErrPoisoned = errors.New("storage: poisoned by an earlier write or fsync failure")
	// ErrIdentity: the data directory belongs to another cluster or node,
	// or its identity file is missing while it holds data.
	ErrIdentity = errors.New("storage: data directory identity mismatch")
	// ErrLocked: another Store (in this or another process) has the data
	// directory open.
	ErrLocked = errors.New("storage: data directory in use")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("storage: closed")
	// ErrNotFound: Entry of a slot above LastIndex (not chosen here yet).
	ErrNotFound = errors.New("storage: slot not in the chosen log")
	// ErrInvalid: a caller broke the API contract (bad options, non
	// contiguous chosen entries, slot 0, ...). It does not poison the store.
	ErrInvalid = errors.New("storage: invalid argument")
)

// CorruptError names where corruption was found. It wraps ErrCorrupt.
type CorruptError struct {
	File   string // path of the damaged file
	Offset int64  // byte offset in File (-1 when it is the whole file)
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%v: %s at offset %d: %s", ErrCorrupt, e.File, e.Offset, e.Reason)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func corruptf(file string, off int64, format string, args ...any) error {
	return &CorruptError{File: file, Offset: off, Reason: fmt.Sprintf(format, args...)}
}
