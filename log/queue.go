package log

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// key identifies one proposed entry: (client id, sequence number). User
// appends use the appender's identity; barriers and trims use the node's
// internal identity, which never appends user data.
type key struct{ client, seq uint64 }

// result is the outcome of one proposed entry: for appends the index (or
// the first copy's index), for barriers the last delivered index before
// the barrier, for trims the new first index.
type result struct {
	index uint64
	err   error
}

// proposal is a group of entries submitted together (one Append call or one
// chunk of an AppendBatch). Its waiters complete entry by entry; done is
// closed when all have a result.
type proposal struct {
	hdrs      []header
	data      [][]byte // encoded entries
	res       []result
	set       []bool
	remaining int
	done      chan struct{}
	start     time.Time
	onDone    func(*proposal) // owner: counts the commit
	// state: stateQueued until the owner takes it into a Propose
	// (stateTaken), or until its appender gives up first (stateWithdrawn:
	// then it is never proposed and the appender reports back-pressure).
	state atomic.Int32
}

const (
	stateQueued int32 = iota
	stateTaken
	stateWithdrawn
)

// claim marks p taken by the owner; false if its appender withdrew it.
func (p *proposal) claim() bool {
	return p.state.CompareAndSwap(stateQueued, stateTaken) || p.state.Load() == stateTaken
}

// withdraw marks p as never to be proposed; false if the owner took it.
func (p *proposal) withdraw() bool { return p.state.CompareAndSwap(stateQueued, stateWithdrawn) }

func newProposal(hdrs []header, data [][]byte) *proposal {
	return &proposal{hdrs: hdrs, data: data, res: make([]result, len(data)),
		set: make([]bool, len(data)), remaining: len(data), done: make(chan struct{})}
}

// complete sets entry i's result once; owner goroutine only.
func (p *proposal) complete(i int, r result) {
	if p.set[i] {
		return
	}
	p.set[i], p.res[i] = true, r
	p.remaining--
	if p.remaining == 0 {
		if p.onDone != nil {
			p.onDone(p)
		}
		close(p.done)
	}
}

// failAll completes every entry still pending with err.
func (p *proposal) failAll(err error) {
	for i := range p.res {
		p.complete(i, result{err: err})
	}
}

// proposalQueue is the bounded group-commit queue between appenders and the
// owner goroutine. Entries count against max from push until the owner
// releases them (after proposing or failing them), so the owner's own
// backlog is bounded too.
type proposalQueue struct {
	mu      sync.Mutex
	items   []*proposal
	entries int // queued + held by the owner
	max     int
	closed  error
	space   chan struct{} // closed when entries drop
	signal  chan struct{} // cap 1: wakes the owner
}

func newProposalQueue(max int) *proposalQueue {
	return &proposalQueue{max: max, space: make(chan struct{}), signal: make(chan struct{}, 1)}
}

// push queues p, waiting for room until ctx ends.
func (q *proposalQueue) push(ctx context.Context, p *proposal) error {
	n := len(p.data)
	for {
		q.mu.Lock()
		if q.closed != nil {
			err := q.closed
			q.mu.Unlock()
			return err
		}
		if q.entries == 0 || q.entries+n <= q.max {
			q.items = append(q.items, p)
			q.entries += n
			q.mu.Unlock()
			select {
			case q.signal <- struct{}{}:
			default:
			}
			return nil
		}
		space, queued := q.space, q.entries
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return &BackpressureError{Queued: queued}
		case <-space:
		}
	}
}

// poke wakes the owner without queueing anything.
func (q *proposalQueue) poke() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// drain hands every queued proposal to the owner (still counted).
func (q *proposalQueue) drain() []*proposal {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// release uncounts n entries the owner is done holding.
func (q *proposalQueue) release(n int) {
	if n == 0 {
		return
	}
	q.mu.Lock()
	q.entries -= n
	close(q.space)
	q.space = make(chan struct{})
	q.mu.Unlock()
}

// queued is the number of entries counted against the bound.
func (q *proposalQueue) queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.entries
}

// close refuses further pushes with err and returns what was queued.
func (q *proposalQueue) close(err error) []*proposal {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = err
	items := q.items
	q.items = nil
	close(q.space)
	q.space = make(chan struct{})
	return items
}
