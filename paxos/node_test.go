package paxos

import (
	"encoding/binary"
	"testing"
)

// FuzzStep feeds a node arbitrary (well-addressed) messages, ticks and
// proposals: it must never panic and never loop, whatever the fields say.
func FuzzStep(f *testing.F) {
	f.Add([]byte{1, 2, 0, 0, 0, 0, 0, 0, 0, 1, 5, 9})
	f.Add([]byte{2, 3, 1, 0, 0, 0, 0, 0, 0, 0, 1, 255, 255, 255, 255, 255, 255, 255, 255, 3, 1})
	f.Add([]byte{8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 255, 255})
	f.Fuzz(fuzzStepBody)
}

func fuzzStepBody(t *testing.T, in []byte) {
	n, err := NewNode(Config{ID: 1, Peers: []NodeID{1, 2, 3}, MaxInflightSlots: 64}, HardState{})
	if err != nil {
		t.Fatal(err)
	}
	next := func(k int) uint64 {
		var buf [8]byte
		k = min(k, len(in))
		copy(buf[:], in[:k])
		in = in[k:]
		return binary.LittleEndian.Uint64(buf[:])
	}
	for len(in) > 0 {
		op := next(1)
		switch op % 4 {
		case 0:
			n.Tick()
		case 1:
			n.Campaign()
		case 2:
			_, _ = n.Propose([][]byte{[]byte("v")})
		}
		m := Message{Type: MsgType(next(1) % uint64(msgTypeCount)), To: 1, From: NodeID(2 + next(1)%2),
			Ballot: Ballot{Round: next(1) % 4, Node: NodeID(next(1) % 4)},
			Slot:   next(2) % 300, Count: next(8), Commit: next(2),
			CommitBallot: Ballot{Round: next(1) % 4, Node: NodeID(next(1) % 4)},
			Hint:         Ballot{Round: next(1) % 8, Node: 2}}
		for k := next(1) % 4; k > 0; k-- {
			m.Entries = append(m.Entries, Entry{Slot: m.Slot + k - 1, Ballot: m.Ballot, Data: []byte{byte(k)}})
		}
		_ = n.Step(m)
		if n.HasReady() {
			n.Advance(n.Ready())
		}
	}
}
