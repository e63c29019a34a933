package paxos

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/hashicorp/go-hclog"
)

// Errors returned by NewNode and Step, beside those in types.go.
var (
	// ErrInvalidMessage: Step got a message that is not for this node, comes
	// from an unknown sender, has an unknown type, or is malformed.
	ErrInvalidMessage = errors.New("paxos: invalid message")
	// ErrInvalidHardState: NewNode got a HardState that cannot have been
	// persisted by a node (for example Chosen below First-1).
	ErrInvalidHardState = errors.New("paxos: invalid hard state")
)

// maxPeers is the largest cluster: votes are a bit set in a uint64.
const maxPeers = 64

// memKeep is how many chosen slots below the durable chosen index a node
// keeps in memory to answer catch-up cheaply when cfg.Log is set.
const memKeep = 1024

// Node is one replica's protocol state: acceptor, proposer and learner. It is
// not safe for concurrent use: one goroutine owns it and drives it with
// Step, Tick, Propose and Ready/Advance.
type Node struct {
	cfg     Config
	id      NodeID
	selfIdx int
	quorum  int
	log     hclog.Logger
	tick    int64

	w     window // slots: accepted, chosen, in flight
	arena entryArena

	acceptorState
	learnerState
	proposerState
	electionState
	rebuildState

	persist  []Record
	eager    []Message
	msgs     []Message
	prevSoft SoftState
}

// NewNode builds a node from cfg and from exactly what was persisted (hs);
// the zero HardState is a fresh node. It returns ErrInvalidConfig or
// ErrInvalidHardState (wrapped) when either cannot be used.
func NewNode(cfg Config, hs HardState) (*Node, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(c.Peers) > maxPeers {
		return nil, fmt.Errorf("%w: %d peers, at most %d", ErrInvalidConfig, len(c.Peers), maxPeers)
	}
	if hs.First == 0 {
		if hs.Chosen != 0 {
			return nil, fmt.Errorf("%w: chosen %d with first 0", ErrInvalidHardState, hs.Chosen)
		}
		hs.First = 1
	}
	if hs.Chosen+1 < hs.First {
		return nil, fmt.Errorf("%w: chosen %d below first %d", ErrInvalidHardState, hs.Chosen, hs.First)
	}
	n := &Node{cfg: c, id: c.ID, quorum: len(c.Peers)/2 + 1}
	n.log = c.Logger.Named("paxos").With("id", uint64(c.ID))
	n.selfIdx = n.peerIdx(c.ID)
	n.promised = hs.Promised
	n.first, n.chosen, n.emitted, n.durable = hs.First, hs.Chosen, hs.Chosen, hs.Chosen
	n.w = newWindow(hs.Chosen + 1)
	if err := n.loadAccepted(hs); err != nil {
		return nil, err
	}
	n.prog = make([]peerProgress, len(c.Peers))
	n.resetElectionTimer()
	n.initRebuild(&hs)
	n.prevSoft = n.softState()
	return n, nil
}

// loadAccepted puts the persisted accepts back into the window.
func (n *Node) loadAccepted(hs HardState) error {
	var last uint64
	for _, e := range hs.Accepted {
		if e.Slot <= hs.Chosen {
			continue // already in the chosen log
		}
		if e.Slot <= last {
			return fmt.Errorf("%w: accepted slot %d after slot %d", ErrInvalidHardState, e.Slot, last)
		}
		if hs.Promised.Less(e.Ballot) || e.Ballot.IsZero() {
			return fmt.Errorf("%w: slot %d accepted at ballot %s, promised %s",
				ErrInvalidHardState, e.Slot, e.Ballot, hs.Promised)
		}
		last = e.Slot
		n.w.extend(e.Slot).setAcc(&e)
	}
	return nil
}

// peerIdx is the index of id in the sorted peer list, or -1.
func (n *Node) peerIdx(id NodeID) int {
	for i, p := range n.cfg.Peers {
		if p == id {
			return i
		}
	}
	return -1
}

// Step hands the node one message from the network. It returns
// ErrInvalidMessage (wrapped) only for malformed input; stale or duplicate
// messages are ignored.
func (n *Node) Step(m Message) error {
	if m.To != n.id {
		return fmt.Errorf("%w: %s addressed to %d, this is %d", ErrInvalidMessage, m.Type, m.To, n.id)
	}
	if !m.Type.Valid() {
		return fmt.Errorf("%w: type %d from %d", ErrInvalidMessage, uint8(m.Type), m.From)
	}
	idx := n.peerIdx(m.From)
	if idx < 0 || m.From == n.id {
		return fmt.Errorf("%w: %s from unknown peer %d", ErrInvalidMessage, m.Type, m.From)
	}
	switch m.Type {
	case MsgPrepare:
		n.onPrepare(&m)
	case MsgPromise:
		n.onPromise(&m, idx)
	case MsgAccept:
		return n.onAccept(&m)
	case MsgAccepted:
		n.onAccepted(&m, idx)
	case MsgNack:
		n.onNack(&m)
	case MsgHeartbeat:
		n.onHeartbeat(&m)
	case MsgHeartbeatAck:
		n.onHeartbeatAck(&m, idx)
	case MsgCatchUp:
		n.onCatchUp(&m)
	case MsgChosen:
		n.onChosen(&m)
	case MsgTrimmed:
		n.onTrimmed(&m)
	case MsgProbe:
		n.onProbe(&m)
	case MsgProbeAck:
		n.onProbeAck(&m, idx)
	}
	n.checkRebuilt()
	return nil
}

// Tick advances logical time by one tick: election and heartbeat timers,
// resends, catch-up retries.
func (n *Node) Tick() {
	n.tick++
	n.tickElection()
	n.tickLearner()
	n.tickRebuild()
}

// send queues m. Messages that report acceptor state (Promise, Accepted,
// Nack, HeartbeatAck) go to Ready.Messages, which leave only after
// Ready.Persist is durable; the rest may leave at once (Ready.Eager).
func (n *Node) send(m Message) {
	m.From = n.id
	switch m.Type {
	case MsgPromise, MsgAccepted, MsgNack, MsgHeartbeatAck, MsgProbeAck:
		if !n.cfg.bugs.sendBeforePersist {
			n.msgs = append(n.msgs, m)
			return
		}
	}
	n.eager = append(n.eager, m)
}

// HasReady reports whether Ready would return any work or a new SoftState.
func (n *Node) HasReady() bool {
	return len(n.persist) > 0 || len(n.eager) > 0 || len(n.msgs) > 0 ||
		n.chosen > n.emitted || n.resetTo != 0 || n.rebuiltOut || n.softState() != n.prevSoft
}

// Ready hands out the work accumulated since the previous Ready. The slices
// in it belong to the caller from now on; the node never writes them again.
// Entries inside records and messages may be shared between them (and with
// proposals' data) and must be treated as read-only.
func (n *Node) Ready() Ready {
	rd := Ready{Persist: n.persist, Eager: n.eager, Messages: n.msgs, ResetTo: n.resetTo,
		SoftState: n.softState(), Rebuilt: n.rebuiltOut}
	if n.chosen > n.emitted {
		rd.Committed = n.arena.take(int(n.chosen - n.emitted))
		for i := range rd.Committed {
			rd.Committed[i] = *n.w.at(n.emitted + 1 + uint64(i)).value()
		}
		n.emitted = n.chosen
	}
	n.persist, n.eager, n.msgs = nil, nil, nil
	n.resetTo, n.rebuiltOut = 0, false
	n.prevSoft = rd.SoftState
	return rd
}

// Advance tells the node that rd was handled: its records are durable, its
// messages sent, its chosen entries appended. Only now does a candidate
// count its own promise and a leader its own accepts.
func (n *Node) Advance(rd Ready) {
	if rd.ResetTo != 0 && rd.ResetTo-1 > n.durable {
		n.durable = rd.ResetTo - 1
	}
	if k := len(rd.Committed); k > 0 && rd.Committed[k-1].Slot > n.durable {
		n.durable = rd.Committed[k-1].Slot
	}
	for i := range rd.Persist {
		n.persisted(&rd.Persist[i])
	}
	if rd.Rebuilt {
		n.unsure = false // the driver cleared its rebuilding flag
	}
	if n.cfg.Log != nil && n.durable+1 > memKeep {
		n.w.dropBefore(min(n.durable+1-memKeep, n.chosen+1))
	}
}

// persisted reacts to one record having become durable.
func (n *Node) persisted(r *Record) {
	switch {
	case r.Kind == RecordPromise && n.role == Candidate && r.Ballot == n.ballot:
		n.selfPromise()
	case r.Kind == RecordAccept && n.role == Leader && r.Ballot == n.ballot:
		for i := range r.Entries {
			n.vote(n.selfIdx, r.Entries[i].Slot)
		}
	}
}

func (n *Node) softState() SoftState {
	switch n.role {
	case Leader:
		return SoftState{Role: Leader, Leader: n.id, Ballot: n.ballot}
	case Candidate:
		return SoftState{Role: Candidate, Ballot: n.ballot}
	}
	return SoftState{Role: Follower, Leader: n.leader, Ballot: n.promised}
}

// Status is a snapshot of the node for operators and tests.
func (n *Node) Status() Status {
	st := Status{ID: n.id, SoftState: n.softState(), Promised: n.promised, First: n.first,
		Commit: n.chosen, Rebuilding: n.rebuilding}
	if n.role == Leader {
		st.Inflight, st.InflightB = n.inflight, n.inflightB
		st.Progress = make(map[NodeID]Progress, len(n.cfg.Peers))
		for i, p := range n.cfg.Peers {
			if i == n.selfIdx {
				st.Progress[p] = Progress{Match: n.chosen}
				continue
			}
			st.Progress[p] = Progress{Match: n.prog[i].match, LastHeard: n.prog[i].lastHeard}
		}
	}
	return st
}

// popcount is the number of votes in a vote set.
func popcount(v uint64) int { return bits.OnesCount64(v) }
