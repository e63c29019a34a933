package paxos

import (
	"errors"
	"slices"
	"testing"
)

// electWith makes node 1 of a 3-node cluster leader with node 2's promise,
// which reports promised2; it returns the Ready that followed the promise.
func electWith(t *testing.T, n *Node, promised2 []Entry) Ready {
	t.Helper()
	n.Campaign()
	drain(n) // own promise durable and counted
	bal := n.Status().SoftState.Ballot
	if err := n.Step(Message{Type: MsgPromise, From: 2, To: 1, Ballot: bal, Slot: 1, Entries: promised2}); err != nil {
		t.Fatal(err)
	}
	rd := drain(n)
	if n.Status().SoftState.Role != Leader {
		t.Fatalf("not leader after a majority of promises: %+v", n.Status())
	}
	return rd
}

// proposedTo renders the Accepts sent to one peer as "slot:value".
func proposedTo(rd Ready, to NodeID) []string {
	var out []string
	for _, m := range only(rd.Eager, MsgAccept) {
		if m.To != to {
			continue
		}
		for _, e := range m.Entries {
			if e.Ballot != m.Ballot {
				return []string{"entry ballot differs from message ballot"}
			}
			out = append(out, string(rune('0'+e.Slot))+":"+value(e))
		}
	}
	return out
}

func TestProposerPhase1(t *testing.T) {
	// Node 1 accepted slot 2 at 2.3 ("new"); node 2 reports slot 2 at 1.2
	// ("old") and slot 4 at 1.3 ("x"). Slots 1 and 3 are holes.
	own := HardState{Promised: b(2, 3), Accepted: []Entry{ent(2, b(2, 3), "new")}}
	reported := []Entry{ent(2, b(1, 2), "old"), ent(4, b(1, 3), "x")}
	tests := []struct {
		name string
		bugs plantedBugs
		want []string
	}{
		{name: "highest ballot wins, holes get no-ops",
			want: []string{"1:noop", "2:new", "3:noop", "4:x"}},
		{name: "planted bug: lowest ballot wins", bugs: plantedBugs{lowestBallotWins: true},
			want: []string{"1:noop", "2:old", "3:noop", "4:x"}},
		{name: "planted bug: holes left", bugs: plantedBugs{noHoleFill: true},
			want: []string{"2:new", "4:x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := roleNode(t, 1, 3, own, func(c *Config) { c.bugs = tt.bugs })
			rd := electWith(t, n, reported)
			if got := proposedTo(rd, 2); !slices.Equal(got, tt.want) {
				t.Fatalf("re-proposed %v, want %v", got, tt.want)
			}
			if got := n.Status().SoftState.Ballot; got != b(3, 1) {
				t.Fatalf("ballot %s, want 3.1 (max round + 1)", got)
			}
			// New values come only after the re-proposals.
			first, err := n.Propose([][]byte{[]byte("y")})
			if err != nil || first != 5 {
				t.Fatalf("Propose = %d, %v; want slot 5", first, err)
			}
		})
	}
}

func TestProposerWaitsForPromisersChosenSlots(t *testing.T) {
	n := roleNode(t, 1, 3, HardState{})
	n.Campaign()
	drain(n)
	bal := n.Status().SoftState.Ballot
	// Node 2 has slots 1..2 durably chosen: it reports nothing there.
	if err := n.Step(Message{Type: MsgPromise, From: 2, To: 1, Ballot: bal, Slot: 1, Commit: 2}); err != nil {
		t.Fatal(err)
	}
	rd := drain(n)
	if n.Status().SoftState.Role == Leader {
		t.Fatal("led before learning the slots a promiser holds chosen")
	}
	if cu := only(rd.Eager, MsgCatchUp); len(cu) != 1 || cu[0].To != 2 || cu[0].Slot != 1 {
		t.Fatalf("want a CatchUp to node 2 from slot 1, got %v", rd.Eager)
	}
	chosen := []Entry{ent(1, b(1, 3), "a"), ent(2, b(1, 3), "b")}
	if err := n.Step(Message{Type: MsgChosen, From: 2, To: 1, Slot: 1, Commit: 2, Entries: chosen}); err != nil {
		t.Fatal(err)
	}
	rd = drain(n)
	if st := n.Status(); st.SoftState.Role != Leader || st.Commit != 2 || len(rd.Committed) != 2 {
		t.Fatalf("status %+v committed %v", st, rd.Committed)
	}
	if first, err := n.Propose([][]byte{[]byte("c")}); err != nil || first != 3 {
		t.Fatalf("Propose = %d, %v; want slot 3", first, err)
	}
}

func TestProposerNotLeader(t *testing.T) {
	n := roleNode(t, 2, 3, HardState{})
	if err := n.Step(Message{Type: MsgHeartbeat, From: 1, To: 2, Ballot: b(1, 1)}); err != nil {
		t.Fatal(err)
	}
	_, err := n.Propose([][]byte{[]byte("a")})
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.Leader != 1 || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("err %v, want NotLeaderError naming node 1", err)
	}
}

func TestProposerSelfVoteAtAdvance(t *testing.T) {
	n := roleNode(t, 1, 3, HardState{})
	electWith(t, n, nil)
	bal := n.Status().SoftState.Ballot
	if _, err := n.Propose([][]byte{[]byte("a")}); err != nil {
		t.Fatal(err)
	}
	rd := n.Ready() // the own accept is not durable yet
	if len(rd.Persist) != 1 || rd.Persist[0].Kind != RecordAccept {
		t.Fatalf("persist %v", rd.Persist)
	}
	if err := n.Step(Message{Type: MsgAccepted, From: 2, To: 1, Ballot: bal, Slot: 1, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if n.Status().Commit != 0 {
		t.Fatal("chosen before the leader's own accept was durable")
	}
	n.Advance(rd)
	if n.Status().Commit != 1 {
		t.Fatalf("commit %d after Advance, want 1", n.Status().Commit)
	}
}

// A pipelining driver may step promises in while the Ready holding the
// candidate's own promise is still being persisted. A majority of peers'
// promises must not make it leader then: its Accepts (Eager) would leave
// before its promise is durable, and a crash would let it reuse the ballot
// for other values (simulator seed 21590, depth 3).
func TestProposerLeadsOnlyAfterOwnPromiseDurable(t *testing.T) {
	n := roleNode(t, 1, 3, HardState{})
	n.Campaign()
	rd := n.Ready() // holds the own promise; not durable yet
	bal := n.Status().SoftState.Ballot
	for _, from := range []NodeID{2, 3} {
		if err := n.Step(Message{Type: MsgPromise, From: from, To: 1, Ballot: bal, Slot: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.Propose([][]byte{[]byte("a")}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Propose before the own promise is durable: %v, want ErrNotLeader", err)
	}
	rd2 := n.Ready()
	if n.Status().SoftState.Role == Leader || len(only(rd2.Eager, MsgAccept)) > 0 {
		t.Fatalf("leads before its own promise is durable: %+v, eager %v", n.Status(), rd2.Eager)
	}
	n.Advance(rd)
	n.Advance(rd2)
	if n.Status().SoftState.Role != Leader {
		t.Fatalf("not leader once its own promise is durable: %+v", n.Status())
	}
}

func TestProposerBackpressure(t *testing.T) {
	n := roleNode(t, 1, 3, HardState{}, func(c *Config) { c.MaxInflightSlots = 4; c.MaxInflightBytes = 1 << 20 })
	electWith(t, n, nil)
	data := func(k int) [][]byte { return slices.Repeat([][]byte{[]byte("v")}, k) }
	if _, err := n.Propose(data(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Propose(data(2)); !errors.Is(err, ErrBackpressure) {
		t.Fatalf("err %v, want ErrBackpressure", err)
	}
	drain(n)
	bal := n.Status().SoftState.Ballot
	if err := n.Step(Message{Type: MsgAccepted, From: 3, To: 1, Ballot: bal, Slot: 1, Count: 3}); err != nil {
		t.Fatal(err)
	}
	if st := n.Status(); st.Inflight != 0 || st.InflightB != 0 {
		t.Fatalf("inflight %d/%dB after all chosen", st.Inflight, st.InflightB)
	}
	if _, err := n.Propose(data(4)); err != nil {
		t.Fatalf("window not freed: %v", err)
	}
	// The byte bound.
	m := roleNode(t, 1, 3, HardState{}, func(c *Config) { c.MaxInflightBytes = 100 })
	electWith(t, m, nil)
	if _, err := m.Propose([][]byte{make([]byte, 80)}); !errors.Is(err, ErrBackpressure) {
		t.Fatalf("err %v, want ErrBackpressure for 112 bytes", err)
	}
}

func TestProposerAcceptRuns(t *testing.T) {
	n := roleNode(t, 1, 3, HardState{}, func(c *Config) { c.MaxMsgBytes = 2 * 42 })
	electWith(t, n, nil)
	data := slices.Repeat([][]byte{[]byte("0123456789")}, 5) // 42 bytes each
	if _, err := n.Propose(data); err != nil {
		t.Fatal(err)
	}
	rd := drain(n)
	var sizes []int
	for _, m := range only(rd.Eager, MsgAccept) {
		if m.To == 2 {
			sizes = append(sizes, len(m.Entries))
		}
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Fatalf("runs of %v entries, want [2 2 1]", sizes)
	}
}

func TestProposerResend(t *testing.T) {
	n := roleNode(t, 1, 3, HardState{})
	electWith(t, n, nil)
	bal := n.Status().SoftState.Ballot
	if _, err := n.Propose([][]byte{[]byte("a"), []byte("b")}); err != nil {
		t.Fatal(err)
	}
	drain(n)
	// Node 2 accepted slot 1 only; nothing is chosen-acknowledged by node 3.
	if err := n.Step(Message{Type: MsgAccepted, From: 2, To: 1, Ballot: bal, Slot: 1, Count: 1}); err != nil {
		t.Fatal(err)
	}
	var resent []Message
	for range n.cfg.ResendTicks {
		n.Tick()
		resent = append(resent, only(drain(n).Eager, MsgAccept)...)
	}
	var got []string
	for _, m := range resent {
		for _, e := range m.Entries {
			got = append(got, string(rune('0'+m.To))+"<-"+string(rune('0'+e.Slot)))
		}
	}
	// Slot 1 is chosen (self + node 2); slot 2 goes again to node 2 and 3.
	if want := []string{"2<-2", "3<-2"}; !slices.Equal(got, want) {
		t.Fatalf("resent %v, want %v", got, want)
	}
}

func TestProposerCheckQuorum(t *testing.T) {
	n := roleNode(t, 1, 3, HardState{})
	electWith(t, n, nil)
	for range n.cfg.ElectionTicks {
		n.Tick()
	}
	if st := n.Status(); st.SoftState.Role == Leader {
		t.Fatal("leader kept its role without hearing a majority")
	}
	// With a follower acknowledging heartbeats, the leader stays.
	m := roleNode(t, 1, 3, HardState{})
	electWith(t, m, nil)
	bal := m.Status().SoftState.Ballot
	for range 3 * m.cfg.ElectionTicks {
		m.Tick()
		if err := m.Step(Message{Type: MsgHeartbeatAck, From: 3, To: 1, Ballot: bal}); err != nil {
			t.Fatal(err)
		}
	}
	if m.Status().SoftState.Role != Leader {
		t.Fatal("leader stepped down while a majority answered")
	}
}

func TestProposerNack(t *testing.T) {
	// A candidate refused with a higher hint steps back; its next ballot is
	// above the hint.
	n := roleNode(t, 1, 3, HardState{})
	n.Campaign()
	drain(n)
	bal := n.Status().SoftState.Ballot
	if err := n.Step(Message{Type: MsgNack, From: 2, To: 1, Ballot: bal, Hint: b(7, 3)}); err != nil {
		t.Fatal(err)
	}
	if n.Status().SoftState.Role != Follower {
		t.Fatalf("candidate role %s after a higher Nack", n.Status().SoftState.Role)
	}
	n.Campaign()
	if got := n.Status().SoftState.Ballot; got != b(8, 1) {
		t.Fatalf("next ballot %s, want 8.1", got)
	}
	// A leader that still hears a majority runs phase 1 again above the hint.
	m := roleNode(t, 1, 3, HardState{})
	electWith(t, m, nil)
	bal = m.Status().SoftState.Ballot
	if err := m.Step(Message{Type: MsgNack, From: 3, To: 1, Ballot: bal, Hint: b(9, 3)}); err != nil {
		t.Fatal(err)
	}
	st := m.Status()
	if st.SoftState.Role != Candidate || st.SoftState.Ballot != b(10, 1) {
		t.Fatalf("leader after a higher Nack: %+v", st.SoftState)
	}
	// A Nack with a lower hint (a refusal because of another leader's
	// lease) leaves a candidate waiting.
	k := roleNode(t, 1, 3, HardState{})
	k.Campaign()
	drain(k)
	bal = k.Status().SoftState.Ballot
	if err := k.Step(Message{Type: MsgNack, From: 2, To: 1, Ballot: bal, Hint: Ballot{}}); err != nil {
		t.Fatal(err)
	}
	if k.Status().SoftState.Role != Candidate {
		t.Fatal("candidate gave up on a Nack with a lower hint")
	}
}
