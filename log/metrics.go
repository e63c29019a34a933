package log

import (
	"sync/atomic"
	"time"
)

// Metrics is a snapshot of a node's counters (monotonic unless marked as
// a gauge), for operators and exporters (the CLI turns them into
// Prometheus metrics). Durations are cumulative: divide by the count.
type Metrics struct {
	Persists       uint64        // Persist calls (one fsync each)
	PersistRecords uint64        // records persisted
	PersistTime    time.Duration // total time in Persist (fsync latency)
	ProposeCalls   uint64        // Propose calls (one Accept batch each)
	Proposed       uint64        // entries proposed
	Commits        uint64        // appends of this node completed (acknowledged)
	CommitTime     time.Duration // total time from queueing to completion of those
	Applied        uint64        // slots applied (all kinds)
	Delivered      uint64        // entries delivered to consumers
	DeliveredBytes uint64        // their payload bytes
	Filtered       uint64        // user entries filtered (duplicates, failed conditions, too old)
	LeaderChanges  uint64        // times this node saw the leader change
	Inflight       int           // gauge: entries proposed here, not yet chosen
	Queued         int           // gauge: entries waiting in the group-commit queue
	Tails          int           // gauge: open tail streams served here (local and remote)
	AppliedIndex   uint64        // gauge: last slot applied
	FirstIndex     uint64        // gauge: first index held
}

// counters are the live counters behind Metrics.
type counters struct {
	persists, persistRecords, persistNanos      atomic.Uint64
	proposeCalls, proposed, commits, commitNano atomic.Uint64
	applied, delivered, deliveredBytes          atomic.Uint64
	filtered, leaderChanges                     atomic.Uint64
	tails                                       atomic.Int64
}

// Metrics returns a snapshot of the node's counters.
func (n *Node) Metrics() Metrics {
	c := &n.counters
	return Metrics{
		Persists: c.persists.Load(), PersistRecords: c.persistRecords.Load(),
		PersistTime:  time.Duration(c.persistNanos.Load()),
		ProposeCalls: c.proposeCalls.Load(), Proposed: c.proposed.Load(),
		Commits: c.commits.Load(), CommitTime: time.Duration(c.commitNano.Load()),
		Applied: c.applied.Load(), Delivered: c.delivered.Load(), DeliveredBytes: c.deliveredBytes.Load(),
		Filtered: c.filtered.Load(), LeaderChanges: c.leaderChanges.Load(),
		Inflight: int(n.inflight.Load()), Queued: n.queue.queued(), Tails: int(c.tails.Load()),
		AppliedIndex: n.applied.Load(), FirstIndex: n.first.Load(),
	}
}
