package paxos

// learnerState is the learner role: which slots are chosen, the contiguous
// chosen prefix handed to the driver, and catch-up for slots this node
// cannot prove chosen by itself.
type learnerState struct {
	first   uint64 // first slot of the chosen log (trim point)
	chosen  uint64 // last slot of the contiguous chosen prefix
	emitted uint64 // last slot handed out in Ready.Committed
	durable uint64 // last slot of the chosen log known durable (Advance)
	resetTo uint64 // pending Ready.ResetTo

	// The latest commit claim: slots <= commitScanned were checked against
	// commitBallot (a slot accepted here at exactly that ballot is chosen).
	commitBallot  Ballot
	commitScanned uint64

	knownCommit  uint64 // highest slot any peer claimed chosen
	commitPeer   NodeID // who claimed it: asked first for catch-up
	catchUpWait  int    // ticks until a catch-up request may be repeated
	catchUpTries int    // requests since progress; rotates the peer asked
	catchUpPeer  NodeID // the peer whose last answer made progress; asked first
}

// markChosen records that slot s holds val, chosen: val is st.acc, or an
// entry of slot s the node keeps by reference and never writes (a message
// entry). The contiguous prefix advances over every chosen slot that
// follows it.
func (n *Node) markChosen(s uint64, st *slotState, val *Entry) {
	if val != &st.acc {
		st.other = val // val.Slot == s; read-only from now on
	}
	st.chosen = true
	if st.proposed {
		st.proposed = false
		n.inflight--
		n.inflightB -= st.acc.Size() // the leader's own proposal
	}
	if s != n.chosen+1 {
		return
	}
	for {
		nx := n.w.at(n.chosen + 1)
		if nx == nil || !nx.chosen {
			break
		}
		n.chosen++
	}
	n.catchUpTries = 0
}

// learnCommit applies a leader's claim that every slot <= c is chosen and
// that the slots it chose were chosen at cb. A slot is marked chosen only
// when this node accepted it at exactly cb (one value per ballot per
// slot); a commit index alone is never enough. Anything left unproven is
// fetched with a CatchUp.
func (n *Node) learnCommit(from NodeID, c uint64, cb Ballot) {
	if c <= n.chosen {
		return
	}
	if c > n.knownCommit {
		n.knownCommit, n.commitPeer = c, from
	}
	if cb != n.commitBallot {
		n.commitBallot, n.commitScanned = cb, n.chosen
	}
	n.commitScanned = max(n.commitScanned, n.chosen)
	end := min(c, n.w.end()-1)
	for s := n.commitScanned + 1; s <= end; s++ {
		st := n.w.at(s)
		if st == nil || st.chosen || st.acc.Ballot.IsZero() {
			continue
		}
		if st.acc.Ballot == cb || n.cfg.bugs.commitIndexAlone {
			n.markChosen(s, st, &st.acc)
		}
	}
	n.commitScanned = max(n.commitScanned, c)
	if n.chosen < n.knownCommit {
		n.requestCatchUp()
	}
}

// requestCatchUp asks a peer for the chosen entries this node is missing,
// at most once per ResendTicks; retries rotate through the peers.
func (n *Node) requestCatchUp() {
	limit := n.catchUpLimit()
	if n.catchUpWait > 0 || n.chosen >= limit {
		return
	}
	to := n.catchUpPeer
	if to == 0 {
		to = n.commitPeer
	}
	if n.catchUpTries > 0 || to == 0 || to == n.id {
		peers := n.cfg.Peers
		i := (n.peerIdx(to) + n.catchUpTries) % len(peers)
		if peers[i] == n.id {
			i = (i + 1) % len(peers)
		}
		to = peers[i]
	}
	if to == n.id {
		return // a one-node cluster has nobody to ask
	}
	count := min(limit-n.chosen, uint64(n.cfg.MaxInflightSlots)+1)
	n.send(Message{Type: MsgCatchUp, To: to, Slot: n.chosen + 1, Count: count})
	n.catchUpWait = max(n.cfg.ResendTicks, 1)
	n.catchUpTries++
}

// catchUpLimit is the last slot this node may learn from peers. A leader
// learns only slots below its start slot that way: from its start slot up
// it learns by its own votes, because its Commit tells followers those
// slots were chosen at its ballot. A chosen value learned from a peer there
// could only come from a newer leader (a higher ballot): taking it would
// make this stale leader vouch for it with the wrong ballot.
func (n *Node) catchUpLimit() uint64 {
	if n.role == Leader {
		return min(n.knownCommit, n.start-1)
	}
	return n.knownCommit
}

func (n *Node) tickLearner() {
	if n.catchUpWait > 0 {
		n.catchUpWait--
		if n.catchUpWait == 0 {
			n.requestCatchUp()
		}
	}
}

// firstIndex is the first slot this node can serve.
func (n *Node) firstIndex() uint64 {
	if n.cfg.Log != nil {
		return max(n.cfg.Log.FirstIndex(), n.first)
	}
	return n.first
}

// onCatchUp serves chosen entries in [m.Slot, m.Slot+m.Count): from memory,
// else from cfg.Log; below this node's first slot it answers Trimmed.
func (n *Node) onCatchUp(m *Message) {
	n.serveChosen(m.From, m.Slot, m.Slot+max(m.Count, 1)-1)
}

// serveChosen sends peer 'to' the chosen entries this node holds in
// [from, last], at most MaxMsgBytes of them, or Trimmed when from is below
// its first slot.
func (n *Node) serveChosen(to NodeID, from, last uint64) {
	if first := n.firstIndex(); from < first {
		n.send(Message{Type: MsgTrimmed, To: to, Slot: first})
		return
	}
	var out []Entry
	budget := n.cfg.MaxMsgBytes
	s := from
	if s < n.w.base && n.cfg.Log != nil && s <= n.durable {
		ents, err := n.cfg.Log.Entries(s, budget)
		if err != nil {
			n.log.Debug("catch-up read failed", "slot", s, "error", err)
		}
		for i := range ents {
			if ents[i].Slot != s || s > last || (len(out) > 0 && ents[i].Size() > budget) {
				break
			}
			out = append(out, ents[i])
			budget -= ents[i].Size()
			s++
		}
	}
	for s = max(s, n.w.base); s <= last && s < n.w.end(); s++ {
		st := n.w.at(s)
		if !st.chosen {
			continue
		}
		v := st.value()
		if len(out) > 0 && v.Size() > budget {
			break
		}
		out = append(out, *v)
		budget -= v.Size()
	}
	if len(out) > 0 {
		n.send(Message{Type: MsgChosen, To: to, Slot: from, Commit: n.chosen, Entries: out})
	}
}

// onChosen marks the entries of a Chosen message chosen: the sender knew
// them chosen, so no ballot check is needed.
func (n *Node) onChosen(m *Message) {
	if m.Commit > n.knownCommit {
		n.knownCommit, n.commitPeer = m.Commit, m.From
	}
	before := n.chosen
	// The node keeps chosen values by reference: copy them out of the
	// message, whose buffers belong to the driver.
	ents := n.arena.take(len(m.Entries))
	copy(ents, m.Entries)
	for i := range ents {
		e := &ents[i]
		if e.Slot <= n.chosen || e.Slot > n.chosen+n.maxSpan() || (n.role == Leader && e.Slot >= n.start) {
			continue
		}
		st := n.w.extend(e.Slot)
		if st != nil && !st.chosen {
			n.markChosen(e.Slot, st, e)
		}
	}
	if n.chosen > before {
		// Keep asking the peer that answered: rotating after every answer
		// wastes a resend timeout on each crashed peer in the rotation.
		n.catchUpWait, n.catchUpPeer = 0, m.From
	}
	n.requestCatchUp()
	if n.role == Candidate {
		n.checkPhase1() // it may have waited for these slots
	}
}

// onTrimmed restarts the chosen log at m.Slot when the peer no longer holds
// the slots this node misses.
func (n *Node) onTrimmed(m *Message) {
	if m.Slot <= n.chosen+1 {
		return
	}
	n.log.Info("chosen log restarts at peer's trim point", "slot", m.Slot, "peer", uint64(m.From))
	if n.role != Follower {
		n.becomeFollower(0)
	}
	n.w.dropBefore(m.Slot)
	n.first, n.chosen, n.emitted, n.resetTo = m.Slot, m.Slot-1, m.Slot-1, m.Slot
	n.commitScanned = max(n.commitScanned, n.chosen)
	for { // slots right above the trim point may already be chosen here
		nx := n.w.at(n.chosen + 1)
		if nx == nil || !nx.chosen {
			break
		}
		n.chosen++
	}
	n.catchUpWait = 0
	n.requestCatchUp()
}
