package log

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

// Node is one replica of the log. Its methods are safe for concurrent use.
// One goroutine (the owner, see loop.go) drives the paxos core; appenders
// reach it through a bounded queue, readers and tailers through the store
// and the published indexes, never through the core.
type Node struct {
	cfg   Config
	log   hclog.Logger
	store Store
	trans Transport
	addr  string

	internalID uint64        // identity of barriers and trims this node proposes
	localID    uint64        // client identity of Node.Append callers
	seq        atomic.Uint64 // sequence numbers of both identities

	queue    *proposalQueue
	filtered *filteredSet
	wake     *waker

	applied       atomic.Uint64 // last slot applied (verdict known)
	lastDelivered atomic.Uint64 // last slot delivered to consumers
	first         atomic.Uint64 // first slot held (trim point)
	soft          atomic.Pointer[paxos.SoftState]
	inflight      atomic.Int64 // proposed, not yet chosen (this node as leader)
	counters      counters

	ctrl    chan func(*owner) // work run in the owner goroutine (Status)
	stop    chan struct{}     // closed by Close
	done    chan struct{}     // closed when the owner goroutine has exited
	crash   atomic.Bool       // tests: stop without syncing
	closeMu sync.Mutex
	closed  bool
	fatal   atomic.Pointer[error] // first fatal error (fail-stop)

	bg sync.WaitGroup // checkpoint fetchers (restore.go)

	connMu   sync.Mutex // guards the connection a follower keeps to the leader
	conn     Conn
	connAddr string
}

// Start opens the data directory (or cfg.Store), rebuilds the dedup table
// and verdicts from the checkpoint and the chosen log, starts listening and
// starts the owner goroutine.
func Start(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, queue: newProposalQueue(cfg.MaxQueued),
		filtered: newFilteredSet(), wake: newWaker(), ctrl: make(chan func(*owner)),
		stop: make(chan struct{}), done: make(chan struct{}),
		internalID: randomID(), localID: randomID()}
	n.soft.Store(&paxos.SoftState{})
	if n.store = cfg.Store; n.store == nil {
		if n.store, err = openStorage(cfg); err != nil {
			return nil, err
		}
	}
	o, err := n.recover()
	if err != nil {
		n.store.Close()
		return nil, err
	}
	pcfg := paxnet.Config{ClusterID: cfg.ClusterID, NodeID: cfg.ID, Listen: cfg.Listen,
		Peers: cfg.Peers, TLS: cfg.TLS, Logger: cfg.Logger}
	if n.trans, n.addr, err = cfg.Network.Listen(pcfg, &handler{n: n}); err != nil {
		n.store.Close()
		return nil, fmt.Errorf("replog: node %d listen on %q: %w", cfg.ID, cfg.Listen, err)
	}
	go o.run()
	n.log.Info("started", "id", cfg.ID, "addr", n.addr, "first", n.first.Load(), "applied", n.applied.Load())
	return n, nil
}

// recover builds the core and the owner, and rebuilds the applier from
// the store: the last checkpoint, then the chosen log after it. A log that
// starts at a trim point without a checkpoint waits for one from a peer
// (restore.go).
func (n *Node) recover() (*owner, error) {
	hs := n.store.HardState()
	c, err := newCore(n.cfg.paxosConfig(n.store, n.store.Rebuilding()), hs)
	if err != nil {
		return nil, fmt.Errorf("replog: node %d: %w", n.cfg.ID, err)
	}
	ap := newApplier(n.filtered)
	first, last := n.store.FirstIndex(), n.store.LastIndex()
	ap.applied = first - 1
	n.publish(ap, first)
	o := newOwner(n, c, ap)
	switch slot, data := n.store.Checkpoint(); {
	case data != nil && slot+1 >= first:
		if err := o.restore(&checkpoint{slot: slot, data: data}, true); err != nil {
			return nil, err
		}
	case first > 1:
		o.awaiting, o.fetchAt = true, first // the owner starts the fetch
	default:
		if err := replayInto(n.store, ap, last); err != nil {
			return nil, fmt.Errorf("replog: node %d: %w", n.cfg.ID, err)
		}
		n.publish(ap, first)
	}
	return o, nil
}

// publish makes the applier's indexes visible to readers, then wakes them.
func (n *Node) publish(ap *applier, first uint64) {
	n.first.Store(first)
	n.lastDelivered.Store(ap.lastDelivered)
	n.applied.Store(ap.applied)
	n.wake.broadcast()
}

// ID is this replica's id.
func (n *Node) ID() paxos.NodeID { return n.cfg.ID }

// Addr is the address peers and clients reach this node at.
func (n *Node) Addr() string { return n.addr }

// Applied is the last slot whose verdict is known here; LastDelivered the
// last index delivered to consumers here. Both only grow (until a trim
// resets an empty replica).
func (n *Node) Applied() uint64       { return n.applied.Load() }
func (n *Node) LastDelivered() uint64 { return n.lastDelivered.Load() }

// FirstIndex is the first index held here (the trim point).
func (n *Node) FirstIndex() uint64 { return n.first.Load() }

// Leader returns the leader's id as last known here (0 when unknown) and
// whether this node is the leader.
func (n *Node) Leader() (paxos.NodeID, bool) {
	s := n.soft.Load()
	return s.Leader, s.Role == paxos.Leader
}

// Campaign asks the core to start phase 1 now (tests, operators).
func (n *Node) Campaign() {
	n.runInOwner(context.Background(), func(o *owner) { o.core.Campaign() })
}

// Close stops accepting, fails queued and in-flight appends with ErrClosed
// (their outcome is unknown: a Client retries them elsewhere), syncs the
// chosen log, stops every goroutine and closes the store and transport.
func (n *Node) Close() error {
	n.closeMu.Lock()
	if n.closed {
		n.closeMu.Unlock()
		<-n.done
		return nil
	}
	n.closed = true
	n.closeMu.Unlock()
	close(n.stop)
	<-n.done
	n.bg.Wait()
	n.connMu.Lock()
	if n.conn != nil {
		n.conn.Close()
		n.conn = nil
	}
	n.connMu.Unlock()
	if p := n.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// Done is closed once the node has stopped: after Close, or on its own
// after a fatal error (a failed persist or chosen-log write; see Err).
func (n *Node) Done() <-chan struct{} { return n.done }

// Err is the fatal error that stopped the node (wrapping ErrStopped), or
// nil while it runs or after a clean Close.
func (n *Node) Err() error {
	if p := n.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// errIfStopped returns ErrClosed or the fatal error once the node stops.
func (n *Node) errIfStopped() error {
	if p := n.fatal.Load(); p != nil {
		return *p
	}
	select {
	case <-n.stop:
		return fmt.Errorf("replog: node %d: %w", n.cfg.ID, ErrClosed)
	default:
		return nil
	}
}

// runInOwner runs f in the owner goroutine and waits for it.
func (n *Node) runInOwner(ctx context.Context, f func(*owner)) error {
	done := make(chan struct{})
	select {
	case n.ctrl <- func(o *owner) { f(o); close(done) }:
	case <-n.done:
		return fmt.Errorf("replog: node %d: %w", n.cfg.ID, ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// notLeader builds the redirect for the leader known here.
func (n *Node) notLeader() error {
	s := n.soft.Load()
	return &NotLeaderError{LeaderID: s.Leader, Leader: n.cfg.Peers[s.Leader]}
}

func randomID() uint64 {
	var b [8]byte
	if _, err := crand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("replog: crypto/rand: %v", err))
	}
	id := binary.LittleEndian.Uint64(b[:])
	if id == 0 {
		id = 1
	}
	return id
}

// isRetryable reports whether an append failing with err may be retried
// with the same (client id, sequence) elsewhere or later.
func isRetryable(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, ErrDropped) ||
		errors.Is(err, ErrBackpressure) || errors.Is(err, ErrClosed)
}
