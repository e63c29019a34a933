package paxos

// Phase 1, the candidate's side: choose a ballot above every ballot seen,
// collect promises (its own counted at Advance), and merge what they report.

// phase1 collects promises for one ballot.
type phase1 struct {
	slot       uint64         // Prepare.Slot: promises cover slots >= slot
	parts      []promiseParts // per peer: promise parts received
	done       []bool         // per peer: promise complete (self included)
	count      int
	maxCommit  uint64 // highest durable chosen index a promiser reported
	commitPeer NodeID
	reported   map[uint64]Entry // slot -> value to re-propose
	resend     int              // ticks since the last Prepare
}

// promiseParts tracks the parts of one peer's promise. A part covers
// [slot, slot+count), the last part [slot, infinity) (count 0); parts may
// arrive in any order and twice. front is the end of the covered prefix;
// parts beyond it wait in pending, keyed by their first slot.
type promiseParts struct {
	front   uint64
	pending map[uint64]uint64
}

// add records one part and reports whether the promise is now complete.
func (pp *promiseParts) add(slot, count uint64) bool {
	if slot != pp.front {
		if slot > pp.front {
			if pp.pending == nil {
				pp.pending = make(map[uint64]uint64)
			}
			pp.pending[slot] = count
		}
		return false
	}
	for {
		if count == 0 {
			return true
		}
		if slot+count <= slot {
			return false // overflow: malformed, never complete
		}
		slot += count
		pp.front = slot
		c, ok := pp.pending[slot]
		if !ok {
			return false
		}
		delete(pp.pending, slot)
		count = c
	}
}

// Campaign starts phase 1 now with a ballot above every ballot seen. It
// does nothing while the node is rebuilding (Config.Rebuilding).
func (n *Node) Campaign() {
	if !n.rebuilding {
		n.ungate()
	}
	n.campaign()
}

func (n *Node) campaign() {
	if !n.mayCampaign() {
		return
	}
	n.resetProposer()
	n.role, n.leader = Candidate, 0
	n.ballot = Ballot{Round: max(n.promised.Round, n.maxHint.Round) + 1, Node: n.id}
	n.log.Info("campaigning", "ballot", n.ballot.String())
	n.promise(n.ballot)
	k := len(n.cfg.Peers)
	n.p1 = &phase1{slot: n.chosen + 1, parts: make([]promiseParts, k), done: make([]bool, k),
		reported: make(map[uint64]Entry)}
	for i := range n.p1.parts {
		n.p1.parts[i].front = n.p1.slot
	}
	n.resetElectionTimer()
	n.sendPrepares()
	if n.cfg.bugs.noPersistPromise {
		n.selfPromise() // the own promise counts without ever being durable
	}
}

// sendPrepares is phase 1a to every peer whose promise is still missing.
func (n *Node) sendPrepares() {
	p := n.p1
	p.resend = 0
	for i, id := range n.cfg.Peers {
		if i != n.selfIdx && !p.done[i] {
			n.send(Message{Type: MsgPrepare, To: id, Ballot: n.ballot, Slot: p.slot})
		}
	}
}

// selfPromise counts this node's own promise, durable now.
func (n *Node) selfPromise() {
	p := n.p1
	if p == nil || p.done[n.selfIdx] {
		return
	}
	for s := max(p.slot, n.durable+1, n.w.base); s < n.w.end(); s++ {
		if st := n.w.at(s); !st.acc.Ballot.IsZero() {
			n.report(st.acc)
		}
	}
	p.done[n.selfIdx] = true
	p.count++
	n.checkPhase1()
}

// report merges one value reported by a promise: per slot, the value with
// the highest ballot wins.
func (n *Node) report(e Entry) {
	cur, ok := n.p1.reported[e.Slot]
	if !ok || cur.Ballot.Less(e.Ballot) != n.cfg.bugs.lowestBallotWins {
		n.p1.reported[e.Slot] = e
	}
}

// onPromise is phase 1b at the candidate.
func (n *Node) onPromise(m *Message, idx int) {
	p := n.p1
	if n.role != Candidate || m.Ballot != n.ballot || p.done[idx] || m.Slot < p.slot {
		return // stale or duplicate
	}
	// Every reporter promised our ballot, so its reports are final for all
	// lower ballots: merging a part before the whole promise is in is safe.
	for i := range m.Entries {
		if m.Entries[i].Slot >= p.slot {
			n.report(m.Entries[i])
		}
	}
	if m.Commit > p.maxCommit {
		p.maxCommit, p.commitPeer = m.Commit, m.From
	}
	if !p.parts[idx].add(m.Slot, m.Count) {
		return
	}
	p.done[idx] = true
	p.count++
	n.checkPhase1()
}

// checkPhase1 becomes leader once a majority promised and this node knows
// every slot a promiser reported durably chosen: such a promiser no longer
// reports its accepts there, so the leader must learn those slots first
// (the promiser sent them along with its promise; otherwise catch up).
//
// The majority must include this node's own promise, counted only once it
// is durable (at Advance). A pipelining driver sends a later Ready's Eager
// (the Accepts at this ballot) before an earlier Ready's Persist (the
// promise of this ballot) is durable; a crash in between would restart the
// node below this ballot, and it would use the same ballot again for other
// values.
func (n *Node) checkPhase1() {
	p := n.p1
	if p.count < n.quorum || !p.done[n.selfIdx] {
		return
	}
	if n.chosen < p.maxCommit {
		if p.maxCommit > n.knownCommit {
			n.knownCommit, n.commitPeer = p.maxCommit, p.commitPeer
		}
		n.requestCatchUp()
		return
	}
	n.becomeLeader()
}
