package paxos

import (
	"errors"
	"testing"
)

// roleNode builds node id of a cluster of size peers from hs.
func roleNode(t *testing.T, id NodeID, size int, hs HardState, opt ...func(*Config)) *Node {
	t.Helper()
	peers := make([]NodeID, size)
	for i := range peers {
		peers[i] = NodeID(i + 1)
	}
	cfg := Config{ID: id, Peers: peers}
	for _, o := range opt {
		o(&cfg)
	}
	n, err := NewNode(cfg, hs)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// drain takes the node's Ready, advances it and returns it.
func drain(n *Node) Ready {
	rd := n.Ready()
	n.Advance(rd)
	return rd
}

// only returns the messages of type ty in ms.
func only(ms []Message, ty MsgType) []Message {
	var out []Message
	for _, m := range ms {
		if m.Type == ty {
			out = append(out, m)
		}
	}
	return out
}

func b(round uint64, node NodeID) Ballot { return Ballot{Round: round, Node: node} }

func ent(slot uint64, bal Ballot, data string) Entry {
	return Entry{Slot: slot, Ballot: bal, Data: []byte(data)}
}

func TestAcceptorPrepare(t *testing.T) {
	accepted := HardState{Promised: b(2, 1), Chosen: 3, First: 1,
		Accepted: []Entry{ent(4, b(1, 1), "x"), ent(6, b(2, 1), "y")}}
	tests := []struct {
		name      string
		hs        HardState
		prepare   Message
		wantType  MsgType
		wantHint  Ballot
		wantSlots []uint64 // slots reported in the promise
		persists  bool     // a promise record is in Persist
	}{
		{name: "fresh node promises", prepare: Message{Ballot: b(1, 2), Slot: 1},
			wantType: MsgPromise, persists: true},
		{name: "lower ballot is refused with the promised one as hint", hs: accepted,
			prepare: Message{Ballot: b(1, 3), Slot: 4}, wantType: MsgNack, wantHint: b(2, 1)},
		{name: "higher ballot gets every accept from Slot on", hs: accepted,
			prepare: Message{Ballot: b(3, 2), Slot: 4}, wantType: MsgPromise,
			wantSlots: []uint64{4, 6}, persists: true},
		{name: "accepts below Slot are not reported", hs: accepted,
			prepare: Message{Ballot: b(3, 2), Slot: 5}, wantType: MsgPromise,
			wantSlots: []uint64{6}, persists: true},
		{name: "equal ballot is promised again without a new record", hs: accepted,
			prepare: Message{Ballot: b(2, 1), Slot: 4}, wantType: MsgPromise,
			wantSlots: []uint64{4, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := roleNode(t, 3, 3, tt.hs)
			m := tt.prepare
			m.Type, m.To, m.From = MsgPrepare, 3, m.Ballot.Node
			if m.From == 3 {
				m.From = 2
			}
			if err := n.Step(m); err != nil {
				t.Fatal(err)
			}
			rd := drain(n)
			if len(rd.Eager) != 0 || len(rd.Messages) != 1 {
				t.Fatalf("eager %v messages %v: want one message, after persist", rd.Eager, rd.Messages)
			}
			got := rd.Messages[0]
			if got.Type != tt.wantType || got.Hint != tt.wantHint || got.To != m.From {
				t.Fatalf("got %v hint %s, want %s hint %s", got, got.Hint, tt.wantType, tt.wantHint)
			}
			var slots []uint64
			for _, e := range got.Entries {
				slots = append(slots, e.Slot)
			}
			if len(slots) != len(tt.wantSlots) || (len(slots) > 0 && slots[len(slots)-1] != tt.wantSlots[len(tt.wantSlots)-1]) {
				t.Fatalf("reported slots %v, want %v", slots, tt.wantSlots)
			}
			hasRecord := len(rd.Persist) == 1 && rd.Persist[0].Kind == RecordPromise && rd.Persist[0].Ballot == m.Ballot
			if hasRecord != tt.persists {
				t.Fatalf("persist %v, want promise record: %v", rd.Persist, tt.persists)
			}
		})
	}
}

func TestAcceptorPromiseInParts(t *testing.T) {
	var acc []Entry
	for s := uint64(1); s <= 10; s++ {
		acc = append(acc, ent(s, b(1, 1), "0123456789"))
	}
	n := roleNode(t, 2, 3, HardState{Promised: b(1, 1), Accepted: acc},
		func(c *Config) { c.MaxMsgBytes = 3 * 42 })
	if err := n.Step(Message{Type: MsgPrepare, From: 3, To: 2, Ballot: b(2, 3), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	rd := drain(n)
	parts := only(rd.Messages, MsgPromise)
	if len(parts) != 4 {
		t.Fatalf("%d parts, want 4: %v", len(parts), parts)
	}
	total := 0
	for _, m := range parts {
		total += len(m.Entries)
	}
	pp := promiseParts{front: 1}
	for i := len(parts) - 1; i >= 0; i-- { // in reverse order, one twice
		if pp.add(parts[i].Slot, parts[i].Count) != (i == 0) {
			t.Fatalf("part %d of %v: complete too early or not at all", i, parts)
		}
		if i == 2 && pp.add(parts[i].Slot, parts[i].Count) {
			t.Fatal("a duplicate part completed the promise")
		}
	}
	if total != 10 {
		t.Fatalf("%d entries reported, want 10", total)
	}
}

func TestAcceptorLease(t *testing.T) {
	n := roleNode(t, 3, 3, HardState{})
	// Node 1 leads at ballot 1.1; node 3 hears its heartbeat.
	if err := n.Step(Message{Type: MsgHeartbeat, From: 1, To: 3, Ballot: b(1, 1)}); err != nil {
		t.Fatal(err)
	}
	drain(n)
	// A higher prepare from node 2 while the lease holds: refused.
	if err := n.Step(Message{Type: MsgPrepare, From: 2, To: 3, Ballot: b(5, 2), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	rd := drain(n)
	if nacks := only(rd.Messages, MsgNack); len(nacks) != 1 || len(rd.Persist) != 0 {
		t.Fatalf("want a Nack and no promise while the lease holds, got %v persist %v", rd.Messages, rd.Persist)
	}
	// The leader itself may run phase 1 again at a higher ballot.
	if err := n.Step(Message{Type: MsgPrepare, From: 1, To: 3, Ballot: b(6, 1), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	if rd = drain(n); len(only(rd.Messages, MsgPromise)) != 1 {
		t.Fatalf("leader's own prepare refused: %v", rd.Messages)
	}
	// After ElectionTicks without the leader, node 2 may be promised.
	for range n.cfg.ElectionTicks {
		n.Tick()
	}
	drain(n)
	if err := n.Step(Message{Type: MsgPrepare, From: 2, To: 3, Ballot: b(9, 2), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	if rd = drain(n); len(only(rd.Messages, MsgPromise)) != 1 {
		t.Fatalf("prepare after the lease expired refused: %v", rd.Messages)
	}
}

func TestAcceptorAccept(t *testing.T) {
	tests := []struct {
		name     string
		promised Ballot
		accept   Message
		wantErr  bool
		wantType MsgType
	}{
		{name: "accept at promised ballot", promised: b(2, 1),
			accept:   Message{Ballot: b(2, 1), Slot: 1, Entries: []Entry{ent(1, b(2, 1), "a"), ent(2, b(2, 1), "b")}},
			wantType: MsgAccepted},
		{name: "accept above promised ballot", promised: b(1, 1),
			accept:   Message{Ballot: b(2, 1), Slot: 1, Entries: []Entry{ent(1, b(2, 1), "a")}},
			wantType: MsgAccepted},
		{name: "lower ballot refused", promised: b(3, 2),
			accept:   Message{Ballot: b(2, 1), Slot: 1, Entries: []Entry{ent(1, b(2, 1), "a")}},
			wantType: MsgNack},
		{name: "slots not consecutive is malformed", promised: b(1, 1),
			accept:  Message{Ballot: b(2, 1), Slot: 1, Entries: []Entry{ent(1, b(2, 1), "a"), ent(3, b(2, 1), "c")}},
			wantErr: true},
		{name: "entry ballot differs from message ballot is malformed", promised: b(1, 1),
			accept:  Message{Ballot: b(2, 1), Slot: 1, Entries: []Entry{ent(1, b(1, 1), "a")}},
			wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := roleNode(t, 2, 3, HardState{Promised: tt.promised})
			m := tt.accept
			m.Type, m.From, m.To = MsgAccept, 1, 2
			err := n.Step(m)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidMessage) {
					t.Fatalf("err %v, want ErrInvalidMessage", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rd := drain(n)
			if len(rd.Messages) != 1 || rd.Messages[0].Type != tt.wantType {
				t.Fatalf("messages %v, want one %s", rd.Messages, tt.wantType)
			}
			if tt.wantType != MsgAccepted {
				return
			}
			got := rd.Messages[0]
			if got.Slot != m.Slot || got.Count != uint64(len(m.Entries)) || got.Ballot != m.Ballot {
				t.Fatalf("accepted %v", got)
			}
			if len(rd.Persist) != 1 || rd.Persist[0].Kind != RecordAccept || len(rd.Persist[0].Entries) != len(m.Entries) {
				t.Fatalf("persist %v", rd.Persist)
			}
			if n.Status().Promised != m.Ballot {
				t.Fatalf("promised %s, want %s", n.Status().Promised, m.Ballot)
			}
		})
	}
}

func TestStepRejectsMalformed(t *testing.T) {
	n := roleNode(t, 2, 3, HardState{})
	for _, m := range []Message{
		{Type: MsgPrepare, From: 1, To: 3, Ballot: b(1, 1)},
		{Type: MsgPrepare, From: 9, To: 2, Ballot: b(1, 9)},
		{Type: MsgPrepare, From: 2, To: 2, Ballot: b(1, 2)},
		{Type: MsgInvalid, From: 1, To: 2},
		{Type: MsgType(200), From: 1, To: 2},
	} {
		if err := n.Step(m); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("Step(%v) = %v, want ErrInvalidMessage", m, err)
		}
	}
	if n.HasReady() {
		t.Fatalf("malformed input produced work: %+v", n.Ready())
	}
}

func TestNewNodeRejects(t *testing.T) {
	peers := []NodeID{1, 2, 3}
	for _, tc := range []struct {
		name string
		cfg  Config
		hs   HardState
		want error
	}{
		{"zero id", Config{Peers: peers}, HardState{}, ErrInvalidConfig},
		{"id not a peer", Config{ID: 4, Peers: peers}, HardState{}, ErrInvalidConfig},
		{"election not above heartbeat", Config{ID: 1, Peers: peers, HeartbeatTicks: 5, ElectionTicks: 5}, HardState{}, ErrInvalidConfig},
		{"chosen below first", Config{ID: 1, Peers: peers}, HardState{First: 10, Chosen: 3}, ErrInvalidHardState},
		{"accepts out of order", Config{ID: 1, Peers: peers},
			HardState{Promised: b(1, 1), Accepted: []Entry{ent(5, b(1, 1), "a"), ent(4, b(1, 1), "b")}}, ErrInvalidHardState},
		{"accept above promise", Config{ID: 1, Peers: peers},
			HardState{Promised: b(1, 1), Accepted: []Entry{ent(5, b(2, 1), "a")}}, ErrInvalidHardState},
	} {
		if _, err := NewNode(tc.cfg, tc.hs); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}
