package paxos

import (
	"math/rand/v2"
	"testing"
)

func sbal(round uint64, node NodeID) Ballot { return Ballot{Round: round, Node: node} }

func sval(slot uint64, data string) Entry { return Entry{Slot: slot, Data: []byte(data)} }

// simWantViolation asserts that c recorded a violation of checker.
func simWantViolation(t *testing.T, c *simChecker, checker string) {
	t.Helper()
	if c.err == nil {
		t.Fatalf("want a %s violation, got none", checker)
	}
	if c.err.Checker != checker {
		t.Fatalf("want a %s violation, got %v", checker, c.err)
	}
	t.Logf("caught: %v", c.err)
}

func simWantClean(t *testing.T, c *simChecker) {
	t.Helper()
	if c.err != nil {
		t.Fatalf("want no violation, got %v", c.err)
	}
}

// TestSimCheckerCleanHistory: a correct history (a value chosen at ballot
// 1.1, re-proposed by a new leader at 2.2, reported by every replica, every
// message sent after its state was durable) raises nothing.
func TestSimCheckerCleanHistory(t *testing.T) {
	c := newSimChecker(3)
	c.propose([]byte("x"), 1)
	c.sent(2, &Message{Type: MsgPromise, From: 2, To: 1, Ballot: sbal(1, 1)}, sbal(1, 1), 0)
	c.persistAccept(1, sbal(1, 1), []Entry{sval(1, "x")}, sbal(1, 1))
	c.persistAccept(2, sbal(1, 1), []Entry{sval(1, "x")}, sbal(1, 1))
	c.sent(2, &Message{Type: MsgAccepted, From: 2, To: 1, Ballot: sbal(1, 1), Slot: 1, Count: 1}, sbal(1, 1), 0)
	c.committed(1, Entry{Slot: 1, Ballot: sbal(1, 1), Data: []byte("x")})
	// New leader 3 at 2.3 learns x from node 2's promise and re-proposes it.
	c.sent(2, &Message{Type: MsgPromise, From: 2, To: 3, Ballot: sbal(2, 3),
		Entries: []Entry{{Slot: 1, Ballot: sbal(1, 1), Data: []byte("x")}}}, sbal(2, 3), 0)
	c.persistAccept(3, sbal(2, 3), []Entry{sval(1, "x"), {Slot: 2, Noop: true}}, sbal(2, 3))
	c.persistAccept(2, sbal(2, 3), []Entry{sval(1, "x"), {Slot: 2, Noop: true}}, sbal(2, 3))
	c.committed(3, Entry{Slot: 1, Ballot: sbal(2, 3), Data: []byte("x")})
	c.committed(3, Entry{Slot: 2, Ballot: sbal(2, 3), Noop: true})
	c.committed(2, Entry{Slot: 1, Ballot: sbal(1, 1), Data: []byte("x")})
	c.restarted(2, HardState{Promised: sbal(2, 3), First: 1, Chosen: 1,
		Accepted: []Entry{{Slot: 2, Ballot: sbal(2, 3), Noop: true}}})
	simWantClean(t, c)
	if got := c.chosen[1]; got.value != "v:x" || got.ballot != sbal(1, 1) {
		t.Fatalf("slot 1 judged %+v, want x at 1.1", got)
	}
}

func TestSimCheckerAgreement(t *testing.T) {
	t.Run("two values chosen at two ballots", func(t *testing.T) {
		c := newSimChecker(3)
		c.persistAccept(1, sbal(1, 1), []Entry{sval(4, "x")}, Ballot{})
		c.persistAccept(2, sbal(1, 1), []Entry{sval(4, "x")}, Ballot{})
		simWantClean(t, c)
		c.persistAccept(3, sbal(2, 3), []Entry{sval(4, "y")}, Ballot{})
		c.persistAccept(1, sbal(2, 3), []Entry{sval(4, "y")}, Ballot{})
		simWantViolation(t, c, checkAgreement)
	})
	t.Run("minority accept of another value is fine", func(t *testing.T) {
		c := newSimChecker(5)
		c.persistAccept(1, sbal(1, 1), []Entry{sval(4, "x")}, Ballot{})
		c.persistAccept(2, sbal(1, 1), []Entry{sval(4, "x")}, Ballot{})
		c.persistAccept(3, sbal(2, 3), []Entry{sval(4, "y")}, Ballot{})
		c.persistAccept(4, sbal(2, 3), []Entry{sval(4, "y")}, Ballot{})
		c.persistAccept(5, sbal(2, 3), []Entry{sval(4, "y")}, Ballot{})
		c.persistAccept(5, sbal(2, 3), []Entry{sval(4, "y")}, Ballot{}) // a duplicate is one vote
		simWantClean(t, c)
	})
	t.Run("one ballot two values", func(t *testing.T) {
		c := newSimChecker(3)
		c.persistAccept(1, sbal(1, 1), []Entry{sval(4, "x")}, Ballot{})
		c.persistAccept(2, sbal(1, 1), []Entry{sval(4, "y")}, Ballot{})
		simWantViolation(t, c, checkAgreement)
	})
	t.Run("replica reports a value other than the chosen one", func(t *testing.T) {
		c := newSimChecker(3)
		c.propose([]byte("x"), 4)
		c.propose([]byte("y"), 4)
		c.persistAccept(1, sbal(1, 1), []Entry{sval(4, "x")}, Ballot{})
		c.persistAccept(2, sbal(1, 1), []Entry{sval(4, "x")}, Ballot{})
		c.committed(3, Entry{Slot: 4, Data: []byte("y")})
		simWantViolation(t, c, checkAgreement)
	})
}

func TestSimCheckerValidity(t *testing.T) {
	t.Run("never proposed", func(t *testing.T) {
		c := newSimChecker(3)
		c.persistAccept(1, sbal(1, 1), []Entry{sval(1, "z")}, Ballot{})
		c.persistAccept(2, sbal(1, 1), []Entry{sval(1, "z")}, Ballot{})
		c.committed(1, Entry{Slot: 1, Data: []byte("z")})
		simWantViolation(t, c, checkValidity)
	})
	t.Run("chosen in another slot than Propose said", func(t *testing.T) {
		c := newSimChecker(3)
		c.propose([]byte("x"), 2)
		c.persistAccept(1, sbal(1, 1), []Entry{sval(3, "x")}, Ballot{})
		c.persistAccept(2, sbal(1, 1), []Entry{sval(3, "x")}, Ballot{})
		c.committed(1, Entry{Slot: 3, Data: []byte("x")})
		simWantViolation(t, c, checkValidity)
	})
	t.Run("no-op needs no proposal", func(t *testing.T) {
		c := newSimChecker(3)
		c.persistAccept(1, sbal(1, 1), []Entry{{Slot: 1, Noop: true}}, Ballot{})
		c.persistAccept(2, sbal(1, 1), []Entry{{Slot: 1, Noop: true}}, Ballot{})
		c.committed(1, Entry{Slot: 1, Noop: true})
		simWantClean(t, c)
	})
	t.Run("one value in two slots", func(t *testing.T) {
		c := newSimChecker(3)
		c.propose([]byte("x"), 1)
		for _, s := range []uint64{1, 2} {
			c.persistAccept(1, sbal(1, 1), []Entry{sval(s, "x")}, Ballot{})
			c.persistAccept(2, sbal(1, 1), []Entry{sval(s, "x")}, Ballot{})
			c.committed(1, Entry{Slot: s, Data: []byte("x")})
		}
		simWantViolation(t, c, checkValidity)
	})
}

func TestSimCheckerPrefix(t *testing.T) {
	c := newSimChecker(3)
	c.propose([]byte("x"), 1)
	c.propose([]byte("y"), 1)
	c.persistAccept(1, sbal(1, 1), []Entry{sval(1, "x")}, Ballot{})
	c.persistAccept(2, sbal(1, 1), []Entry{sval(1, "x")}, Ballot{})
	c.committed(1, Entry{Slot: 1, Data: []byte("x")})
	simWantClean(t, c)
	c.committed(3, Entry{Slot: 1, Data: []byte("y")})
	simWantViolation(t, c, checkPrefix)
}

func TestSimCheckerDurability(t *testing.T) {
	c := newSimChecker(3)
	c.propose([]byte("x"), 1)
	c.persistAccept(1, sbal(1, 1), []Entry{sval(1, "x")}, Ballot{})
	c.committed(1, Entry{Slot: 1, Data: []byte("x")}) // only one of three persisted it
	simWantViolation(t, c, checkDurability)
}

func TestSimCheckerMonotonicity(t *testing.T) {
	cases := []struct {
		name string
		run  func(c *simChecker)
	}{
		{"promise sent before durable", func(c *simChecker) {
			c.sent(2, &Message{Type: MsgPromise, From: 2, Ballot: sbal(3, 1)}, sbal(2, 1), 0)
		}},
		{"accepted sent before durable", func(c *simChecker) {
			c.persistAccept(2, sbal(1, 1), []Entry{sval(1, "x")}, Ballot{})
			c.sent(2, &Message{Type: MsgAccepted, From: 2, Ballot: sbal(1, 1), Slot: 1, Count: 2}, sbal(1, 1), 0)
		}},
		{"accepted below an earlier promise", func(c *simChecker) {
			c.sent(2, &Message{Type: MsgPromise, From: 2, Ballot: sbal(3, 1)}, sbal(3, 1), 0)
			c.persistAccept(2, sbal(2, 3), []Entry{sval(1, "x")}, sbal(1, 1)) // durable promise was lost
			c.sent(2, &Message{Type: MsgAccepted, From: 2, Ballot: sbal(2, 3), Slot: 1, Count: 1}, sbal(2, 3), 0)
		}},
		{"accept persisted below durable promise", func(c *simChecker) {
			c.persistAccept(2, sbal(2, 3), []Entry{sval(1, "x")}, sbal(3, 1))
		}},
		{"promise reports an accept never persisted", func(c *simChecker) {
			c.sent(2, &Message{Type: MsgPromise, From: 2, Ballot: sbal(3, 1),
				Entries: []Entry{{Slot: 1, Ballot: sbal(2, 2), Data: []byte("x")}}}, sbal(3, 1), 0)
		}},
		{"restart forgets a promise", func(c *simChecker) {
			c.sent(2, &Message{Type: MsgPromise, From: 2, Ballot: sbal(3, 1)}, sbal(3, 1), 0)
			c.restarted(2, HardState{Promised: sbal(2, 1), First: 1})
		}},
		{"restart forgets an accept", func(c *simChecker) {
			c.persistAccept(2, sbal(1, 1), []Entry{sval(5, "x")}, Ballot{})
			c.sent(2, &Message{Type: MsgAccepted, From: 2, Ballot: sbal(1, 1), Slot: 5, Count: 1}, sbal(1, 1), 0)
			c.restarted(2, HardState{Promised: sbal(1, 1), First: 1, Chosen: 3})
		}},
		{"restarted node reports a lower promise", func(c *simChecker) {
			c.sent(2, &Message{Type: MsgPromise, From: 2, Ballot: sbal(3, 1)}, sbal(3, 1), 0)
			c.restartedStatus(2, Status{ID: 2, Promised: sbal(1, 1)})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newSimChecker(3)
			tc.run(c)
			simWantViolation(t, c, checkMonotonicity)
		})
	}
}

func TestSimStoreHardState(t *testing.T) {
	s := newSimStore()
	s.persist(&Record{Kind: RecordPromise, Ballot: sbal(1, 2)})
	s.persist(&Record{Kind: RecordAccept, Ballot: sbal(2, 1), Entries: []Entry{sval(3, "c"), sval(1, "a"), sval(2, "b")}})
	s.persist(&Record{Kind: RecordAccept, Ballot: sbal(1, 3), Entries: []Entry{sval(2, "old")}}) // lower: ignored
	if err := s.appendChosen(0, []Entry{{Slot: 1, Ballot: sbal(2, 1), Data: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	hs := s.hardState()
	if hs.Promised != sbal(2, 1) || hs.First != 1 || hs.Chosen != 1 || len(hs.Accepted) != 2 ||
		hs.Accepted[0].Slot != 2 || string(hs.Accepted[0].Data) != "b" || hs.Accepted[1].Slot != 3 {
		t.Fatalf("hard state %+v", hs)
	}
	if err := s.appendChosen(0, []Entry{{Slot: 3}}); err == nil {
		t.Fatal("a gap in the chosen log was accepted")
	}
	if got, err := s.Entries(1, 0); err != nil || len(got) != 1 {
		t.Fatalf("Entries(1) = %v, %v", got, err)
	}
	if err := s.appendChosen(10, nil); err != nil || s.FirstIndex() != 10 || s.chosen() != 9 {
		t.Fatalf("reset: first %d chosen %d err %v", s.FirstIndex(), s.chosen(), err)
	}
	if _, err := s.Entries(1, 100); err == nil {
		t.Fatal("Entries below the trim point did not fail")
	}
}

func TestSimNetFaults(t *testing.T) {
	ids := []NodeID{1, 2, 3, 4, 5}
	n := newSimNet(rand.New(rand.NewPCG(1, 2)), 5)
	n.drop = 1
	n.send(Message{Type: MsgHeartbeat, From: 1, To: 2}, 0)
	if len(n.flights) != 0 {
		t.Fatal("drop=1 delivered a message")
	}
	n.drop, n.dup = 0, 1
	n.send(Message{Type: MsgHeartbeat, From: 1, To: 2}, 0)
	if len(n.flights) != 2 {
		t.Fatalf("dup=1 made %d copies", len(n.flights))
	}
	n.dup, n.slow, n.maxDelay = 0, 1, 3
	for range 50 {
		n.send(Message{Type: MsgHeartbeat, From: 1, To: 2}, 10)
	}
	for _, f := range n.flights[2:] {
		if f.due < 10 || f.due > 13 {
			t.Fatalf("delay out of range: due %d", f.due)
		}
	}
	kinds := map[string]bool{}
	for range 60 {
		d := n.partition(ids)
		kinds[d[:14]] = true
		if n.connected(ids) {
			t.Fatalf("%s left everyone connected", d)
		}
	}
	if len(kinds) != 3 {
		t.Fatalf("partition kinds seen: %v", kinds)
	}
	n.heal()
	if !n.connected(ids) {
		t.Fatal("heal left a link cut")
	}
}
