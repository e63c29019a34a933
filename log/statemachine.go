package log

import (
	"context"
	"fmt"
)

// StateMachine is state rebuilt from the log. Feed calls Apply once per
// delivered entry, in index order, from a single goroutine.
type StateMachine interface {
	// Applied is the index of the last entry the state reflects (0: none).
	// A state machine restored from its own snapshot reports the index the
	// snapshot was taken at.
	Applied() uint64
	// Apply applies the entry delivered at index. An error stops Feed.
	Apply(index uint64, data []byte) error
}

// Source is what Feed reads: a *Node (local replica) or a *Client.
type Source interface {
	Tail(ctx context.Context, from uint64) (*TailStream, error)
}

var (
	_ Source = (*Node)(nil)
	_ Source = (*Client)(nil)
)

// Feed tails src from sm.Applied()+1 and applies every delivered entry
// until ctx ends (then it returns ctx.Err()), Apply fails, or the stream
// fails. If the state machine is behind the trim point it returns
// *TrimmedError: restore a snapshot taken at or after the trim point first.
func Feed(ctx context.Context, src Source, sm StateMachine) error {
	s, err := src.Tail(ctx, sm.Applied()+1)
	if err != nil {
		return err
	}
	defer s.Close()
	for idx, data := range s.All() {
		if err := sm.Apply(idx, data); err != nil {
			return fmt.Errorf("replog: apply index %d: %w", idx, err)
		}
	}
	return s.Err()
}

// CatchUp applies everything delivered up to the linearizable tail
// (src.CheckTail) and returns that index: afterwards the state machine
// reflects every append acknowledged before the call.
func CatchUp(ctx context.Context, src interface {
	Source
	CheckTail(context.Context) (uint64, error)
}, sm StateMachine) (uint64, error) {
	last, err := src.CheckTail(ctx)
	if err != nil {
		return 0, err
	}
	if sm.Applied() >= last {
		return last, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := src.Tail(ctx, sm.Applied()+1)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	for sm.Applied() < last {
		idx, data, err := s.Next()
		if err != nil {
			return 0, err
		}
		if err := sm.Apply(idx, data); err != nil {
			return 0, fmt.Errorf("replog: apply index %d: %w", idx, err)
		}
	}
	return last, nil
}
