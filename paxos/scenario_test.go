package paxos

import (
	"fmt"
	"slices"
	"testing"
)

func TestScenarioBasic(t *testing.T) {
	c := newSCCluster(t, 3)
	c.elect(1)
	first := c.propose(1, "a", "b", "c")
	if first != 1 {
		t.Fatalf("first slot %d, want 1", first)
	}
	c.settle()
	c.tick(3) // heartbeats carry the commit index
	for _, id := range c.ids {
		if got := c.logOf(id); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Fatalf("node %d log %v\n%s", id, got, c)
		}
	}
}

func TestScenarioElectionByTimeout(t *testing.T) {
	c := newSCCluster(t, 3)
	c.tick(40)
	l := c.leader()
	if l == 0 {
		t.Fatalf("no leader after 40 ticks")
	}
	c.propose(l, "x")
	c.tick(4)
	for _, id := range c.ids {
		if got := c.logOf(id); !slices.Equal(got, []string{"x"}) {
			t.Fatalf("node %d log %v", id, got)
		}
	}
}

func TestScenarioSingleNode(t *testing.T) {
	c := newSCCluster(t, 1)
	c.elect(1)
	c.propose(1, "a")
	c.settle()
	if got := c.logOf(1); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("log %v", got)
	}
}

// checkLogs fails unless every listed node's chosen log equals want, and
// every log is a prefix of the others.
func (c *scCluster) checkLogs(want []string, ids ...NodeID) {
	c.t.Helper()
	c.checkConsistent()
	for _, id := range ids {
		if got := c.logOf(id); !slices.Equal(got, want) {
			c.t.Fatalf("node %d log %v, want %v\n%s", id, got, want, c)
		}
	}
}

func TestScenarioDuelingProposers(t *testing.T) {
	// Two candidates start phase 1 at once; node 2's ballot (1.2) beats
	// node 1's (1.1): node 1 promises it, node 2 refuses node 1.
	c := newSCCluster(t, 3)
	c.nodes[1].Campaign()
	c.nodes[2].Campaign()
	c.settle()
	if l := c.leader(); l != 2 {
		t.Fatalf("leader %d, want 2", l)
	}
	c.propose(2, "a")
	c.settle()

	// A second duel: node 1 wins phase 1 at 2.1 while node 2 is cut off;
	// node 2 still leads at 1.2 in its own view, and campaigns again at 2.2
	// before it hears of node 1. Node 3 refuses it (node 1's lease), node 1
	// refuses it (it leads), and node 2 refuses node 1's Accept of "b". Node
	// 1 runs phase 1 again above the hint (3.1) and keeps leading; "b" is
	// re-proposed, not lost and not duplicated.
	c.isolate(2)
	c.expireLeases() // node 2 is cut off: node 3's lease on it lapses
	c.nodes[1].Campaign()
	c.deliver(1 << 30)
	c.heal()
	if st := c.nodes[1].Status().SoftState; st.Role != Leader || st.Ballot != b(2, 1) {
		t.Fatalf("node 1: %+v, want leader at 2.1", st)
	}
	c.propose(1, "b")
	c.readyAll()
	c.nodes[2].Campaign()
	c.readyAll()
	c.settle()
	for _, id := range c.ids {
		if st := c.nodes[id].Status().SoftState; st.Leader != 1 || st.Ballot != b(3, 1) {
			t.Fatalf("node %d after the duel: %+v, want node 1 leading at 3.1", id, st)
		}
	}
	c.tick(50)
	l := c.leader()
	if l == 0 {
		t.Fatal("no leader after the duel")
	}
	c.propose(l, "c")
	c.tick(5)
	c.checkConsistent()
	got := c.logOf(1)
	if countOf(got, "a") != 1 || countOf(got, "b") != 1 || countOf(got, "c") != 1 {
		t.Fatalf("log %v: want a, b and c once each\n%s", got, c)
	}
	c.checkLogs(got, c.ids...)
}

func countOf(s []string, v string) int {
	k := 0
	for _, x := range s {
		if x == v {
			k++
		}
	}
	return k
}

func TestScenarioLeaderCrashBetweenPersistAndSend(t *testing.T) {
	// The leader persists its accept of "x" in slot 1 and crashes before
	// any message leaves. The value exists on one acceptor only.
	t.Run("new leader without it fills the slot", func(t *testing.T) {
		c := newSCCluster(t, 3)
		c.elect(1)
		c.propose(1, "x")
		c.crashAfterPersist(1)
		c.expireLeases()
		c.elect(2) // promises from 2 and 3: nobody reports slot 1
		c.propose(2, "y")
		c.settle()
		c.restart(1) // holds x at the old ballot in slot 1
		c.tick(5)    // heartbeats: node 1 must fetch y, not take x
		c.checkLogs([]string{"y"}, 1, 2, 3)
	})
	t.Run("new leader with it re-proposes it", func(t *testing.T) {
		c := newSCCluster(t, 3)
		c.elect(1)
		c.propose(1, "x")
		c.crashAfterPersist(1)
		c.restart(1)
		c.isolate(3) // phase 1 with node 1's promise, which reports x
		c.expireLeases()
		c.elect(2)
		c.heal()
		c.propose(2, "y")
		c.tick(5)
		c.checkLogs([]string{"x", "y"}, 1, 2, 3)
	})
}

func TestScenarioLeaderCrashAcceptsAtMinority(t *testing.T) {
	// 5 nodes: the leader's accept of "x" reaches node 2 only, then the
	// leader crashes: x is accepted by 2 of 5.
	setup := func(t *testing.T) *scCluster {
		c := newSCCluster(t, 5)
		c.elect(1)
		c.propose(1, "x")
		for _, id := range []NodeID{3, 4, 5} {
			c.cutLink(1, id)
		}
		c.settle()
		c.crash(1)
		c.heal()
		c.expireLeases()
		return c
	}
	t.Run("quorum without the minority", func(t *testing.T) {
		c := setup(t)
		c.isolate(2)
		c.elect(3) // promises from 3, 4, 5
		c.propose(3, "y")
		c.settle()
		c.heal()
		c.restart(1)
		c.tick(5)
		c.checkLogs([]string{"y"}, 1, 2, 3, 4, 5)
	})
	t.Run("quorum with the minority", func(t *testing.T) {
		c := setup(t)
		c.elect(3) // node 2's promise reports x
		c.propose(3, "y")
		c.restart(1)
		c.tick(5)
		c.checkLogs([]string{"x", "y"}, 1, 2, 3, 4, 5)
	})
}

func TestScenarioOldBallotValueNotChosen(t *testing.T) {
	// Node 2 accepts "x" in slot 1 at ballot 1.1; the leader's Accept left
	// before its own fsync and the leader crashed, so x is on node 2 only.
	// A new leader chooses "y" in slot 1 without node 2. When node 2 hears
	// commit index 1, it must not take its own x: it accepted slot 1 at
	// another ballot than the commit ballot, so it fetches y.
	run := func(t *testing.T, bugs plantedBugs) *scCluster {
		c := newSCCluster(t, 3, func(cfg *Config) { cfg.bugs = bugs })
		c.elect(1)
		c.propose(1, "x")
		c.cutLink(1, 3)
		c.crashAfterEager(1)
		c.deliver(1 << 30) // node 2 accepts x at 1.1
		c.heal()
		c.restart(1)
		c.isolate(2)
		c.expireLeases()
		c.elect(3) // promises from 3 and 1: nobody reports slot 1
		c.propose(3, "y")
		c.settle()
		c.heal()
		c.tick(5)
		return c
	}
	c := run(t, plantedBugs{})
	c.checkLogs([]string{"y"}, 1, 2, 3)

	// With the planted bug (a commit index is enough), node 2 marks its own
	// x chosen: the logs diverge. This shows the scenario tests the rule.
	c = run(t, plantedBugs{commitIndexAlone: true})
	if got := c.logOf(2); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("with commitIndexAlone node 2's log %v, want [x]", got)
	}
}

func TestScenarioPartitionedNodeRejoins(t *testing.T) {
	// Node 3 is cut off for a long time: it campaigns again and again and
	// its ballot climbs far above the leader's. When it comes back, its
	// Prepares are refused (the others hear a live leader) and it cannot
	// depose node 1; node 1 runs phase 1 above node 3's ballot when node 3
	// refuses its heartbeat, and keeps leading. Node 3 catches up.
	c := newSCCluster(t, 3)
	c.elect(1)
	c.propose(1, "a")
	c.tick(2)
	c.isolate(3)
	for i := range 10 {
		c.propose(1, fmt.Sprint(i))
		c.tick(10)
	}
	if c.nodes[3].Status().Promised.Round < c.nodes[1].Status().SoftState.Ballot.Round+3 {
		t.Fatalf("node 3's ballot %s did not climb above the leader's %s", c.nodes[3].Status().Promised,
			c.nodes[1].Status().SoftState.Ballot)
	}
	c.heal()
	for range 60 {
		c.tick(1)
		for _, id := range []NodeID{2, 3} {
			if c.nodes[id].role == Leader {
				t.Fatalf("node %d became leader after node 3 rejoined", id)
			}
		}
	}
	if c.leader() != 1 {
		t.Fatalf("leader %d, want 1", c.leader())
	}
	c.propose(1, "z")
	c.tick(3)
	want := c.logOf(1)
	if len(want) != 12 || want[11] != "z" {
		t.Fatalf("leader log %v", want)
	}
	c.checkLogs(want, 1, 2, 3)
}

func TestScenarioAcceptorRestartsMidPhase1(t *testing.T) {
	t.Run("promise persisted, crash before it is sent", func(t *testing.T) {
		c := newSCCluster(t, 3)
		c.isolate(3)
		c.nodes[1].Campaign()
		c.readyAll()
		c.stepNext() // node 2 gets the Prepare
		c.crashAfterPersist(2)
		c.restart(2)
		if got := c.nodes[2].Status().Promised; got != b(1, 1) {
			t.Fatalf("restarted node 2 promised %s, want 1.1", got)
		}
		// A lower ballot is refused after the restart.
		if err := c.nodes[2].Step(Message{Type: MsgPrepare, From: 3, To: 2, Ballot: b(0, 3), Slot: 1}); err != nil {
			t.Fatal(err)
		}
		c.ready(2)
		if m := c.queue[len(c.queue)-1]; m.Type != MsgNack || m.Hint != b(1, 1) {
			t.Fatalf("answer to a lower prepare: %v", m)
		}
		c.settle()
		// The candidate resends its Prepare; node 2 promises again.
		c.tick(c.nodes[1].cfg.ResendTicks)
		if c.leader() != 1 {
			t.Fatalf("leader %d, want 1", c.leader())
		}
		c.heal()
		c.propose(1, "a")
		c.tick(3)
		c.checkLogs([]string{"a"}, 1, 2, 3)
	})
	t.Run("crash before the promise is durable", func(t *testing.T) {
		c := newSCCluster(t, 3)
		c.isolate(3)
		c.nodes[1].Campaign()
		c.readyAll()
		c.stepNext()
		c.crash(2) // the promise record was never persisted
		c.restart(2)
		if got := c.nodes[2].Status().Promised; !got.IsZero() {
			t.Fatalf("restarted node 2 promised %s, want nothing", got)
		}
		c.tick(c.nodes[1].cfg.ResendTicks)
		if c.leader() != 1 {
			t.Fatalf("leader %d, want 1", c.leader())
		}
	})
	t.Run("promise sent, acceptor restarts, a competing candidate comes", func(t *testing.T) {
		// Node 2 promised 1.1 durably and restarts; node 3 campaigns at 2.3
		// and wins with node 2. Node 2's promise of 1.1, delayed, then
		// completes node 1's phase 1, but node 2 refuses node 1's Accepts
		// at 1.1 (it promised 2.3 since): nothing is chosen at 1.1 and the
		// logs agree.
		c := newSCCluster(t, 3)
		c.cutLink(3, 1)
		c.cutLink(1, 3)
		c.nodes[1].Campaign()
		c.readyAll()
		c.stepNext() // node 2 promises 1.1
		c.ready(2)
		c.crash(2)
		c.restart(2)
		promise := c.queue[len(c.queue)-1]
		c.queue = c.queue[:len(c.queue)-1]
		if promise.Type != MsgPromise || promise.From != 2 || promise.Ballot != b(1, 1) {
			t.Fatalf("held back %v, want node 2's promise of 1.1", promise)
		}
		c.elect(3) // node 2 promises 2.3 after its restart
		if err := c.nodes[1].Step(promise); err != nil {
			t.Fatal(err)
		}
		c.ready(1)
		c.settle()
		c.heal()
		c.propose(3, "y")
		c.tick(30)
		l := c.leader()
		c.propose(l, "z")
		c.tick(5)
		got := c.logOf(l)
		if countOf(got, "y") != 1 || countOf(got, "z") != 1 {
			t.Fatalf("log %v", got)
		}
		c.checkLogs(got, c.ids...)
	})
}
