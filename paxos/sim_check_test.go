package paxos

import (
	"fmt"
	"slices"
)

// Names of the simulator's checkers, as reported in a violation.
const (
	checkAgreement    = "agreement"    // two values chosen for one slot (persisted accepts)
	checkValidity     = "validity"     // a chosen value nobody proposed, in another slot than Propose said, or in two slots
	checkPrefix       = "prefix"       // a replica's chosen log is not a prefix of the canonical log
	checkDurability   = "durability"   // a value reported chosen that no majority persisted
	checkMonotonicity = "monotonicity" // an acceptor forgot or contradicted a promise or accept it sent
	checkLiveness     = "liveness"     // pending proposals not chosen within the bound after faults stop
	checkRestart      = "restart"      // NewNode refused what was persisted
	checkContract     = "contract"     // a Ready the driver cannot follow (misaddressed message, gap in Committed)
	checkRebuild      = "rebuild"      // a rebuilding node voted, or one never finished rebuilding
)

// simViolation is the first broken invariant of a run.
type simViolation struct {
	Checker string
	Detail  string
	Tick    int
	Step    int
}

func (v *simViolation) Error() string {
	return fmt.Sprintf("%s violated at tick %d step %d: %s", v.Checker, v.Tick, v.Step, v.Detail)
}

// valueKey names an entry's value independently of slot and ballot.
func valueKey(e Entry) string {
	if e.Noop {
		return "<noop>"
	}
	return "v:" + string(e.Data)
}

type slotBallot struct {
	slot   uint64
	ballot Ballot
}

// voteSet is every acceptor that persisted an accept of value at one
// (slot, ballot).
type voteSet struct {
	value  string
	voters []NodeID
}

type chosenAt struct {
	value  string
	ballot Ballot
}

// simClaims is what one acceptor ever told others, across all its
// incarnations: it must never be forgotten or contradicted.
type simClaims struct {
	promised Ballot            // highest ballot in a sent Promise or Accepted
	accepted map[uint64]Ballot // slot -> highest ballot reported accepted in a sent Accepted
}

// simChecker judges a run from the outside: from what was persisted, sent
// and reported, never from what replicas claim about the cluster.
type simChecker struct {
	quorum    int
	votes     map[slotBallot]*voteSet // global history of persisted accepts
	chosen    map[uint64]chosenAt     // slot -> value a majority persisted (lowest such ballot)
	canonical map[uint64]string       // slot -> value reported chosen (Committed) anywhere
	proposed  map[string]uint64       // value a client proposed successfully -> slot Propose returned for it
	slotOf    map[string]uint64       // non-noop value -> slot it was reported chosen at
	claims    map[NodeID]*simClaims
	err       *simViolation
	// mute silences checkers, so a test can show that the others also see
	// a bug's consequences.
	mute map[string]bool
	// now returns (tick, step) for violation reports.
	now func() (int, int)
}

func newSimChecker(nodes int) *simChecker {
	return &simChecker{
		quorum:    nodes/2 + 1,
		votes:     make(map[slotBallot]*voteSet),
		chosen:    make(map[uint64]chosenAt),
		canonical: make(map[uint64]string),
		proposed:  make(map[string]uint64),
		slotOf:    make(map[string]uint64),
		claims:    make(map[NodeID]*simClaims),
		now:       func() (int, int) { return 0, 0 },
	}
}

// fail records the first violation; later ones are ignored.
func (c *simChecker) fail(checker, format string, args ...any) {
	if c.err != nil || c.mute[checker] {
		return
	}
	tick, step := c.now()
	c.err = &simViolation{Checker: checker, Detail: fmt.Sprintf(format, args...), Tick: tick, Step: step}
}

func (c *simChecker) claimsOf(id NodeID) *simClaims {
	cl := c.claims[id]
	if cl == nil {
		cl = &simClaims{accepted: make(map[uint64]Ballot)}
		c.claims[id] = cl
	}
	return cl
}

// propose records a value a client handed to Propose successfully, and the
// slot Propose placed it in: a value is only ever re-proposed in its slot.
func (c *simChecker) propose(data []byte, slot uint64) { c.proposed["v:"+string(data)] = slot }

// persistAccept is called when node id made an accept record durable;
// durablePromise is its durable promise just before.
func (c *simChecker) persistAccept(id NodeID, b Ballot, entries []Entry, durablePromise Ballot) {
	if b.Less(durablePromise) {
		c.fail(checkMonotonicity, "node %d persisted an accept at ballot %s below its durable promise %s",
			id, b, durablePromise)
	}
	for i := range entries {
		c.vote(id, entries[i].Slot, b, valueKey(entries[i]))
	}
}

// vote adds one persisted accept to the global history and judges whether
// it makes a value chosen.
func (c *simChecker) vote(id NodeID, slot uint64, b Ballot, value string) {
	k := slotBallot{slot, b}
	vs := c.votes[k]
	if vs == nil {
		vs = &voteSet{value: value}
		c.votes[k] = vs
	}
	if vs.value != value {
		c.fail(checkAgreement, "slot %d ballot %s: node %d persisted %q but %v persisted %q at the same ballot",
			slot, b, id, value, vs.voters, vs.value)
		return
	}
	if slices.Contains(vs.voters, id) {
		return
	}
	vs.voters = append(vs.voters, id)
	if len(vs.voters) < c.quorum {
		return
	}
	prev, ok := c.chosen[slot]
	switch {
	case !ok:
		c.chosen[slot] = chosenAt{value: value, ballot: b}
	case prev.value != value:
		c.fail(checkAgreement, "slot %d: %q chosen at ballot %s (persisted by %v) but %q was chosen at ballot %s",
			slot, value, b, vs.voters, prev.value, prev.ballot)
	case b.Less(prev.ballot):
		c.chosen[slot] = chosenAt{value: value, ballot: b}
	}
}

// committed is called when node id's driver appends e to its chosen log.
func (c *simChecker) committed(id NodeID, e Entry) {
	v := valueKey(e)
	if slot, ok := c.proposed[v]; !e.Noop && !ok {
		c.fail(checkValidity, "node %d: slot %d chose %q, which no client proposed", id, e.Slot, v)
	} else if !e.Noop && slot != e.Slot {
		c.fail(checkValidity, "node %d: slot %d chose %q, which Propose placed at slot %d", id, e.Slot, v, slot)
	}
	if prev, ok := c.canonical[e.Slot]; ok && prev != v {
		c.fail(checkPrefix, "node %d: slot %d chose %q but another replica chose %q", id, e.Slot, v, prev)
	}
	c.canonical[e.Slot] = v
	if !e.Noop {
		if s, ok := c.slotOf[v]; ok && s != e.Slot {
			c.fail(checkValidity, "node %d: value %q chosen at slot %d and at slot %d", id, v, e.Slot, s)
		}
		c.slotOf[v] = e.Slot
	}
	ch, ok := c.chosen[e.Slot]
	switch {
	case !ok:
		c.fail(checkDurability, "node %d reported slot %d chosen (%q at ballot %s) but no majority persisted an accept for it",
			id, e.Slot, v, e.Ballot)
	case ch.value != v:
		c.fail(checkAgreement, "node %d reported slot %d chosen as %q but persisted accepts chose %q at ballot %s",
			id, e.Slot, v, ch.value, ch.ballot)
	}
}

// sent checks a message node id sends against what it has persisted
// (durable) and against everything it sent before, in any incarnation.
func (c *simChecker) sent(id NodeID, m *Message, durablePromise Ballot, chosenUpTo uint64) {
	switch m.Type {
	case MsgPromise:
		c.sentPromise(id, m, durablePromise)
	case MsgAccepted:
		c.sentAccepted(id, m, durablePromise, chosenUpTo)
	}
}

func (c *simChecker) sentPromise(id NodeID, m *Message, durablePromise Ballot) {
	cl := c.claimsOf(id)
	if m.Ballot.Less(cl.promised) {
		c.fail(checkMonotonicity, "node %d sent Promise %s after it had sent promise/accept at %s", id, m.Ballot, cl.promised)
	}
	if durablePromise.Less(m.Ballot) {
		c.fail(checkMonotonicity, "node %d sent Promise %s to %d but its durable promise is %s", id, m.Ballot, m.To, durablePromise)
	}
	if cl.promised.Less(m.Ballot) {
		cl.promised = m.Ballot
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		if ch, ok := c.chosen[e.Slot]; ok && ch.value == valueKey(*e) {
			continue // reporting a chosen value is safe even if not accepted here
		}
		vs := c.votes[slotBallot{e.Slot, e.Ballot}]
		if vs == nil || vs.value != valueKey(*e) || !slices.Contains(vs.voters, id) {
			c.fail(checkMonotonicity, "node %d's Promise %s reports slot %d accepted at %s (%q), which it never persisted",
				id, m.Ballot, e.Slot, e.Ballot, valueKey(*e))
		}
	}
}

func (c *simChecker) sentAccepted(id NodeID, m *Message, durablePromise Ballot, chosenUpTo uint64) {
	cl := c.claimsOf(id)
	if m.Ballot.Less(cl.promised) {
		c.fail(checkMonotonicity, "node %d sent Accepted at %s (slots %d+%d) after it had sent promise/accept at %s",
			id, m.Ballot, m.Slot, m.Count, cl.promised)
	}
	if durablePromise.Less(m.Ballot) {
		c.fail(checkMonotonicity, "node %d sent Accepted at %s but its durable promise is %s", id, m.Ballot, durablePromise)
	}
	if cl.promised.Less(m.Ballot) {
		cl.promised = m.Ballot
	}
	for s := m.Slot; s < m.Slot+m.Count; s++ {
		if s <= chosenUpTo {
			continue // already in its durable chosen log
		}
		vs := c.votes[slotBallot{s, m.Ballot}]
		if vs == nil || !slices.Contains(vs.voters, id) {
			c.fail(checkMonotonicity, "node %d sent Accepted for slot %d at %s to %d before persisting that accept",
				id, s, m.Ballot, m.To)
		}
		if b, ok := cl.accepted[s]; !ok || b.Less(m.Ballot) {
			cl.accepted[s] = m.Ballot
		}
	}
}

// restarted checks that what node id restarts from covers everything it
// ever sent.
func (c *simChecker) restarted(id NodeID, hs HardState) {
	cl := c.claimsOf(id)
	if hs.Promised.Less(cl.promised) {
		c.fail(checkMonotonicity, "node %d restarts with promise %s but had sent promise/accept at %s",
			id, hs.Promised, cl.promised)
	}
	held := make(map[uint64]Ballot, len(hs.Accepted))
	for _, e := range hs.Accepted {
		held[e.Slot] = e.Ballot
	}
	for s, b := range cl.accepted {
		if s <= hs.Chosen {
			continue
		}
		if hb, ok := held[s]; !ok || hb.Less(b) {
			c.fail(checkMonotonicity, "node %d restarts without its accept of slot %d at %s (holds %v)", id, s, b, hb)
		}
	}
}

// wiped forgets what node id told others: its disk is gone, and the
// rebuild protocol, not the node's memory, must keep those claims safe.
// The global history of persisted accepts stays.
func (c *simChecker) wiped(id NodeID) { delete(c.claims, id) }

// restartedStatus checks the restarted node's own view of its promise.
func (c *simChecker) restartedStatus(id NodeID, st Status) {
	cl := c.claimsOf(id)
	if st.Promised.Less(cl.promised) {
		c.fail(checkMonotonicity, "node %d restarted reports promise %s below %s it had sent", id, st.Promised, cl.promised)
	}
}
