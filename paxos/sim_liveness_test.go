package paxos

import (
	"fmt"
	"slices"
)

// stopFaults ends the fault phase: the network stops losing messages, all
// links heal and crashed nodes restart, except for a minority that stays
// crashed or isolated.
func (w *simWorld) stopFaults() []NodeID {
	w.faulty = false
	w.net.drop, w.net.dup, w.net.maxDelay = 0, 0, min(w.net.maxDelay, 1)
	w.net.heal()
	for _, n := range w.nodes {
		if !n.up() {
			w.restart(n)
		}
	}
	f := (len(w.ids) - 1) / 2
	out := w.rng.IntN(f + 1)
	// A rebuilding node needs a leader (a majority of voters) and n-q+1
	// voters to vouch for it: with rebuilding nodes about, only voters
	// beyond a majority may stay out.
	voters, q := 0, len(w.ids)/2+1
	for _, n := range w.nodes {
		if !n.store.rebuilding {
			voters++
		}
	}
	if voters < len(w.ids) {
		out = max(0, min(out, voters-q))
	}
	healthy := slices.Clone(w.ids)
	for range out {
		x := healthy[w.rng.IntN(len(healthy))]
		healthy = slices.DeleteFunc(healthy, func(id NodeID) bool { return id == x })
		if w.rng.IntN(2) == 0 {
			w.crash(w.nodeByID(x))
		} else {
			w.net.isolate(x, w.ids)
		}
		w.tracef("liveness phase: %d stays out", x)
	}
	return healthy
}

// liveness runs until every pending value is chosen and every healthy
// replica holds the whole chosen log, or fails after LivenessBound ticks.
func (w *simWorld) liveness() int {
	healthy := w.stopFaults()
	start := w.tick
	for !w.failed() {
		w.clientsAct()
		w.drain()
		if w.failed() {
			break
		}
		if w.settled(healthy) {
			return w.tick - start
		}
		if w.tick-start >= w.p.LivenessBound {
			w.check.fail(checkLiveness, "after %d ticks without faults (healthy %v): %s%s",
				w.tick-start, healthy, w.diagnoseHole(healthy), w.describe())
			break
		}
		w.tickAll()
	}
	return w.tick - start
}

// settled: no client value pending, no healthy replica still rebuilding,
// and all healthy replicas agree on the end of the chosen log.
func (w *simWorld) settled(healthy []NodeID) bool {
	for _, id := range healthy {
		if w.nodeByID(id).store.rebuilding {
			return false
		}
	}
	for _, c := range w.clients {
		if c.pending() > 0 {
			return false
		}
	}
	var end uint64
	for i, id := range healthy {
		c := w.nodeByID(id).store.chosen()
		if i == 0 {
			end = c
		} else if c != end {
			return false
		}
	}
	return true
}

func (w *simWorld) describe() string {
	s := ""
	for _, c := range w.clients {
		for _, op := range c.ops {
			if !op.done {
				s += fmt.Sprintf("pending %s (attempt %d, proposed at tick %d); ", op.key, op.attempt, op.proposedAt)
			}
		}
	}
	for _, n := range w.nodes {
		if !n.up() {
			s += fmt.Sprintf("node %d down; ", n.id)
			continue
		}
		st := n.node.Status()
		s += fmt.Sprintf("node %d %s leader=%d ballot=%s commit=%d chosen=%d inflight=%d rebuilding=%v; ",
			n.id, st.SoftState.Role, st.SoftState.Leader, st.SoftState.Ballot, st.Commit, n.store.chosen(), st.Inflight,
			st.Rebuilding)
	}
	return s
}

// diagnoseHole names the first slot the healthy replicas lack when the
// current leader never had it accepted at its ballot although it had
// higher slots accepted: a hole left unfilled after phase 1.
func (w *simWorld) diagnoseHole(healthy []NodeID) string {
	low := uint64(0)
	var lead Ballot
	var leader NodeID
	for _, id := range healthy {
		n := w.nodeByID(id)
		if c := n.store.chosen() + 1; low == 0 || c < low {
			low = c
		}
		if st := n.node.Status(); st.SoftState.Role == Leader {
			lead, leader = st.SoftState.Ballot, id
		}
	}
	if leader == 0 || w.check.votes[slotBallot{low, lead}] != nil {
		return ""
	}
	above := uint64(0)
	for k := range w.check.votes {
		if k.ballot == lead && k.slot > low && (above == 0 || k.slot < above) {
			above = k.slot
		}
	}
	if above == 0 {
		return ""
	}
	return fmt.Sprintf("hole: leader %d never had slot %d accepted at its ballot %s, but had slot %d; ",
		leader, low, lead, above)
}
