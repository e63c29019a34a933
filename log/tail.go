package log

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/paxlog/paxlog/paxos"
)

// waker is a broadcast notification: waiters take the current channel and
// block on it; broadcast closes it and installs a new one.
type waker struct {
	mu sync.Mutex
	ch chan struct{}
}

func newWaker() *waker { return &waker{ch: make(chan struct{})} }

func (w *waker) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

func (w *waker) broadcast() {
	w.mu.Lock()
	close(w.ch)
	w.ch = make(chan struct{})
	w.mu.Unlock()
}

// tailReadBytes bounds one read from the store by a tailer.
const tailReadBytes = 256 << 10

// localTail reads delivered entries of one node from the store. It never
// touches the paxos core: it reads slots up to the published applied index
// and asks the filtered set for their verdicts.
type localTail struct {
	n    *Node
	next uint64        // next slot to read from the store
	buf  []paxos.Entry // read, not yet examined
}

// Tail returns a stream of every entry delivered at index from or later,
// in index order, each exactly once; it blocks for new ones until ctx ends
// or the node closes. from 0 means the first index held. Below the trim
// point it fails with *TrimmedError. Tail works on any replica: a lagging
// follower delivers the same sequence later.
func (n *Node) Tail(ctx context.Context, from uint64) (*TailStream, error) {
	if err := n.errIfStopped(); err != nil {
		return nil, err
	}
	first := n.first.Load()
	if from == 0 {
		from = first
	}
	if from < first {
		return nil, &TrimmedError{Index: from, First: first}
	}
	t := &localTail{n: n, next: from}
	n.counters.tails.Add(1)
	return newTailStream(ctx, t.next1, func() { n.counters.tails.Add(-1) }), nil
}

// next1 returns the next delivered entry, blocking until there is one.
func (t *localTail) next1(ctx context.Context) (uint64, []byte, error) {
	for {
		for len(t.buf) > 0 {
			e := t.buf[0]
			t.buf = t.buf[1:]
			if data, ok, err := t.n.deliverable(&e); err != nil {
				return 0, nil, err
			} else if ok {
				return e.Slot, data, nil
			}
		}
		if err := t.fill(ctx, true); err != nil {
			return 0, nil, err
		}
	}
}

// fill reads the next run of applied slots into buf; when none is applied
// yet it blocks (wait) or returns with an empty buf (!wait).
func (t *localTail) fill(ctx context.Context, wait bool) error {
	for {
		ch := t.n.wake.wait()
		if err := t.n.errIfStopped(); err != nil {
			return err
		}
		applied := t.n.applied.Load()
		if t.next <= applied {
			return t.read(applied)
		}
		if !wait {
			return nil
		}
		select {
		case <-ch:
		case <-t.n.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (t *localTail) read(applied uint64) error {
	if first := t.n.first.Load(); t.next < first {
		return &TrimmedError{Index: t.next, First: first}
	}
	es, err := t.n.store.Entries(t.next, tailReadBytes)
	if errors.Is(err, paxos.ErrCompacted) {
		return &TrimmedError{Index: t.next, First: t.n.first.Load()}
	}
	if err != nil {
		return fmt.Errorf("replog: node %d read slot %d: %w", t.n.cfg.ID, t.next, err)
	}
	for len(es) > 0 && es[len(es)-1].Slot > applied {
		es = es[:len(es)-1]
	}
	if len(es) == 0 || es[0].Slot != t.next {
		return fmt.Errorf("replog: node %d: chosen log has no slot %d (applied %d)", t.n.cfg.ID, t.next, applied)
	}
	t.buf = es
	t.next = es[len(es)-1].Slot + 1
	return nil
}

// deliverable reports whether the applied entry e is delivered to
// consumers, and its payload. A trim racing with the read is reported as
// *TrimmedError: the filtered set forgets a slot only after the published
// first index moved past it.
func (n *Node) deliverable(e *paxos.Entry) ([]byte, bool, error) {
	if e.Noop {
		return nil, false, nil
	}
	h, payload, err := decodeEntry(e.Data)
	if err != nil || h.kind != kindUser || n.filtered.has(e.Slot) {
		return nil, false, nil
	}
	if first := n.first.Load(); e.Slot < first {
		return nil, false, &TrimmedError{Index: e.Slot, First: first}
	}
	return payload, true, nil
}

// Read returns the entry delivered at index. It does not wait: an index
// above the last applied one is ErrNotApplied (transient: this replica is
// behind, or the index is not chosen yet); a slot that holds no delivered
// entry (no-op, filtered duplicate, failed condition, barrier, trim) is
// ErrNotFound (permanent); below the trim point *TrimmedError. Call
// CheckTail first to read your own writes on a follower.
func (n *Node) Read(ctx context.Context, index uint64) ([]byte, error) {
	if err := n.errIfStopped(); err != nil {
		return nil, err
	}
	if first := n.first.Load(); index < first {
		return nil, &TrimmedError{Index: index, First: first}
	}
	if index == 0 {
		return nil, fmt.Errorf("%w: index 0", ErrNotFound)
	}
	if applied := n.applied.Load(); index > applied {
		return nil, fmt.Errorf("%w: index %d (applied %d)", ErrNotApplied, index, applied)
	}
	es, err := n.store.Entries(index, 1)
	if errors.Is(err, paxos.ErrCompacted) {
		return nil, &TrimmedError{Index: index, First: n.first.Load()}
	}
	if err != nil {
		return nil, fmt.Errorf("replog: node %d read %d: %w", n.cfg.ID, index, err)
	}
	if len(es) == 0 || es[0].Slot != index {
		return nil, fmt.Errorf("%w: index %d", ErrNotFound, index)
	}
	data, ok, err := n.deliverable(&es[0])
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: index %d holds no delivered entry", ErrNotFound, index)
	}
	return data, nil
}

// WaitApplied blocks until this replica has applied index (so Tail and
// Read see everything up to it) or ctx ends.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	for {
		ch := n.wake.wait()
		if n.applied.Load() >= index {
			return nil
		}
		if err := n.errIfStopped(); err != nil {
			return err
		}
		select {
		case <-ch:
		case <-n.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TailStream is a stream of delivered entries (Node.Tail, Client.Tail).
// It is used by one goroutine at a time.
type TailStream struct {
	ctx   context.Context
	next  func(context.Context) (uint64, []byte, error)
	close func()
	err   error
}

func newTailStream(ctx context.Context, next func(context.Context) (uint64, []byte, error), closeFn func()) *TailStream {
	return &TailStream{ctx: ctx, next: next, close: closeFn}
}

// Next returns the next entry, blocking until there is one. After an error
// (ctx ended, node closed, trimmed) every later call returns it again.
func (s *TailStream) Next() (uint64, []byte, error) {
	if s.err != nil {
		return 0, nil, s.err
	}
	idx, data, err := s.next(s.ctx)
	if err != nil {
		s.err = err
		s.Close()
	}
	return idx, data, err
}

// All is the range-over-func form: it yields (index, data) until the
// stream ends; check Err afterwards.
func (s *TailStream) All() iter.Seq2[uint64, []byte] {
	return func(yield func(uint64, []byte) bool) {
		for {
			idx, data, err := s.Next()
			if err != nil || !yield(idx, data) {
				return
			}
		}
	}
}

// Err is the error that ended the stream (nil while it runs).
func (s *TailStream) Err() error { return s.err }

// Close releases the stream; Next then fails.
func (s *TailStream) Close() {
	if s.err == nil {
		s.err = ErrClosed
	}
	if s.close != nil {
		s.close()
		s.close = nil
	}
}
