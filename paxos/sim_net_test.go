package paxos

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// simFlight is a message on the simulated wire.
type simFlight struct {
	m   Message
	due int // first tick at which it may be delivered
}

// simNet is the seeded network: it drops, duplicates, delays and reorders
// messages, and cuts links (partitions, possibly one-way). Links are judged
// when a message arrives, so a partition also loses what was in flight.
type simNet struct {
	rng     *rand.Rand
	flights []simFlight
	blocked [][]bool // [from][to] by NodeID; index 0 unused

	drop     float64 // probability a sent message is lost
	dup      float64 // probability a sent message is delivered twice
	maxDelay int     // ticks; each copy is delayed uniformly in [0, maxDelay]
	slow     float64 // probability a copy is delayed at all (else due at once)

	sent, dropped, duplicated, delivered int
}

func newSimNet(rng *rand.Rand, nodes int) *simNet {
	n := &simNet{rng: rng, blocked: make([][]bool, nodes+1)}
	for i := range n.blocked {
		n.blocked[i] = make([]bool, nodes+1)
	}
	return n
}

// send puts m on the wire at tick now, applying loss, duplication and delay.
func (n *simNet) send(m Message, now int) {
	n.sent++
	if m.From != m.To && n.rng.Float64() < n.drop {
		n.dropped++
		return
	}
	copies := 1
	if n.rng.Float64() < n.dup {
		copies = 2
		n.duplicated++
	}
	for range copies {
		due := now
		if n.maxDelay > 0 && n.rng.Float64() < n.slow {
			due += n.rng.IntN(n.maxDelay + 1)
		}
		n.flights = append(n.flights, simFlight{m: m, due: due})
	}
}

// linked reports whether a message from a to b gets through now.
func (n *simNet) linked(a, b NodeID) bool { return a == b || !n.blocked[a][b] }

// take removes flight i (chosen by the caller among the deliverable ones).
func (n *simNet) take(i int) Message {
	m := n.flights[i].m
	last := len(n.flights) - 1
	n.flights[i] = n.flights[last]
	n.flights = n.flights[:last]
	return m
}

// heal restores every link.
func (n *simNet) heal() {
	for _, row := range n.blocked {
		clear(row)
	}
}

// cut blocks the link a->b.
func (n *simNet) cut(a, b NodeID) { n.blocked[a][b] = true }

// partition makes one random partition and describes it.
func (n *simNet) partition(ids []NodeID) string {
	n.heal()
	switch n.rng.IntN(3) {
	case 0: // random halves
		side := make(map[NodeID]bool)
		count := 0
		for _, id := range ids {
			side[id] = n.rng.IntN(2) == 0
			if side[id] {
				count++
			}
		}
		if count == 0 || count == len(ids) { // both sides non-empty
			x := ids[n.rng.IntN(len(ids))]
			side[x] = !side[x]
		}
		var left []NodeID
		for _, a := range ids {
			if side[a] {
				left = append(left, a)
			}
			for _, b := range ids {
				if side[a] != side[b] {
					n.cut(a, b)
				}
			}
		}
		return fmt.Sprintf("partition halves %v | rest", left)
	case 1: // isolate one
		x := ids[n.rng.IntN(len(ids))]
		n.isolate(x, ids)
		return fmt.Sprintf("partition isolate %d", x)
	default: // asymmetric: x hears nobody, or nobody hears x
		x := ids[n.rng.IntN(len(ids))]
		in := n.rng.IntN(2) == 0
		for _, b := range ids {
			if b == x {
				continue
			}
			if in {
				n.cut(b, x)
			} else {
				n.cut(x, b)
			}
		}
		if in {
			return fmt.Sprintf("partition one-way: %d hears nobody", x)
		}
		return fmt.Sprintf("partition one-way: nobody hears %d", x)
	}
}

// isolate cuts x from every other node, both ways.
func (n *simNet) isolate(x NodeID, ids []NodeID) {
	for _, b := range ids {
		if b != x {
			n.cut(x, b)
			n.cut(b, x)
		}
	}
}

// connected reports whether every pair in ids can talk both ways.
func (n *simNet) connected(ids []NodeID) bool {
	for _, a := range ids {
		for _, b := range ids {
			if !n.linked(a, b) {
				return false
			}
		}
	}
	return true
}

// dropTo discards every flight addressed to id (its connections died).
func (n *simNet) dropTo(id NodeID) {
	n.flights = slices.DeleteFunc(n.flights, func(f simFlight) bool { return f.m.To == id })
}
