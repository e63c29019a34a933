package paxos

import (
	"flag"
	"testing"
	"time"
)

var simWipeSeeds = flag.Int("sim.wipeseeds", 150, "seeds TestSimulatorRebuilds runs with the wipe-heavy mix")

// rebuildCluster is a scenario cluster whose nodes start with
// Config.Rebuilding when rebuilding[id] is set.
func rebuildCluster(t *testing.T, n int, rebuilding map[NodeID]bool) *scCluster {
	return newSCCluster(t, n, func(c *Config) { c.Rebuilding = rebuilding[c.ID] })
}

// wipe erases node id's store and restarts it, rebuilding when asked.
func wipe(c *scCluster, rebuilding map[NodeID]bool, id NodeID, rebuild bool) {
	c.crash(id)
	c.stores[id] = newSCStore()
	rebuilding[id] = rebuild
	c.restart(id)
}

// votesOf returns the Promise and Accepted messages from id in the queue.
func votesOf(c *scCluster, id NodeID) []Message {
	var out []Message
	for _, m := range c.queue {
		if m.From == id && (m.Type == MsgPromise || m.Type == MsgAccepted) {
			out = append(out, m)
		}
	}
	return out
}

// chooseOnTwo elects node 1 and gets "v" chosen at slot 1 by nodes 1 and 2
// only (node 3 never hears the Accept).
func chooseOnTwo(t *testing.T, c *scCluster) {
	c.elect(1)
	c.cutLink(1, 3)
	c.propose(1, "v")
	c.settle()
	if got := c.chosenAt(1, 1); got != "v" {
		t.Fatalf("slot 1 at node 1: %q, want v", got)
	}
	c.heal()
}

// TestWipedAcceptorWithoutRebuildLosesChosenValue is the failure the
// rebuild protocol exists for: v chosen by {1,2}; 2 loses its disk and
// votes at once; 1 is down; a phase 1 by 3 with {2,3} sees nothing and
// chooses another value in slot 1.
func TestWipedAcceptorWithoutRebuildLosesChosenValue(t *testing.T) {
	rb := map[NodeID]bool{}
	c := rebuildCluster(t, 3, rb)
	chooseOnTwo(t, c)
	wipe(c, rb, 2, false)
	c.crash(1)
	c.elect(3)
	c.propose(3, "w")
	c.settle()
	if got := c.chosenAt(3, 1); got != "w" {
		t.Fatalf("slot 1 at node 3: %q; the unprotected wipe was expected to lose v here", got)
	}
}

// TestWipedAcceptorRebuilds: the same history with the wiped node
// rebuilding. It refuses to vote, so 3 cannot lead with it; once 1 is back
// a leader re-proposes v, the wiped node learns it, leaves rebuilding and
// votes again.
func TestWipedAcceptorRebuilds(t *testing.T) {
	rb := map[NodeID]bool{}
	c := rebuildCluster(t, 3, rb)
	chooseOnTwo(t, c)
	wipe(c, rb, 2, true)
	c.crash(1)

	c.nodes[3].Campaign()
	c.readyAll()
	c.deliver(2) // the Prepares
	c.readyAll()
	if v := votesOf(c, 2); len(v) != 0 {
		t.Fatalf("rebuilding node 2 voted: %v", v)
	}
	c.settle()
	if l := c.leader(); l != 0 {
		t.Fatalf("node %d leads with a rebuilding acceptor's help", l)
	}
	if p := c.stores[2].promised; !p.IsZero() {
		t.Fatalf("rebuilding node 2 persisted promise %s", p)
	}

	c.restart(1)
	for i := 0; i < 200 && (c.leader() == 0 || c.nodes[2].Status().Rebuilding); i++ {
		c.tick(1)
	}
	st := c.nodes[2].Status()
	if st.Rebuilding || c.leader() == 0 {
		t.Fatalf("node 2 still rebuilding (%v) or no leader (%d) after 200 ticks:\n%s", st.Rebuilding, c.leader(), c)
	}
	if got := c.chosenAt(2, 1); got != "v" {
		t.Fatalf("rebuilt node 2 has %q at slot 1, want v\n%s", got, c)
	}
	if p := c.stores[2].promised; p.IsZero() {
		t.Fatal("rebuilt node 2 did not persist the leader's ballot")
	}
	l := c.leader()
	c.propose(l, "x")
	c.settle()
	c.checkConsistent()
	if _, ok := c.stores[2].accepted[2]; !ok && c.chosenAt(2, 2) != "x" {
		t.Fatalf("rebuilt node 2 neither accepted nor chose slot 2:\n%s", c)
	}
}

// TestRebuildVirginCluster: a brand-new cluster starts with every node
// rebuilding; peers that promised nothing and chose nothing let each node
// vote, and a leader is elected within a few election timeouts.
func TestRebuildVirginCluster(t *testing.T) {
	for _, size := range []int{3, 5} {
		rb := map[NodeID]bool{}
		for i := 1; i <= size; i++ {
			rb[NodeID(i)] = true
		}
		c := rebuildCluster(t, size, rb)
		ticks := 0
		for ; ticks < 100 && c.leader() == 0; ticks++ {
			c.tick(1)
		}
		et := c.nodes[1].cfg.ElectionTicks
		if c.leader() == 0 || ticks > 4*et {
			t.Fatalf("%d nodes: leader %d after %d ticks, want one within %d", size, c.leader(), ticks, 4*et)
		}
		t.Logf("%d nodes: leader after %d ticks (ElectionTicks %d)", size, ticks, et)
		c.propose(c.leader(), "a")
		c.tick(5)
		for _, id := range c.ids {
			if c.nodes[id].Status().Rebuilding || c.chosenAt(id, 1) != "a" {
				t.Fatalf("%d nodes: node %d rebuilding=%v slot 1 %q", size, id, c.nodes[id].Status().Rebuilding,
					c.chosenAt(id, 1))
			}
		}
	}
}

// TestRebuildingNodeNeverVotes drives one rebuilding node by hand: it
// refuses Prepare and Accept with Nacks, persists nothing, never
// campaigns, and Ready.Rebuilt comes only with the exit.
func TestRebuildingNodeNeverVotes(t *testing.T) {
	n, err := NewNode(Config{ID: 1, Peers: []NodeID{1, 2, 3}, Rebuilding: true}, HardState{})
	if err != nil {
		t.Fatal(err)
	}
	b := Ballot{Round: 3, Node: 2}
	steps := []Message{
		{Type: MsgPrepare, From: 2, To: 1, Ballot: b, Slot: 1},
		{Type: MsgAccept, From: 2, To: 1, Ballot: b, Slot: 1, Entries: []Entry{{Slot: 1, Ballot: b, Data: []byte("v")}}},
		{Type: MsgHeartbeat, From: 2, To: 1, Ballot: b, Slot: 2},
	}
	for _, m := range steps {
		if err := n.Step(m); err != nil {
			t.Fatal(err)
		}
	}
	n.Campaign()
	for range 3 * n.cfg.ElectionTicks {
		n.Tick()
	}
	rd := n.Ready()
	if len(rd.Persist) != 0 || rd.Rebuilt || !n.Status().Rebuilding {
		t.Fatalf("rebuilding node persisted %v, rebuilt=%v, status rebuilding=%v", rd.Persist, rd.Rebuilt,
			n.Status().Rebuilding)
	}
	for _, m := range append(rd.Messages, rd.Eager...) {
		switch m.Type {
		case MsgPromise, MsgAccepted, MsgPrepare:
			t.Fatalf("rebuilding node sent %s", m)
		}
	}
	probes := 0
	for _, m := range rd.Eager {
		if m.Type == MsgProbe {
			probes++
		}
	}
	if probes == 0 {
		t.Fatal("no probes after the rebuild wait")
	}
}

// TestRebuildOneNode: a one-node cluster has nobody to learn from; it is
// rebuilt at once.
func TestRebuildOneNode(t *testing.T) {
	n, err := NewNode(Config{ID: 1, Peers: []NodeID{1}, Rebuilding: true}, HardState{})
	if err != nil {
		t.Fatal(err)
	}
	if rd := n.Ready(); !rd.Rebuilt || n.Status().Rebuilding {
		t.Fatalf("one-node cluster: rebuilt=%v rebuilding=%v", rd.Rebuilt, n.Status().Rebuilding)
	}
}

// TestHeartbeatCarriesNextSlot: a leader's heartbeat tells its next
// unassigned slot (a rebuilding node's target).
func TestHeartbeatCarriesNextSlot(t *testing.T) {
	c := newSCCluster(t, 3)
	c.elect(1)
	c.propose(1, "a", "b")
	c.settle()
	c.nodes[1].broadcastHeartbeat()
	rd := c.nodes[1].Ready()
	for _, m := range rd.Eager {
		if m.Type == MsgHeartbeat && m.Slot != 3 {
			t.Fatalf("heartbeat %s: slot %d, want 3", m, m.Slot)
		}
	}
}

// TestSimulatorRebuilds runs the simulator with a disk wiped every few
// dozen ticks (the mix that finds the noRebuild planted bug at once):
// with the rebuild protocol nothing chosen is lost, wiped nodes rebuild
// and the liveness phase passes.
func TestSimulatorRebuilds(t *testing.T) {
	var st simStats
	fails := runSeeds(*simStart, *simWipeSeeds, time.Time{}, 1, func(seed uint64) simParams {
		p := simParamsFor(seed, *simNodes)
		p.Tune = wipes
		return p
	}, &st)
	for _, f := range fails {
		t.Errorf("seed %d (%d nodes): %v\nreplay: go test ./paxos -run 'TestSimulatorRebuilds$' -sim.start=%d -sim.wipeseeds=1 -sim.nodes=%d",
			f.p.Seed, f.p.Nodes, f.v, f.p.Seed, f.p.Nodes)
	}
	t.Logf("%d seeds: %d wipes, %d rebuilds, %d slots chosen, slowest liveness %d ticks (seed %d)",
		st.seeds.Load(), st.wipes.Load(), st.rebuilt.Load(), st.chosen.Load(), st.maxLive.Load(), st.maxLiveSeed.Load())
	if *simWipeSeeds >= 100 && st.wipes.Load() < int64(*simWipeSeeds) || st.rebuilt.Load() <= st.wipes.Load() {
		t.Fatalf("the wipe mix did too little: %d wipes, %d rebuilds", st.wipes.Load(), st.rebuilt.Load())
	}
}
