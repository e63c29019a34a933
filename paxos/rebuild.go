package paxos

// Rebuilding a replica that lost its durable state (Config.Rebuilding):
// the node learns the chosen log from peers and votes only once the exit
// rule of doc.go ("Rebuilding a lost replica") holds.

// rebuildState is what a rebuilding node tracks. Nothing of it is durable:
// a crash restarts the rebuild from scratch, which is safe.
type rebuildState struct {
	rebuilding bool // not voting yet
	rebuiltOut bool // Ready.Rebuilt pending
	// unsure: out of rebuilding, but the Ready saying Rebuilt has not been
	// Advanced, so the driver may not have cleared its durable flag yet: a
	// crash would bring the node back rebuilding. Meanwhile it answers
	// probes as rebuilding and does not campaign, so that no peer counts
	// on a voter that may vanish.
	unsure bool
	// gated: a node that never promised anything (a virgin hard state, or
	// one just out of the virgin-cluster rule) does not campaign on its own
	// until it knows a majority of voters: itself and peers that answered a
	// probe as not rebuilding. Campaigning earlier would raise its promise
	// above zero and deny the virgin rule to peers still rebuilding, which
	// with too few voters would stall the cluster for good. An explicit
	// Campaign lifts the gate.
	gated    bool
	since    int           // ticks since NewNode while rebuilding or gated
	nonce    uint64        // Probe.Slot of this incarnation; other answers are ignored
	probeAgo int           // ticks since the last round of probes
	asked    int64         // tick of the last request for a fresh phase 1 (-1: never)
	seen     Ballot        // highest ballot seen in any message
	answers  []probeAnswer // per peer index: its latest ProbeAck
	// target is the highest-ballot leader heard (Heartbeat) and the next
	// unassigned slot its first heartbeat reported.
	target     Ballot
	targetNext uint64
}

// probeAnswer is one peer's answer to a Probe.
type probeAnswer struct {
	ok         bool
	promised   Ballot
	chosen     uint64
	rebuilding bool
}

// rebuildWait is how many ticks a rebuilding node lets pass before it
// probes: longer than any candidacy lives (a candidate re-campaigns at a
// new ballot within 2*ElectionTicks), so no phase 1 that counted a promise
// of the lost incarnation can still complete once peers answer.
func (n *Node) rebuildWait() int { return 2*n.cfg.ElectionTicks + 1 }

// rebuildAskTicks spaces the node's requests for a fresh phase 1.
func (n *Node) rebuildAskTicks() int { return 4 * n.cfg.ElectionTicks }

// rebuildNeed is how many OTHER nodes must vouch for the exit: n-q+1 of
// them meet every quorum in at least one node other than this one.
func (n *Node) rebuildNeed() int { return len(n.cfg.Peers) - n.quorum + 1 }

// initRebuild sets the node up as Config.Rebuilding asks, and gates a
// node with a virgin hard state. A one-node cluster has nobody to learn
// from: it is rebuilt at once.
func (n *Node) initRebuild(hs *HardState) {
	if len(n.cfg.Peers) == 1 {
		n.rebuiltOut = n.cfg.Rebuilding
		return
	}
	virgin := hs.Promised.IsZero() && hs.Chosen == 0 && len(hs.Accepted) == 0
	if !n.cfg.Rebuilding && !virgin {
		return
	}
	n.nonce = n.cfg.Rand.Uint64() | 1
	n.asked = -1
	n.answers = make([]probeAnswer, len(n.cfg.Peers))
	if !n.cfg.Rebuilding {
		n.gated, n.probeAgo = true, n.cfg.ResendTicks-1 // probe at the first tick
		return
	}
	n.rebuilding = true
	n.log.Info("rebuilding: not voting until the chosen log is re-learned from peers")
}

// mayCampaign: a rebuilding node never leads; a gated one waits (see
// rebuildState.gated) unless it has promised something already.
func (n *Node) mayCampaign() bool {
	if n.gated && !n.promised.IsZero() {
		n.ungate()
	}
	return !n.rebuilding && !n.gated && !n.unsure
}

func (n *Node) ungate() { n.gated, n.answers = false, nil }

// noteSeen raises the highest ballot seen.
func (n *Node) noteSeen(b Ballot) {
	if n.seen.Less(b) {
		n.seen = b
	}
}

// tickRebuild probes peers every ResendTicks once the wait is over.
func (n *Node) tickRebuild() {
	if !n.rebuilding && !n.gated {
		return
	}
	n.since++
	if n.rebuilding && n.since < n.rebuildWait() {
		return
	}
	if n.probeAgo++; n.rebuilding && n.since == n.rebuildWait() || n.probeAgo >= n.cfg.ResendTicks {
		n.probeAgo = 0
		for i, id := range n.cfg.Peers {
			if i != n.selfIdx {
				n.send(Message{Type: MsgProbe, To: id, Slot: n.nonce})
			}
		}
	}
}

// onProbe answers with this node's promised ballot and chosen index. The
// answer goes with Ready.Messages, so the promise it reports is durable.
func (n *Node) onProbe(m *Message) {
	ack := Message{Type: MsgProbeAck, To: m.From, Slot: m.Slot, Ballot: n.promised, Commit: n.chosen}
	if n.rebuilding || n.unsure {
		ack.Count = 1
	}
	n.send(ack)
}

// onProbeAck records a peer's answer to this incarnation's probe.
func (n *Node) onProbeAck(m *Message, idx int) {
	if !n.gated && (!n.rebuilding || n.since < n.rebuildWait()) || m.Slot != n.nonce {
		return
	}
	n.noteSeen(m.Ballot)
	n.answers[idx] = probeAnswer{ok: true, promised: m.Ballot, chosen: m.Commit, rebuilding: m.Count != 0}
	if n.gated && n.voters() >= n.quorum {
		n.ungate()
	}
}

// voters counts this node and the peers whose latest answer said they
// are not rebuilding.
func (n *Node) voters() int {
	c := 1
	for i := range n.answers {
		if a := &n.answers[i]; a.ok && !a.rebuilding {
			c++
		}
	}
	return c
}

// rebuildHeartbeat notes the leader's ballot and next slot as the exit
// target, and asks it for a fresh phase 1 when too few peers have promised
// its ballot (for example after an idle period in which a follower that
// missed phase 1 never accepted anything).
func (n *Node) rebuildHeartbeat(m *Message) {
	if m.Slot != 0 && n.target.Less(m.Ballot) {
		n.target, n.targetNext = m.Ballot, m.Slot
	}
	if n.since < n.rebuildWait()+2*n.cfg.ResendTicks || n.vouchers(m.Ballot) >= n.rebuildNeed() {
		return
	}
	if n.asked >= 0 && n.tick-n.asked < int64(n.rebuildAskTicks()) {
		return
	}
	n.asked = n.tick
	hint := Ballot{Round: max(n.seen.Round, m.Ballot.Round) + 1}
	n.log.Debug("rebuilding: asking the leader for a fresh phase 1", "leader", uint64(m.From),
		"ballot", m.Ballot.String())
	n.send(Message{Type: MsgNack, To: m.From, Ballot: m.Ballot, Hint: hint})
}

// vouchers counts the other nodes that answered a probe with promised b.
func (n *Node) vouchers(b Ballot) int {
	c := 0
	for i := range n.answers {
		if a := &n.answers[i]; a.ok && a.promised == b && (!b.IsZero() || a.chosen == 0) {
			c++
		}
	}
	return c
}

// checkRebuilt ends the rebuild when either exit of doc.go holds:
// (b) virgin: enough other nodes never promised anything and hold nothing
// chosen; (a) rebuilt: this node knows every slot below the target
// leader's next slot chosen, and enough other nodes promised exactly the
// target ballot.
func (n *Node) checkRebuilt() {
	if !n.rebuilding || n.since < n.rebuildWait() {
		return
	}
	need := n.rebuildNeed()
	switch {
	case n.chosen == 0 && n.vouchers(Ballot{}) >= need:
		n.endRebuild(Ballot{}, "virgin cluster")
	case !n.target.IsZero() && !n.target.Less(n.promised) && n.chosen+1 >= n.targetNext &&
		n.vouchers(n.target) >= need:
		n.endRebuild(n.target, "rebuilt")
	}
}

// endRebuild makes the node a voter: it promises b (persisted in this
// Ready, before the driver clears its rebuilding flag) and restarts its
// election timer short, so that a virgin cluster elects a leader soon.
func (n *Node) endRebuild(b Ballot, why string) {
	n.rebuilding, n.rebuiltOut, n.unsure = false, true, true
	n.gated = b.IsZero() && n.voters() < n.quorum
	if !n.gated {
		n.ungate()
	}
	if n.promised.Less(b) {
		n.promise(b)
	}
	n.electionElapsed = 0
	n.electionTimeout = 1 + n.cfg.Rand.IntN(n.cfg.ElectionTicks)
	n.log.Info("rebuilding done: voting from now on", "how", why, "ballot", b.String(), "chosen", n.chosen)
}
