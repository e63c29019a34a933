package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	replog "github.com/paxlog/paxlog/log"
	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
	"github.com/paxlog/paxlog/storage"
)

// replicaConfig is what dev and serve need to start one replica.
type replicaConfig struct {
	ID      paxos.NodeID
	Cluster string
	Dir     string
	Listen  string                  // default Peers[ID]
	Peers   map[paxos.NodeID]string // every member, this one included
	TLS     *paxnet.TLSConfig
	// Tick is the paxos tick; 0: replog's default (10 ms).
	Tick time.Duration
	// ElectionTicks is the base election timeout in ticks; 0: replog's
	// default (10).
	ElectionTicks int
	Logger        hclog.Logger
	// FS replaces the file system under storage (tests inject failures).
	FS storage.FS
	// Leaders, shared by the replicas of one process, logs each leader
	// change once; nil: this replica logs its own.
	Leaders *leaderLog
}

// leaderLog logs a leader change once per process, however many local
// replicas observe it.
type leaderLog struct {
	mu   sync.Mutex
	last paxos.Ballot
	id   paxos.NodeID
}

func (l *leaderLog) changed(id paxos.NodeID, b paxos.Ballot) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id == l.id && !l.last.Less(b) {
		return false
	}
	if b.Less(l.last) {
		return false
	}
	l.id, l.last = id, b
	return true
}

// electionTimeout is the longest randomized election timeout of cfg.
func (rc replicaConfig) electionTimeout() time.Duration {
	tick, ticks := rc.Tick, rc.ElectionTicks
	if tick == 0 {
		tick = replog.DefaultTickInterval
	}
	if ticks == 0 {
		ticks = 10
	}
	return 2 * time.Duration(ticks) * tick
}

// replica is one running replica with its metrics and leader watcher.
type replica struct {
	cfg   replicaConfig
	node  *replog.Node
	net   *meteredNetwork
	m     *nodeMetrics
	store *timedStore
	log   hclog.Logger

	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	leader paxos.NodeID // last leader seen by watch
}

// startReplica opens the data directory and starts the node. Errors keep
// their cause (storage.ErrIdentity, storage.ErrCorrupt, EADDRINUSE) for
// exitCode and name the directory or address.
func startReplica(rc replicaConfig) (*replica, error) {
	if rc.Leaders == nil {
		rc.Leaders = &leaderLog{}
	}
	logger := rc.Logger
	m := newNodeMetrics()
	st, err := storage.Open(storage.Options{Dir: rc.Dir, ClusterID: rc.Cluster, NodeID: uint64(rc.ID),
		Logger: logger.With("node", uint64(rc.ID)), FS: rc.FS})
	if err != nil {
		return nil, fmt.Errorf("replica %d: data directory %s: %w", rc.ID, rc.Dir, err)
	}
	ts := newTimedStore(st, m)
	nw := &meteredNetwork{m: m}
	node, err := replog.Start(replog.Config{ID: rc.ID, ClusterID: rc.Cluster, Listen: rc.Listen, Peers: rc.Peers,
		TLS: rc.TLS, TickInterval: rc.Tick, ElectionTicks: rc.ElectionTicks, Logger: logger,
		Store: ts, Network: nw})
	if err != nil {
		ts.Close()
		if errors.Is(err, replog.ErrInvalidConfig) {
			return nil, &usageError{msg: err.Error()}
		}
		return nil, fmt.Errorf("replica %d: %w", rc.ID, err)
	}
	r := &replica{cfg: rc, node: node, net: nw, m: m, store: ts, log: logger, stop: make(chan struct{})}
	r.wg.Add(1)
	go r.watch()
	return r, nil
}

// watch logs leader changes (the metric is the node's own counter).
// replog has no leader-change hook, so it polls Node.Leader (an atomic
// load) every 50 ms.
func (r *replica) watch() {
	defer r.wg.Done()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		id, _ := r.node.Leader()
		r.mu.Lock()
		changed := id != 0 && id != r.leader
		if changed {
			r.leader = id
		}
		r.mu.Unlock()
		if changed {
			st := r.node.Status()
			if r.cfg.Leaders.changed(id, st.Ballot) {
				r.log.Info("leader changed", "leader", uint64(id), "leader_addr", r.cfg.Peers[id],
					"ballot", st.Ballot.String(), "seen_by", uint64(r.cfg.ID))
			}
		}
	}
}

// ready reports whether the replica knows a leader and has applied every
// entry it holds.
func (r *replica) ready() (bool, string) {
	st := r.node.Status()
	if st.LeaderID == 0 {
		return false, fmt.Sprintf("replica %d: no leader known", r.cfg.ID)
	}
	if st.Applied < st.Last {
		return false, fmt.Sprintf("replica %d: applied %d of %d", r.cfg.ID, st.Applied, st.Last)
	}
	return true, fmt.Sprintf("replica %d: leader %d, applied %d", r.cfg.ID, st.LeaderID, st.Applied)
}

// failed is closed when the replica's store fails a write; the node has
// then stopped for good (fail-stop) and err says why.
func (r *replica) failed() (<-chan struct{}, func() error) {
	return r.store.failed, func() error {
		return fmt.Errorf("replica %d stopped after a storage failure in %s (restart it; it recovers every acknowledged write): %w",
			r.cfg.ID, r.cfg.Dir, r.store.failErr)
	}
}

// Close stops the watcher and the node (the node syncs and closes its store).
func (r *replica) Close() error {
	close(r.stop)
	r.wg.Wait()
	return r.node.Close()
}

// waitLeader waits until one of rs knows a leader, or ctx ends.
func waitLeader(ctx context.Context, rs []*replica) (paxos.NodeID, error) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		for _, r := range rs {
			if id, _ := r.node.Leader(); id != 0 {
				return id, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: %v", errNoLeader, ctx.Err())
		case <-t.C:
		}
	}
}
