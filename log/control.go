package log

import (
	"context"
	"errors"
	"fmt"
	"time"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

// CheckTail returns the last delivered index as of a moment between the
// call and its return (linearizable), and returns only once this replica
// has applied that far, so Read and Tail here then see every append
// acknowledged before the call.
//
// Method: a barrier entry through consensus (a quorum round, no lease).
// On the leader, CheckTail proposes a barrier and answers with the last
// delivered index before the barrier's slot; the barrier is chosen at a
// slot above every slot chosen before the call. On a follower, it asks the
// leader (over the client protocol) for that index and waits until it has
// applied it.
func (n *Node) CheckTail(ctx context.Context) (uint64, error) {
	for {
		if err := n.errIfStopped(); err != nil {
			return 0, err
		}
		idx, err := n.checkTailOnce(ctx)
		if err == nil {
			return idx, n.WaitApplied(ctx, idx)
		}
		if !isRetryable(err) || errors.Is(err, ErrClosed) {
			return 0, err
		}
		// No leader yet, or leadership moved: wait a tick and ask again.
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("replog: check tail: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(n.cfg.TickInterval):
		}
	}
}

func (n *Node) checkTailOnce(ctx context.Context) (uint64, error) {
	leader, isLeader := n.Leader()
	if isLeader {
		return n.internal(ctx, header{kind: kindBarrier})
	}
	if leader == 0 {
		return 0, n.notLeader()
	}
	return n.askLeader(ctx, leader)
}

// askLeader runs OpCheckTail on the leader, over a connection kept for
// the next call.
func (n *Node) askLeader(ctx context.Context, leader paxos.NodeID) (uint64, error) {
	addr := n.cfg.Peers[leader]
	conn, err := n.leaderConn(ctx, addr)
	if err != nil {
		return 0, fmt.Errorf("replog: dial leader %d at %s: %v: %w", leader, addr, err, ErrNotLeader)
	}
	resp, err := conn.Call(ctx, &paxnet.Request{Op: paxnet.OpCheckTail})
	if err != nil {
		n.dropLeaderConn(conn)
		return 0, fmt.Errorf("replog: check tail at leader %d: %v: %w", leader, err, ErrNotLeader)
	}
	if err := responseError(resp); err != nil {
		return 0, err
	}
	return resp.Index, nil
}

// leaderConn returns the kept connection to addr, dialing when needed.
func (n *Node) leaderConn(ctx context.Context, addr string) (Conn, error) {
	n.connMu.Lock()
	defer n.connMu.Unlock()
	if n.conn != nil && n.connAddr == addr {
		return n.conn, nil
	}
	if n.conn != nil {
		n.conn.Close()
		n.conn = nil
	}
	if err := n.errIfStopped(); err != nil {
		return nil, err
	}
	conn, err := n.cfg.Network.Dial(ctx, addr, paxnet.ClientConfig{ClusterID: n.cfg.ClusterID, TLS: n.cfg.TLS, Logger: n.log})
	if err != nil {
		return nil, err
	}
	n.conn, n.connAddr = conn, addr
	return conn, nil
}

func (n *Node) dropLeaderConn(conn Conn) {
	n.connMu.Lock()
	defer n.connMu.Unlock()
	if n.conn == conn {
		n.conn.Close()
		n.conn = nil
	}
}

// Trim drops every entry below before on every replica: a trim entry goes
// through consensus; each replica, applying it at slot s, checkpoints its
// dedup table and verdicts at s and drops the slots below min(before, s+1)
// from its chosen log. It returns the new first index. Leader only
// (*NotLeaderError otherwise).
func (n *Node) Trim(ctx context.Context, before uint64) (uint64, error) {
	if before == 0 {
		return 0, fmt.Errorf("%w: trim before 0", ErrInvalid)
	}
	return n.internal(ctx, header{kind: kindTrim, before: before})
}

// Status describes a replica.
type Status struct {
	ID       paxos.NodeID
	Role     paxos.Role
	LeaderID paxos.NodeID // 0 when unknown
	Leader   string       // the leader's address
	Ballot   paxos.Ballot
	First    uint64 // first index held (trim point)
	Last     uint64 // last chosen index held here
	Applied  uint64 // last slot applied here
	// LastDelivered is the last index delivered to consumers here.
	LastDelivered uint64
	Inflight      int  // leader: entries proposed, not yet chosen
	Queued        int  // entries waiting in the group-commit queue
	DedupClients  int  // clients in the dedup table
	Tailers       int  // open tail streams served here (local and remote)
	Restoring     bool // waiting for a peer's checkpoint (see doc.go)
	// Rebuilding: the replica's data was created empty (new or lost) and it
	// does not vote until it has re-learned the chosen log from peers.
	Rebuilding bool
	Peers      []PeerStatus
}

// PeerStatus is what the leader knows of a peer (zero on followers).
type PeerStatus struct {
	ID        paxos.NodeID
	Addr      string
	Match     uint64 // highest slot known accepted or chosen there
	Lag       uint64 // this node's last chosen slot minus Match
	LastHeard int    // ticks since the leader last heard from it
}

// Status returns a snapshot. It asks the owner goroutine for the core's
// view, waiting at most one second; a closed node reports what it last
// published.
func (n *Node) Status() Status {
	soft := n.soft.Load()
	st := Status{ID: n.cfg.ID, Role: soft.Role, LeaderID: soft.Leader, Leader: n.cfg.Peers[soft.Leader],
		Ballot: soft.Ballot, First: n.first.Load(), Applied: n.applied.Load(),
		LastDelivered: n.lastDelivered.Load(), Inflight: int(n.inflight.Load()), Queued: n.queue.queued(),
		Tailers: int(n.counters.tails.Load())}
	st.Last = st.Applied
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var ps paxos.Status
	if n.runInOwner(ctx, func(o *owner) {
		ps = o.core.Status()
		st.DedupClients, st.Restoring = len(o.ap.dedup.clients), o.awaiting
	}) != nil {
		return st
	}
	st.Role, st.LeaderID, st.Ballot = ps.SoftState.Role, ps.SoftState.Leader, ps.SoftState.Ballot
	st.Rebuilding = ps.Rebuilding
	st.Leader = n.cfg.Peers[st.LeaderID]
	st.Last = max(st.Applied, ps.Commit)
	for id, p := range ps.Progress {
		lag := uint64(0)
		if st.Last > p.Match {
			lag = st.Last - p.Match
		}
		st.Peers = append(st.Peers, PeerStatus{ID: id, Addr: n.cfg.Peers[id], Match: p.Match, Lag: lag, LastHeard: p.LastHeard})
	}
	sortPeers(st.Peers)
	return st
}
