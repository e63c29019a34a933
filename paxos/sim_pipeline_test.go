package paxos

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Pipelined driver (simParams.Depth > 1): like the real driver that hands
// each Ready to a persister goroutine, the simulator may take Ready k+1
// before it called Advance for Ready k, and Step, Tick and Propose on the
// node meanwhile. Readys in flight are handled strictly in the order they
// were taken (see the Ready doc comment): only the oldest one persists,
// sends its Messages, commits and is advanced; taking a Ready and sending
// its Eager happen at once. A crash loses every Ready in flight. In the
// fault phase a stalled disk keeps the oldest Ready in flight across a
// tick, so the node is also ticked and proposed to with Readys in flight.
// Half the pipelined runs append Committed when a Ready is taken, like the
// replicated log's driver (simPipelineFor).

// simPiped counts what only a pipelined driver does, to show a run
// exercised it.
type simPiped struct {
	Taken    int // Readys taken while an earlier one was still in flight
	Steps    int // messages stepped into a node with Readys in flight
	Ticks    int // ticks of a node with Readys in flight
	Proposes int // Propose calls on a node with Readys in flight
}

// simDriverBugs are deliberate mistakes of the simulator's driver.
type simDriverBugs struct {
	// unordered: the driver persists and sends each Ready in flight on its
	// own (as if every Ready had its own fsync), so Ready k+1's Messages
	// may leave before Ready k's Persist is durable. Each Ready still
	// sends only after its own Persist; Committed and Advance stay in
	// order. Harmless at depth 1.
	unordered bool
}

// simPipelineFor draws a run's pipeline depth, disk stall probability and
// commit mode from its seed, from a stream of its own so that depth-1 runs
// replay exactly as they did before the driver could pipeline. Two runs in
// five are unpipelined. early (half the pipelined runs) appends a Ready's
// Committed as soon as it is taken, before its Persist is durable, as the
// replicated log's driver does (log/persister.go); a Ready with ResetTo or
// Rebuilt then keeps the base order (commit after Messages) and no Ready is
// taken behind it until it is advanced.
func simPipelineFor(seed uint64) (depth int, stall float64, early bool) {
	r := rand.New(rand.NewPCG(seed, 0x64657074))
	depth = [...]int{1, 1, 2, 3, 4}[r.IntN(5)]
	stall = [...]float64{0.05, 0.2, 0.5}[r.IntN(3)]
	early = depth > 1 && r.IntN(2) == 0
	return depth, stall, early
}

// commitsEarly reports whether the driver appends rd's Committed when it
// takes rd.
func (n *simNode) commitsEarly(rd *Ready) bool {
	return n.early && rd.ResetTo == 0 && !rd.Rebuilt
}

// barred reports whether a Ready in flight keeps the driver from taking
// another: with early commits, one that commits in the base order.
func (n *simNode) barred() bool {
	if !n.early {
		return false
	}
	for _, f := range n.q {
		if !n.commitsEarly(&f.rd) {
			return true
		}
	}
	return false
}

// stallDisks decides, for this tick, which nodes' disks hold back the
// oldest Ready in flight until the next tick. Unpipelined runs never stall,
// and slow disks are a fault: they end with the fault phase, like message
// loss (a stall slows a lagging replica's catch-up, whose throughput the
// liveness bound already leaves little room for).
func (w *simWorld) stallDisks() {
	if w.depth == 1 {
		return
	}
	if !w.faulty {
		for _, n := range w.nodes {
			n.stalled = false
		}
		return
	}
	for _, n := range w.nodes {
		n.stalled = w.pipe.Float64() < w.stall
	}
}

// movable is the Ready in flight whose next stage the driver runs: the
// oldest, unless the unordered driver bug lets a younger one persist or
// send first.
func (w *simWorld) movable(n *simNode) int {
	if !w.p.Driver.unordered || len(n.q) == 1 {
		return 0
	}
	cand := []int{0}
	for i := 1; i < len(n.q); i++ {
		if s := n.q[i].stage; s == stageTaken || s == stagePersisted {
			cand = append(cand, i)
		}
	}
	return cand[w.pipe.IntN(len(cand))]
}

// simStages shows the stages of the Readys in flight, for traces.
func simStages(q []*simInflight) string {
	if len(q) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(" (stages")
	for _, f := range q {
		fmt.Fprintf(&b, " %d:%d", f.seq, f.stage)
	}
	b.WriteString(")")
	return b.String()
}
