package paxos

import "fmt"

// proposerState is the proposer role: phase 1 as a candidate, phase 2 as
// the leader.
type proposerState struct {
	role    Role
	ballot  Ballot // ballot this node campaigns or leads with
	maxHint Ballot // highest ballot a Nack told us about
	p1      *phase1

	start     uint64 // leader: first slot it proposes at its ballot (first unchosen at election)
	next      uint64 // leader: next slot a new value gets
	inflight  int    // leader: proposed slots not yet chosen
	inflightB int    // leader: their payload bytes
	prog      []peerProgress

	heartbeatElapsed int
	resendElapsed    int
	leaderFor        int // ticks since this node became leader
}

// peerProgress is what the leader knows of one peer.
type peerProgress struct {
	match     uint64 // highest slot known accepted or chosen there
	lastHeard int    // ticks since an Accepted or HeartbeatAck at our ballot
}

// becomeLeader ends phase 1: re-propose, at our ballot, the highest-ballot
// value reported for every slot from the start slot, fill every hole below
// the highest reported slot with a no-op, and only then accept new values.
func (n *Node) becomeLeader() {
	p := n.p1
	n.p1 = nil
	n.role, n.leader, n.leaderAgo = Leader, n.id, 0
	n.leaderFor, n.heartbeatElapsed, n.resendElapsed = 0, 0, 0
	for i := range n.prog {
		n.prog[i] = peerProgress{}
	}
	n.start = max(p.slot, n.chosen+1)
	top := n.start - 1
	for s := range p.reported {
		top = max(top, s)
	}
	for s := max(n.start, n.w.base); s < n.w.end(); s++ {
		if n.w.at(s).chosen { // known chosen here: never propose anything else there
			top = max(top, s)
		}
	}
	n.log.Info("became leader", "ballot", n.ballot.String(), "start", n.start, "reproposed", top+1-n.start)
	ents := make([]Entry, 0, top+1-n.start)
	for s := n.start; s <= top; s++ {
		e, ok := p.reported[s]
		if st := n.w.at(s); st != nil && st.chosen {
			e, ok = *st.value(), true
		}
		switch {
		case ok:
			ents = append(ents, Entry{Slot: s, Ballot: n.ballot, Noop: e.Noop, Data: e.Data})
		case !n.cfg.bugs.noHoleFill:
			ents = append(ents, Entry{Slot: s, Ballot: n.ballot, Noop: true})
		}
	}
	n.next = top + 1
	n.proposeEntries(ents)
	n.broadcastHeartbeat()
}

// Propose appends data as new values in consecutive slots and returns the
// first slot. Only the leader proposes (*NotLeaderError otherwise); a full
// in-flight window returns ErrBackpressure. The node keeps data by
// reference: the caller must not modify it afterwards.
func (n *Node) Propose(data [][]byte) (uint64, error) {
	if n.role != Leader {
		return 0, &NotLeaderError{Leader: n.leader}
	}
	if len(data) == 0 {
		return n.next, nil
	}
	size := 0
	for _, d := range data {
		size += len(d) + 32
	}
	if n.inflight+len(data) > n.cfg.MaxInflightSlots || n.inflightB+size > n.cfg.MaxInflightBytes {
		return 0, fmt.Errorf("%w: %d slots (%d bytes) in flight, %d more (%d bytes) asked",
			ErrBackpressure, n.inflight, n.inflightB, len(data), size)
	}
	first := n.next
	ents := n.arena.take(len(data))
	for i, d := range data {
		ents[i] = Entry{Slot: first + uint64(i), Ballot: n.ballot, Data: d}
	}
	n.next += uint64(len(data))
	n.proposeEntries(ents)
	return first, nil
}

// proposeEntries is phase 2a: accept ents locally (the record goes to
// Persist; the vote counts at Advance) and send them to every peer in runs
// of consecutive slots of at most MaxMsgBytes.
func (n *Node) proposeEntries(ents []Entry) {
	if len(ents) == 0 {
		return
	}
	n.persist = append(n.persist, Record{Kind: RecordAccept, Ballot: n.ballot, Entries: ents})
	for i := range ents {
		st := n.w.extend(ents[i].Slot)
		st.setAcc(&ents[i])
		st.votes, st.sentAt = 0, n.tick
		if !st.chosen && !st.proposed {
			st.proposed = true
			n.inflight++
			n.inflightB += ents[i].Size()
		}
	}
	for lo := 0; lo < len(ents); {
		hi := n.runEnd(ents, lo)
		for i, id := range n.cfg.Peers {
			if i != n.selfIdx {
				n.sendAccept(id, ents[lo:hi])
			}
		}
		lo = hi
	}
}

// runEnd returns the end of the run of consecutive slots starting at lo
// that fits in MaxMsgBytes (at least one entry).
func (n *Node) runEnd(ents []Entry, lo int) int {
	size := ents[lo].Size()
	hi := lo + 1
	for hi < len(ents) && ents[hi].Slot == ents[hi-1].Slot+1 && size+ents[hi].Size() <= n.cfg.MaxMsgBytes {
		size += ents[hi].Size()
		hi++
	}
	return hi
}

func (n *Node) sendAccept(to NodeID, run []Entry) {
	n.send(Message{Type: MsgAccept, To: to, Ballot: n.ballot, Slot: run[0].Slot, Entries: run,
		Commit: n.chosen, CommitBallot: n.ballot})
}

// onAccepted is phase 2b at the leader: count the votes.
func (n *Node) onAccepted(m *Message, idx int) {
	if n.role != Leader || m.Ballot != n.ballot {
		return
	}
	pr := &n.prog[idx]
	pr.lastHeard = 0
	end := m.Slot + min(m.Count, n.next-m.Slot) // never past what we proposed
	if m.Slot >= n.next || end <= m.Slot {
		return
	}
	if m.Slot <= pr.match+1 && end-1 > pr.match {
		pr.match = end - 1
	}
	for s := max(m.Slot, n.chosen+1); s < end; s++ {
		n.vote(idx, s)
	}
}

// vote adds peer idx's accept of slot s at our ballot; a majority chooses.
func (n *Node) vote(idx int, s uint64) {
	st := n.w.at(s)
	if st == nil || !st.proposed {
		return
	}
	st.votes |= 1 << uint(idx)
	if popcount(st.votes) >= n.quorum {
		n.markChosen(s, st, &st.acc)
	}
}

func (n *Node) onHeartbeatAck(m *Message, idx int) {
	if n.role != Leader || m.Ballot != n.ballot {
		return
	}
	pr := &n.prog[idx]
	pr.lastHeard = 0
	pr.match = max(pr.match, m.Slot)
}

// onNack: an acceptor refused our ballot. A higher Hint means a higher
// ballot exists: a candidate gives up (its next ballot goes above the
// hint); a leader still in touch with a majority runs phase 1 again at once
// above the hint (the others still grant it the lease, so it keeps its
// place), otherwise it steps down.
func (n *Node) onNack(m *Message) {
	if n.maxHint.Less(m.Hint) {
		n.maxHint = m.Hint
	}
	if n.role == Follower || m.Ballot != n.ballot || !n.ballot.Less(m.Hint) {
		return
	}
	if n.role == Leader && n.quorumActive() {
		n.campaign()
		return
	}
	n.becomeFollower(0)
}

// quorumActive reports whether the leader heard from a majority (itself
// included) within ElectionTicks.
func (n *Node) quorumActive() bool {
	c := 1
	for i := range n.prog {
		if i != n.selfIdx && n.prog[i].lastHeard < n.cfg.ElectionTicks {
			c++
		}
	}
	return c >= n.quorum
}

// broadcastHeartbeat sends the commit index and ballot to every peer.
func (n *Node) broadcastHeartbeat() {
	n.heartbeatElapsed = 0
	for i, id := range n.cfg.Peers {
		if i != n.selfIdx {
			n.send(Message{Type: MsgHeartbeat, To: id, Ballot: n.ballot, Commit: n.chosen,
				CommitBallot: n.ballot, Slot: n.next})
		}
	}
}

// tickLeader: heartbeats, resends, and check-quorum.
func (n *Node) tickLeader() {
	n.leaderFor++
	for i := range n.prog {
		n.prog[i].lastHeard++
	}
	if n.leaderFor >= n.cfg.ElectionTicks && !n.quorumActive() {
		n.log.Info("stepping down: no majority heard", "ballot", n.ballot.String())
		n.becomeFollower(0)
		return
	}
	if n.heartbeatElapsed++; n.heartbeatElapsed >= n.cfg.HeartbeatTicks {
		n.broadcastHeartbeat()
	}
	if n.resendElapsed++; n.resendElapsed >= n.cfg.ResendTicks {
		n.resendElapsed = 0
		n.resendAccepts()
	}
}

// resendAccepts sends again, to each peer that has not voted, the unchosen
// slots whose last Accept is older than ResendTicks.
func (n *Node) resendAccepts() {
	lo := max(n.chosen+1, n.start, n.w.base)
	hi := min(n.next, n.w.end())
	stale := func(st *slotState) bool {
		return st.proposed && n.tick-st.sentAt >= int64(n.cfg.ResendTicks)
	}
	for i, id := range n.cfg.Peers {
		if i == n.selfIdx {
			continue
		}
		var run []Entry
		for s := lo; s < hi; s++ {
			st := n.w.at(s)
			if !stale(st) || st.votes&(1<<uint(i)) != 0 {
				n.flushRun(id, run)
				run = nil
				continue
			}
			run = append(run, st.acc)
		}
		n.flushRun(id, run)
	}
	for s := lo; s < hi; s++ {
		if st := n.w.at(s); stale(st) {
			st.sentAt = n.tick
		}
	}
}

// flushRun sends a run of consecutive slots as Accepts within MaxMsgBytes.
func (n *Node) flushRun(to NodeID, run []Entry) {
	for lo := 0; lo < len(run); {
		hi := n.runEnd(run, lo)
		n.sendAccept(to, run[lo:hi])
		lo = hi
	}
}

// resetProposer forgets leader and candidate state (votes, window counts).
func (n *Node) resetProposer() {
	n.p1 = nil
	if n.inflight > 0 || n.role == Leader {
		for s := max(n.chosen+1, n.w.base); s < n.w.end(); s++ {
			st := n.w.at(s)
			st.proposed, st.votes = false, 0
		}
	}
	n.inflight, n.inflightB = 0, 0
}
