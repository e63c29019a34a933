package paxos

import (
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
