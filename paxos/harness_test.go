package paxos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// scStore is one node's durable state in the scenario tests: only what the
// driver persisted survives a crash. It serves as the node's LogReader.
type scStore struct {
	promised Ballot
	accepted map[uint64]Entry
	first    uint64
	log      []Entry
}

func newSCStore() *scStore { return &scStore{accepted: map[uint64]Entry{}, first: 1} }

func (s *scStore) last() uint64 { return s.first + uint64(len(s.log)) - 1 }

func (s *scStore) persist(r Record) {
	if s.promised.Less(r.Ballot) {
		s.promised = r.Ballot
	}
	for _, e := range r.Entries {
		if e.Slot > s.last() {
			s.accepted[e.Slot] = e
		}
	}
}

func (s *scStore) appendChosen(t testing.TB, id NodeID, resetTo uint64, ents []Entry) {
	if resetTo != 0 {
		s.first, s.log = resetTo, nil
	}
	for _, e := range ents {
		if e.Slot != s.last()+1 {
			t.Fatalf("node %d: committed slot %d after %d", id, e.Slot, s.last())
		}
		s.log = append(s.log, e)
		delete(s.accepted, e.Slot)
	}
}

func (s *scStore) hardState() HardState {
	hs := HardState{Promised: s.promised, First: s.first, Chosen: s.last()}
	for _, e := range s.accepted {
		if e.Slot > hs.Chosen {
			hs.Accepted = append(hs.Accepted, e)
		}
	}
	slices.SortFunc(hs.Accepted, func(a, b Entry) int { return int(a.Slot) - int(b.Slot) })
	return hs
}

func (s *scStore) Entries(from uint64, maxBytes int) ([]Entry, error) {
	if from < s.first {
		return nil, ErrCompacted
	}
	var out []Entry
	for i := from - s.first; i < uint64(len(s.log)); i++ {
		if len(out) > 0 && maxBytes < s.log[i].Size() {
			break
		}
		maxBytes -= s.log[i].Size()
		out = append(out, s.log[i])
	}
	return out, nil
}

func (s *scStore) FirstIndex() uint64 { return s.first }

// scCluster is a hand-driven cluster for scenario tests: messages wait in
// a FIFO until the test delivers them; links can be cut; nodes crash
// (losing all but their store) and restart.
type scCluster struct {
	t       testing.TB
	ids     []NodeID
	nodes   map[NodeID]*Node
	stores  map[NodeID]*scStore
	queue   []Message
	cut     map[[2]NodeID]bool
	bugs    plantedBugs
	leaders map[NodeID]bool // every node ever seen as leader
	cfg     func(*Config)
}

func newSCCluster(t testing.TB, n int, opts ...func(*Config)) *scCluster {
	c := &scCluster{t: t, nodes: map[NodeID]*Node{}, stores: map[NodeID]*scStore{},
		cut: map[[2]NodeID]bool{}, leaders: map[NodeID]bool{}}
	if len(opts) > 0 {
		c.cfg = opts[0]
	}
	for i := 1; i <= n; i++ {
		c.ids = append(c.ids, NodeID(i))
	}
	for _, id := range c.ids {
		c.stores[id] = newSCStore()
		c.start(id)
	}
	return c
}

func (c *scCluster) config(id NodeID) Config {
	cfg := Config{ID: id, Peers: c.ids, Rand: rand.New(rand.NewPCG(uint64(id), 7)),
		Log: c.stores[id], bugs: c.bugs}
	if c.cfg != nil {
		c.cfg(&cfg)
	}
	return cfg
}

// start (re)creates node id from what its store holds.
func (c *scCluster) start(id NodeID) {
	n, err := NewNode(c.config(id), c.stores[id].hardState())
	if err != nil {
		c.t.Fatalf("restart %d: %v", id, err)
	}
	c.nodes[id] = n
}

// crash loses everything node id did not persist; restart brings it back.
func (c *scCluster) crash(id NodeID) { delete(c.nodes, id) }

func (c *scCluster) restart(id NodeID) { c.start(id) }

func (c *scCluster) isolate(id NodeID) {
	for _, o := range c.ids {
		if o != id {
			c.cut[[2]NodeID{id, o}], c.cut[[2]NodeID{o, id}] = true, true
		}
	}
}

func (c *scCluster) heal() { clear(c.cut) }

// ready drives node id's Ready loop fully: persist, send, commit, advance.
func (c *scCluster) ready(id NodeID) {
	n := c.nodes[id]
	for n != nil && n.HasReady() {
		rd := n.Ready()
		c.persistAndSend(id, rd)
		n.Advance(rd)
	}
}

func (c *scCluster) persistAndSend(id NodeID, rd Ready) {
	st := c.stores[id]
	for _, r := range rd.Persist {
		st.persist(r)
	}
	c.queue = append(c.queue, rd.Eager...)
	c.queue = append(c.queue, rd.Messages...)
	st.appendChosen(c.t, id, rd.ResetTo, rd.Committed)
	if rd.SoftState.Role == Leader {
		c.leaders[id] = true
	}
}

func (c *scCluster) readyAll() {
	for _, id := range c.ids {
		c.ready(id)
	}
}

// deliver delivers queued messages (and what they cause) until none is left
// or max deliveries were made; it returns the number delivered. Messages on
// cut links or to crashed nodes are dropped.
func (c *scCluster) deliver(max int) int {
	c.readyAll()
	done := 0
	for len(c.queue) > 0 && done < max {
		m := c.queue[0]
		c.queue = c.queue[1:]
		n := c.nodes[m.To]
		if n == nil || c.cut[[2]NodeID{m.From, m.To}] || c.nodes[m.From] == nil && false {
			continue
		}
		if err := n.Step(m); err != nil {
			c.t.Fatalf("step %v: %v", m, err)
		}
		done++
		c.ready(m.To)
	}
	return done
}

func (c *scCluster) settle() { c.deliver(1 << 30) }

// tick ticks every live node k times, delivering everything after each.
func (c *scCluster) tick(k int) {
	for range k {
		for _, id := range c.ids {
			if n := c.nodes[id]; n != nil {
				n.Tick()
			}
		}
		c.settle()
	}
}

// leader returns the live leader with the highest ballot, or 0. Two nodes
// may both believe they lead for a while (a deposed leader that has not
// heard of it yet); only the highest ballot can get anything chosen.
func (c *scCluster) leader() NodeID {
	var l NodeID
	var lb Ballot
	for _, id := range c.ids {
		if n := c.nodes[id]; n != nil && n.role == Leader && lb.Less(n.ballot) {
			l, lb = id, n.ballot
		}
	}
	return l
}

// elect makes id campaign and settles; it fails unless id leads.
func (c *scCluster) elect(id NodeID) {
	c.nodes[id].Campaign()
	c.settle()
	if c.leader() != id {
		c.t.Fatalf("node %d did not become leader (leader %d)", id, c.leader())
	}
}

func (c *scCluster) propose(id NodeID, vals ...string) uint64 {
	data := make([][]byte, len(vals))
	for i, v := range vals {
		data[i] = []byte(v)
	}
	first, err := c.nodes[id].Propose(data)
	if err != nil {
		c.t.Fatalf("propose on %d: %v", id, err)
	}
	return first
}

// value renders a chosen entry.
func value(e Entry) string {
	if e.Noop {
		return "noop"
	}
	return string(e.Data)
}

// chosenAt returns node id's durable chosen value at slot s ("" if none).
func (c *scCluster) chosenAt(id NodeID, s uint64) string {
	st := c.stores[id]
	if s < st.first || s > st.last() {
		return ""
	}
	return value(st.log[s-st.first])
}

// logOf renders node id's durable chosen log.
func (c *scCluster) logOf(id NodeID) []string {
	var out []string
	for _, e := range c.stores[id].log {
		out = append(out, value(e))
	}
	return out
}

// checkConsistent fails unless every node's chosen log is a prefix of the
// longest one.
func (c *scCluster) checkConsistent() {
	c.t.Helper()
	var longest NodeID = c.ids[0]
	for _, id := range c.ids {
		if c.stores[id].last() > c.stores[longest].last() {
			longest = id
		}
	}
	for _, id := range c.ids {
		st := c.stores[id]
		for s := st.first; s <= st.last(); s++ {
			if a, b := c.chosenAt(id, s), c.chosenAt(longest, s); a != b && b != "" {
				c.t.Fatalf("slot %d: node %d chose %q, node %d chose %q", s, id, a, longest, b)
			}
		}
	}
}

func (c *scCluster) String() string {
	s := ""
	for _, id := range c.ids {
		s += fmt.Sprintf("node %d: %v\n", id, c.logOf(id))
	}
	return s
}

// cutLink drops messages from a to b (one way).
func (c *scCluster) cutLink(a, b NodeID) { c.cut[[2]NodeID{a, b}] = true }

// crashAfterPersist takes node id's Ready, persists its records, and
// crashes before anything is sent: the leader crashed between persisting
// and sending.
func (c *scCluster) crashAfterPersist(id NodeID) {
	rd := c.nodes[id].Ready()
	for _, r := range rd.Persist {
		c.stores[id].persist(r)
	}
	c.crash(id)
}

// crashAfterEager takes node id's Ready, sends its Eager messages (which
// may leave before the fsync), and crashes before the records are durable.
func (c *scCluster) crashAfterEager(id NodeID) {
	rd := c.nodes[id].Ready()
	c.queue = append(c.queue, rd.Eager...)
	c.crash(id)
}

// dropQueued removes the queued messages for which drop is true.
func (c *scCluster) dropQueued(drop func(Message) bool) {
	c.queue = slices.DeleteFunc(c.queue, drop)
}

// expireLeases makes every live node forget the leader it heard, as if
// ElectionTicks passed without it, but without firing election timers.
func (c *scCluster) expireLeases() {
	for _, n := range c.nodes {
		n.leaderAgo = n.cfg.ElectionTicks
	}
}

// stepNext delivers the first queued message without running the
// receiver's Ready loop, so the test decides what happens to its Ready.
func (c *scCluster) stepNext() {
	m := c.queue[0]
	c.queue = c.queue[1:]
	if err := c.nodes[m.To].Step(m); err != nil {
		c.t.Fatalf("step %v: %v", m, err)
	}
}
