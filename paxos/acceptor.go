package paxos

import "fmt"

// acceptorState is the acceptor role: the highest ballot promised, and the
// leader it last heard from (for the leader lease). Accepted values live in
// the node's window (slotState.acc).
type acceptorState struct {
	promised  Ballot // highest ballot promised or accepted; durable once its Ready is persisted
	leader    NodeID // leader last heard from (0: none)
	leaderAgo int    // ticks since a message from that leader
}

// leaseHeld reports whether this acceptor must refuse a prepare from 'from'
// because it heard from another, live leader within ElectionTicks (or is the
// leader itself). This is what keeps a node that rejoins after a partition
// from deposing a healthy leader.
func (n *Node) leaseHeld(from NodeID) bool {
	if n.role == Leader {
		return true
	}
	return n.leader != 0 && n.leader != from && n.leaderAgo < n.cfg.ElectionTicks
}

// onPrepare is phase 1a: promise m.Ballot unless a higher ballot was
// promised or a live leader holds the lease.
func (n *Node) onPrepare(m *Message) {
	n.noteSeen(m.Ballot)
	if m.Ballot.Less(n.promised) || n.leaseHeld(m.From) || n.rebuilding {
		n.send(Message{Type: MsgNack, To: m.From, Ballot: m.Ballot, Hint: n.promised})
		return
	}
	if n.promised.Less(m.Ballot) {
		n.promise(m.Ballot)
		if n.role != Follower {
			n.becomeFollower(0)
		}
	}
	n.resetElectionTimer() // give the candidate time to finish
	n.sendPromise(m.From, m.Ballot, m.Slot)
	if m.Slot <= n.durable {
		// The promise leaves out slots this node has durably chosen; the
		// candidate must learn them before it leads, so send them along.
		n.serveChosen(m.From, m.Slot, n.durable)
	}
}

// promise raises the promised ballot and records it for persistence.
func (n *Node) promise(b Ballot) {
	n.promised = b
	if n.cfg.bugs.noPersistPromise {
		return // planted bug (1): the promise never reaches the disk
	}
	n.persist = append(n.persist, Record{Kind: RecordPromise, Ballot: b})
}

// sendPromise is phase 1b: everything this acceptor accepted at slots >=
// from and above its durable chosen log, in parts of at most MaxMsgBytes.
// A part covers [Slot, Slot+Count); the last part has Count 0 (to the end).
// Commit tells the candidate how far this acceptor's chosen log is durable.
func (n *Node) sendPromise(to NodeID, b Ballot, from uint64) {
	part := from
	var ents []Entry
	size := 0
	for s := max(from, n.durable+1, n.w.base); s < n.w.end(); s++ {
		st := n.w.at(s)
		if st.acc.Ballot.IsZero() {
			continue
		}
		if len(ents) > 0 && size+st.acc.Size() > n.cfg.MaxMsgBytes {
			n.send(Message{Type: MsgPromise, To: to, Ballot: b, Slot: part, Count: s - part,
				Commit: n.durable, Entries: ents})
			part, ents, size = s, nil, 0
		}
		ents = append(ents, st.acc)
		size += st.acc.Size()
	}
	n.send(Message{Type: MsgPromise, To: to, Ballot: b, Slot: part, Commit: n.durable, Entries: ents})
}

// checkAccept validates the shape of an Accept: consecutive slots from
// m.Slot, each at the message's ballot.
func checkAccept(m *Message) error {
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Slot != m.Slot+uint64(i) || e.Ballot != m.Ballot || e.Slot == 0 {
			return fmt.Errorf("%w: accept from %d: entry %d has slot %d ballot %s, want slot %d ballot %s",
				ErrInvalidMessage, m.From, i, e.Slot, e.Ballot, m.Slot+uint64(i), m.Ballot)
		}
	}
	return nil
}

// onAccept is phase 2a at an acceptor: accept the run unless a higher
// ballot was promised, then learn what the leader's commit index proves.
func (n *Node) onAccept(m *Message) error {
	if err := checkAccept(m); err != nil {
		return err
	}
	n.noteSeen(m.Ballot)
	if m.Ballot.Less(n.promised) {
		n.send(Message{Type: MsgNack, To: m.From, Ballot: m.Ballot, Hint: n.promised})
		return nil
	}
	n.heardLeader(m.From)
	if n.rebuilding { // no vote: learn what the commit index lets it fetch
		n.learnCommit(m.From, m.Commit, m.CommitBallot)
		return nil
	}
	n.promised = m.Ballot // the accept record below makes it durable
	if k := len(m.Entries); k > 0 && m.Entries[k-1].Slot <= n.chosen+n.maxSpan() {
		n.accept(m)
	}
	n.learnCommit(m.From, m.Commit, m.CommitBallot)
	return nil
}

// accept stores the run, records it for persistence and answers Accepted
// (which leaves only after the record is durable).
func (n *Node) accept(m *Message) {
	n.persist = append(n.persist, Record{Kind: RecordAccept, Ballot: m.Ballot, Entries: m.Entries})
	for i := range m.Entries {
		e := &m.Entries[i]
		st := n.w.extend(e.Slot)
		if st == nil {
			continue // below the window: long chosen and durable
		}
		st.setAcc(e)
		if !st.chosen && m.Ballot == n.commitBallot && e.Slot <= n.commitScanned {
			n.markChosen(e.Slot, st, &st.acc)
		}
	}
	n.send(Message{Type: MsgAccepted, To: m.From, Ballot: m.Ballot, Slot: m.Slot,
		Count: uint64(len(m.Entries))})
}

// maxSpan bounds how far above its chosen log an acceptor stores accepts,
// so a lagging replica's memory stays bounded; beyond it, it catches up
// first (the leader resends).
func (n *Node) maxSpan() uint64 { return uint64(2*n.cfg.MaxInflightSlots + memKeep) }

// onHeartbeat keeps the leader's lease, learns its commit index and
// answers with this node's chosen index.
func (n *Node) onHeartbeat(m *Message) {
	n.noteSeen(m.Ballot)
	if m.Ballot.Less(n.promised) {
		n.send(Message{Type: MsgNack, To: m.From, Ballot: m.Ballot, Hint: n.promised})
		return
	}
	n.heardLeader(m.From)
	n.learnCommit(m.From, m.Commit, m.CommitBallot)
	if n.rebuilding { // not a voter: no ack, so it never counts for check-quorum
		n.rebuildHeartbeat(m)
		return
	}
	n.send(Message{Type: MsgHeartbeatAck, To: m.From, Ballot: m.Ballot, Slot: n.chosen})
}

// heardLeader notes a live leader at a ballot >= promised.
func (n *Node) heardLeader(from NodeID) {
	if n.role != Follower {
		n.becomeFollower(from)
	}
	if n.leader != from {
		n.log.Debug("following leader", "leader", uint64(from))
	}
	n.leader, n.leaderAgo = from, 0
	n.electionElapsed = 0
}
