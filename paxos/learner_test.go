package paxos

import (
	"slices"
	"testing"
)

func committedValues(rd Ready) []string {
	var out []string
	for _, e := range rd.Committed {
		out = append(out, value(e))
	}
	return out
}

func TestLearnerCommitRule(t *testing.T) {
	// The follower accepted slot 1 at 2.1 ("a"), slot 2 at 1.3 ("old"),
	// and nothing at slot 3. The leader (2.1) says slots <= 3 are chosen.
	hs := HardState{Promised: b(2, 1), Accepted: []Entry{ent(1, b(2, 1), "a"), ent(2, b(1, 3), "old")}}
	tests := []struct {
		name       string
		bugs       plantedBugs
		commit     uint64
		wantChosen []string
		wantAsk    uint64 // first slot of the CatchUp (0: none)
	}{
		{name: "only the slot accepted at the commit ballot", commit: 3,
			wantChosen: []string{"a"}, wantAsk: 2},
		{name: "commit below the gap needs no catch-up", commit: 1,
			wantChosen: []string{"a"}},
		{name: "planted bug: commit index alone", bugs: plantedBugs{commitIndexAlone: true}, commit: 3,
			wantChosen: []string{"a", "old"}, wantAsk: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := roleNode(t, 2, 3, hs, func(c *Config) { c.bugs = tt.bugs })
			err := n.Step(Message{Type: MsgHeartbeat, From: 1, To: 2, Ballot: b(2, 1),
				Commit: tt.commit, CommitBallot: b(2, 1)})
			if err != nil {
				t.Fatal(err)
			}
			rd := drain(n)
			if got := committedValues(rd); !slices.Equal(got, tt.wantChosen) {
				t.Fatalf("committed %v, want %v", got, tt.wantChosen)
			}
			cu := only(rd.Eager, MsgCatchUp)
			switch {
			case tt.wantAsk == 0 && len(cu) != 0:
				t.Fatalf("unexpected catch-up %v", cu)
			case tt.wantAsk != 0 && (len(cu) != 1 || cu[0].Slot != tt.wantAsk || cu[0].To != 1):
				t.Fatalf("catch-up %v, want one to node 1 from slot %d", cu, tt.wantAsk)
			}
		})
	}
}

func TestLearnerAcceptAfterCommit(t *testing.T) {
	// The commit index arrives before the accept it covers (reordering):
	// the accept at the commit ballot then proves the slot chosen.
	n := roleNode(t, 2, 3, HardState{})
	steps := []Message{
		{Type: MsgHeartbeat, From: 1, To: 2, Ballot: b(1, 1), Commit: 1, CommitBallot: b(1, 1)},
		{Type: MsgAccept, From: 1, To: 2, Ballot: b(1, 1), Slot: 1, Entries: []Entry{ent(1, b(1, 1), "a")}},
	}
	for _, m := range steps {
		if err := n.Step(m); err != nil {
			t.Fatal(err)
		}
	}
	if got := committedValues(drain(n)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("committed %v", got)
	}
}

func TestLearnerChosenMessage(t *testing.T) {
	// Entries a peer knows chosen are taken as they are, even over a
	// different value accepted here, and only the contiguous prefix is
	// handed out.
	n := roleNode(t, 2, 3, HardState{Promised: b(1, 3), Accepted: []Entry{ent(1, b(1, 3), "old")}})
	err := n.Step(Message{Type: MsgChosen, From: 1, To: 2, Slot: 1, Commit: 3,
		Entries: []Entry{ent(1, b(2, 1), "new"), ent(3, b(2, 1), "c")}})
	if err != nil {
		t.Fatal(err)
	}
	rd := drain(n)
	if got := committedValues(rd); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("committed %v, want [new]", got)
	}
	if cu := only(rd.Eager, MsgCatchUp); len(cu) != 1 || cu[0].Slot != 2 {
		t.Fatalf("want a catch-up from slot 2, got %v", rd.Eager)
	}
	// A promise still reports what this acceptor really accepted: nothing
	// above its durable chosen log now.
	if err := n.Step(Message{Type: MsgChosen, From: 1, To: 2, Slot: 2, Entries: []Entry{ent(2, b(2, 1), "b")}}); err != nil {
		t.Fatal(err)
	}
	if got := committedValues(drain(n)); !slices.Equal(got, []string{"b", "c"}) {
		t.Fatalf("committed %v, want [b c]", got)
	}
}

func TestLearnerServeCatchUp(t *testing.T) {
	store := newSCStore()
	store.first = 5
	for s := uint64(5); s <= 8; s++ {
		store.log = append(store.log, ent(s, b(1, 1), "d"))
	}
	tests := []struct {
		name      string
		withLog   bool
		from, cnt uint64
		wantType  MsgType
		wantSlots []uint64
		wantTrim  uint64
	}{
		{name: "from memory", from: 9, cnt: 2, wantType: MsgChosen, wantSlots: []uint64{9, 10}},
		{name: "from the log, then memory", withLog: true, from: 7, cnt: 4, wantType: MsgChosen,
			wantSlots: []uint64{7, 8, 9, 10}},
		{name: "below the first slot: trimmed", withLog: true, from: 2, cnt: 4, wantType: MsgTrimmed, wantTrim: 5},
		{name: "not held, no log: no answer", from: 6, cnt: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := roleNode(t, 1, 3, HardState{First: 5, Chosen: 8}, func(c *Config) {
				if tt.withLog {
					c.Log = store
				}
			})
			// Slots 9 and 10 become chosen in memory.
			err := n.Step(Message{Type: MsgChosen, From: 2, To: 1, Slot: 9,
				Entries: []Entry{ent(9, b(1, 1), "m"), ent(10, b(1, 1), "m")}})
			if err != nil {
				t.Fatal(err)
			}
			drain(n)
			if err := n.Step(Message{Type: MsgCatchUp, From: 3, To: 1, Slot: tt.from, Count: tt.cnt}); err != nil {
				t.Fatal(err)
			}
			rd := drain(n)
			if tt.wantType == 0 {
				if len(rd.Eager) != 0 {
					t.Fatalf("unexpected answer %v", rd.Eager)
				}
				return
			}
			if len(rd.Eager) != 1 || rd.Eager[0].Type != tt.wantType || rd.Eager[0].To != 3 {
				t.Fatalf("answer %v, want one %s to node 3", rd.Eager, tt.wantType)
			}
			m := rd.Eager[0]
			if m.Type == MsgTrimmed {
				if m.Slot != tt.wantTrim {
					t.Fatalf("trimmed at %d, want %d", m.Slot, tt.wantTrim)
				}
				return
			}
			var slots []uint64
			for _, e := range m.Entries {
				slots = append(slots, e.Slot)
			}
			if !slices.Equal(slots, tt.wantSlots) {
				t.Fatalf("served %v, want %v", slots, tt.wantSlots)
			}
		})
	}
}

func TestLearnerTrimmed(t *testing.T) {
	n := roleNode(t, 2, 3, HardState{})
	if err := n.Step(Message{Type: MsgHeartbeat, From: 1, To: 2, Ballot: b(1, 1), Commit: 20, CommitBallot: b(1, 1)}); err != nil {
		t.Fatal(err)
	}
	drain(n)
	if err := n.Step(Message{Type: MsgTrimmed, From: 1, To: 2, Slot: 15}); err != nil {
		t.Fatal(err)
	}
	rd := drain(n)
	if rd.ResetTo != 15 {
		t.Fatalf("ResetTo %d, want 15", rd.ResetTo)
	}
	if cu := only(rd.Eager, MsgCatchUp); len(cu) != 1 || cu[0].Slot != 15 {
		t.Fatalf("want a catch-up from 15, got %v", rd.Eager)
	}
	if err := n.Step(Message{Type: MsgChosen, From: 1, To: 2, Slot: 15, Entries: []Entry{ent(15, b(1, 1), "x")}}); err != nil {
		t.Fatal(err)
	}
	rd = drain(n)
	if len(rd.Committed) != 1 || rd.Committed[0].Slot != 15 || rd.ResetTo != 0 {
		t.Fatalf("committed %v reset %d", rd.Committed, rd.ResetTo)
	}
	if st := n.Status(); st.First != 15 || st.Commit != 15 {
		t.Fatalf("status first %d commit %d", st.First, st.Commit)
	}
}

func TestLearnerMemoryBounded(t *testing.T) {
	// With a chosen log to serve from, a node keeps only a small window of
	// chosen entries in memory.
	c := newSCCluster(t, 3)
	c.elect(1)
	vals := slices.Repeat([]string{"v"}, 100)
	for range 40 {
		c.propose(1, vals...)
		c.settle()
	}
	c.tick(2)
	for _, id := range c.ids {
		n := c.nodes[id]
		if n.chosen != 4000 {
			t.Fatalf("node %d chose %d, want 4000", id, n.chosen)
		}
		if held := n.w.n; held > memKeep+200 {
			t.Fatalf("node %d holds %d slots in memory", id, held)
		}
	}
	// A lagging node is still served from the log.
	n := c.nodes[1]
	if err := n.Step(Message{Type: MsgCatchUp, From: 2, To: 1, Slot: 1, Count: 10}); err != nil {
		t.Fatal(err)
	}
	rd := drain(n)
	if ch := only(rd.Eager, MsgChosen); len(ch) != 1 || len(ch[0].Entries) != 10 || ch[0].Entries[0].Slot != 1 {
		t.Fatalf("catch-up from the log: %v", rd.Eager)
	}
}
