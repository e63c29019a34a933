package paxos

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// simParams fixes one simulator run; everything else follows from Seed.
type simParams struct {
	Seed          uint64
	Nodes         int
	FaultTicks    int // ticks of faults before the liveness phase
	LivenessBound int // ticks the liveness phase may take at most
	Clients       int
	Bugs          plantedBugs
	Mute          []string // checkers that do not report (to show the others catch a bug too)
	// Tune, when set, adjusts the fault profile drawn from the seed.
	Tune func(*simProfile)
	// Trace, when set, receives every event of the run.
	Trace func(string)
}

// simProfile is the fault mix of one run, drawn from its seed so that seeds
// range from calm to stormy.
type simProfile struct {
	drop, dup, slow float64
	maxDelay        int
	crashPerTick    float64 // crash a node at the start of a tick
	crashPerItem    float64 // crash a node between two driver/network steps
	// crashAfterPhase crashes a node right after it sent phase messages
	// (Prepare or Accept among Eager, Promise among Messages), the moment a
	// lost record does most harm.
	crashAfterPhase float64
	// keepInflight leaves messages addressed to a crashed node on the wire
	// (a datagram network), so stale messages reach its next incarnation.
	keepInflight   bool
	restartPerTick float64
	// wipePerTick erases a node's durable store (a lost disk); it restarts
	// with Config.Rebuilding. Only one node is without its disk at a time.
	wipePerTick      float64
	partitionPerTick float64
	healPerTick      float64
	campaignPerTick  float64 // a random node calls Campaign (dueling proposers)
	proposePerTick   float64 // a client starts new values
	maxInflight      int     // Config.MaxInflightSlots
	maxMsgBytes      int     // Config.MaxMsgBytes
}

func drawProfile(rng *rand.Rand) simProfile {
	pick := func(xs ...float64) float64 { return xs[rng.IntN(len(xs))] }
	return simProfile{
		drop:             pick(0, 0.02, 0.1, 0.25),
		dup:              pick(0, 0.05, 0.2),
		slow:             pick(0.1, 0.3, 0.6),
		maxDelay:         int(pick(0, 2, 5)),
		crashPerTick:     pick(0, 0.01, 0.04),
		crashPerItem:     pick(0, 0.002, 0.01),
		crashAfterPhase:  pick(0, 0, 0.05),
		keepInflight:     rng.IntN(2) == 0,
		restartPerTick:   pick(0.1, 0.3),
		wipePerTick:      pick(0, 0, 0.002, 0.01),
		partitionPerTick: pick(0, 0.02, 0.06),
		healPerTick:      pick(0.05, 0.15),
		campaignPerTick:  pick(0, 0.01, 0.05),
		proposePerTick:   pick(0.3, 0.7),
		maxInflight:      int(pick(4, 16, 64)),
		maxMsgBytes:      int(pick(100, 400, 1<<20)),
	}
}

// Driver stages of one Ready; a crash can fall between any two.
const (
	stageIdle      = iota
	stageTaken     // Ready taken, Eager sent
	stagePersisted // Persist durable
	stageSent      // Messages sent
	stageCommitted // Committed appended to the chosen log
)

// simNode is one replica: its durable store survives crashes, the rest not.
type simNode struct {
	id          NodeID
	store       *simStore
	node        *Node // nil while crashed
	rd          Ready
	stage       int
	incarnation uint64
	// rebuilding: the node runs with Config.Rebuilding and has not yet
	// handed out a Ready that says Rebuilt; it must not vote.
	rebuilding bool
}

func (n *simNode) up() bool   { return n.node != nil }
func (n *simNode) busy() bool { return n.stage != stageIdle }

// simWorld is one seeded run.
type simWorld struct {
	p       simParams
	prof    simProfile
	rng     *rand.Rand
	ids     []NodeID
	nodes   []*simNode // nodes[id-1]
	net     *simNet
	check   *simChecker
	clients []*simClient
	ops     map[string]*simOp // attempt data -> op
	tick    int
	step    int
	faulty  bool // fault phase
	wipes   int  // stores wiped
	rebuilt int  // Readies that said Rebuilt
}

func newSimWorld(p simParams) *simWorld {
	rng := rand.New(rand.NewPCG(p.Seed, 0x5eed5eed))
	w := &simWorld{p: p, rng: rng, check: newSimChecker(p.Nodes), ops: make(map[string]*simOp), faulty: true}
	w.prof = drawProfile(rng)
	if p.Tune != nil {
		p.Tune(&w.prof)
	}
	w.net = newSimNet(rand.New(rand.NewPCG(p.Seed, 0x6e6574)), p.Nodes)
	w.net.drop, w.net.dup, w.net.slow, w.net.maxDelay = w.prof.drop, w.prof.dup, w.prof.slow, w.prof.maxDelay
	w.check.mute = make(map[string]bool)
	for _, c := range p.Mute {
		w.check.mute[c] = true
	}
	w.check.now = func() (int, int) { return w.tick, w.step }
	for i := 1; i <= p.Nodes; i++ {
		w.ids = append(w.ids, NodeID(i))
	}
	for _, id := range w.ids {
		n := &simNode{id: id, store: w.newStore()}
		w.nodes = append(w.nodes, n)
		w.restart(n)
	}
	for i := range p.Clients {
		w.clients = append(w.clients, &simClient{id: i + 1, target: w.ids[rng.IntN(len(w.ids))]})
	}
	return w
}

// newStore is an empty data directory. It starts rebuilding, unless the
// planted bug noRebuild makes the driver forget that it lost its state.
func (w *simWorld) newStore() *simStore {
	s := newSimStore()
	s.rebuilding = !w.p.Bugs.noRebuild
	return s
}

func (w *simWorld) tracef(format string, args ...any) {
	if w.p.Trace != nil {
		w.p.Trace(fmt.Sprintf("t=%d s=%d ", w.tick, w.step) + fmt.Sprintf(format, args...))
	}
}

func (w *simWorld) failed() bool { return w.check.err != nil }

func (w *simWorld) nodeByID(id NodeID) *simNode { return w.nodes[id-1] }

func (w *simWorld) config(n *simNode) Config {
	return Config{
		ID:               n.id,
		Peers:            w.ids,
		HeartbeatTicks:   2,
		ElectionTicks:    10,
		MaxInflightSlots: w.prof.maxInflight,
		MaxMsgBytes:      w.prof.maxMsgBytes,
		Rand:             rand.New(rand.NewPCG(w.p.Seed, uint64(n.id)<<32|n.incarnation)),
		Log:              n.store,
		Rebuilding:       n.store.rebuilding && !w.p.Bugs.noRebuild,
		bugs:             w.p.Bugs,
	}
}

// restart builds the node from exactly what it persisted.
func (w *simWorld) restart(n *simNode) {
	n.incarnation++
	hs := n.store.hardState()
	w.check.restarted(n.id, hs)
	node, err := NewNode(w.config(n), hs)
	if err != nil {
		w.check.fail(checkRestart, "node %d: NewNode(%+v): %v", n.id, hs, err)
		return
	}
	n.node, n.stage, n.rd = node, stageIdle, Ready{}
	n.rebuilding = node.Status().Rebuilding
	w.check.restartedStatus(n.id, node.Status())
	w.tracef("restart %d promised=%s chosen=%d accepted=%d rebuilding=%v", n.id, hs.Promised, hs.Chosen,
		len(hs.Accepted), n.rebuilding)
}

// crash loses everything not persisted, including a Ready in flight.
func (w *simWorld) crash(n *simNode) {
	w.tracef("crash %d at stage %d", n.id, n.stage)
	n.node, n.stage, n.rd = nil, stageIdle, Ready{}
	if !w.prof.keepInflight {
		w.net.dropTo(n.id)
	}
}

// send puts a message on the wire after checking it against what the
// sender has made durable.
func (w *simWorld) send(n *simNode, m Message) {
	if m.From != n.id || m.To == 0 || int(m.To) > len(w.nodes) || m.To == n.id {
		w.check.fail(checkContract, "node %d sent a misaddressed message: %s", n.id, simMsgString(&m))
		return
	}
	m.Entries = slices.Clone(m.Entries)
	w.check.sent(n.id, &m, n.store.promised, n.store.chosen())
	if w.p.Trace != nil {
		w.tracef("send %s", simMsgString(&m))
	}
	w.net.send(m, w.tick)
}

// advanceDriver runs the next stage of n's Ready contract.
func (w *simWorld) advanceDriver(n *simNode) {
	switch n.stage {
	case stageIdle:
		n.rd = n.node.Ready()
		n.stage = stageTaken
		w.checkRebuildingSilent(n)
		for _, m := range n.rd.Eager {
			w.send(n, m)
		}
		w.maybeCrashAfterPhase(n, n.rd.Eager, MsgPrepare, MsgAccept)
	case stageTaken:
		for i := range n.rd.Persist {
			rec := &n.rd.Persist[i]
			if rec.Kind == RecordAccept {
				w.check.persistAccept(n.id, rec.Ballot, rec.Entries, n.store.promised)
			}
			n.store.persist(rec)
		}
		n.stage = stagePersisted
	case stagePersisted:
		for _, m := range n.rd.Messages {
			w.send(n, m)
		}
		n.stage = stageSent
		w.maybeCrashAfterPhase(n, n.rd.Messages, MsgPromise, MsgPromise)
	case stageSent:
		w.commit(n)
		n.stage = stageCommitted
	case stageCommitted:
		n.node.Advance(n.rd)
		n.rd, n.stage = Ready{}, stageIdle
	}
}

func (w *simWorld) commit(n *simNode) {
	for _, e := range n.rd.Committed {
		w.check.committed(n.id, e)
		if op := w.ops[string(e.Data)]; op != nil && !e.Noop {
			op.done = true
		}
	}
	if err := n.store.appendChosen(n.rd.ResetTo, n.rd.Committed); err != nil {
		w.check.fail(checkContract, "node %d: %v", n.id, err)
	}
	if n.rd.Rebuilt {
		// The Ready is persisted and its chosen entries are in the (here
		// always durable) chosen log: now the flag may go (MarkRebuilt).
		n.store.rebuilding = false
		w.rebuilt++
		w.tracef("rebuilt %d at chosen %d", n.id, n.store.chosen())
	}
	if len(n.rd.Committed) > 0 {
		w.tracef("commit %d slots %d..%d", n.id, n.rd.Committed[0].Slot, n.rd.Committed[len(n.rd.Committed)-1].Slot)
	}
}

// deliver hands a message to its destination if it is up and linked.
func (w *simWorld) deliver(m Message) {
	to := w.nodeByID(m.To)
	if !to.up() || !w.net.linked(m.From, m.To) {
		w.net.dropped++
		return
	}
	w.net.delivered++
	if w.p.Trace != nil {
		w.tracef("deliver %s", simMsgString(&m))
	}
	if err := to.node.Step(m); err != nil {
		w.tracef("step %d: %v", m.To, err)
	}
}

// workItem is one schedulable step: a driver stage (msg < 0) or a delivery.
type workItem struct {
	node *simNode
	msg  int
}

// drain runs driver stages and deliveries in random order until nothing is
// left for this tick, crashing nodes between steps in the fault phase.
func (w *simWorld) drain() {
	items := make([]workItem, 0, 16)
	for range 4000 {
		items = items[:0]
		for _, n := range w.nodes {
			if n.up() && (n.busy() || n.node.HasReady()) {
				items = append(items, workItem{node: n, msg: -1})
			}
		}
		for i, f := range w.net.flights {
			if f.due <= w.tick {
				if to := w.nodeByID(f.m.To); !to.up() || !to.busy() {
					items = append(items, workItem{msg: i})
				}
			}
		}
		if len(items) == 0 || w.failed() {
			return
		}
		w.step++
		if w.faulty && w.rng.Float64() < w.prof.crashPerItem {
			w.crashSome(true)
			continue
		}
		it := items[w.rng.IntN(len(items))]
		if it.msg < 0 {
			w.advanceDriver(it.node)
		} else {
			w.deliver(w.net.take(it.msg))
		}
	}
	// Runaway: finish every Ready in flight so nodes can tick.
	for _, n := range w.nodes {
		for n.up() && n.busy() {
			w.advanceDriver(n)
		}
	}
}

// tickAll advances logical time on every up node, in random order.
func (w *simWorld) tickAll() {
	order := w.rng.Perm(len(w.nodes))
	for _, i := range order {
		if n := w.nodes[i]; n.up() {
			n.node.Tick()
		}
	}
	w.tick++
}

// simResult summarises a run.
type simResult struct {
	Violation     *simViolation
	Ticks         int
	Steps         int
	LivenessTicks int // ticks the liveness phase needed
	Chosen        int // slots chosen (canonical log length)
	Proposed      int
	Wipes         int // stores wiped in the fault phase
	Rebuilt       int // rebuilds completed (virgin starts included)
}

// runSim runs one seed: a fault phase, then a liveness phase.
func runSim(p simParams) simResult {
	w := newSimWorld(p)
	for w.tick < p.FaultTicks && !w.failed() {
		w.faults()
		w.clientsAct()
		w.drain()
		w.tickAll()
	}
	res := simResult{}
	if !w.failed() {
		res.LivenessTicks = w.liveness()
	}
	res.Violation, res.Ticks, res.Steps = w.check.err, w.tick, w.step
	res.Chosen, res.Proposed, res.Wipes = len(w.check.canonical), len(w.check.proposed), w.wipes
	res.Rebuilt = w.rebuilt
	return res
}

// simMsgString shows every field of m that matters, for traces.
func simMsgString(m *Message) string {
	s := fmt.Sprintf("%s %d->%d b=%s", m.Type, m.From, m.To, m.Ballot)
	if m.Slot != 0 || m.Count != 0 {
		s += fmt.Sprintf(" slot=%d count=%d", m.Slot, m.Count)
	}
	if m.Commit != 0 || !m.CommitBallot.IsZero() {
		s += fmt.Sprintf(" commit=%d@%s", m.Commit, m.CommitBallot)
	}
	if !m.Hint.IsZero() {
		s += fmt.Sprintf(" hint=%s", m.Hint)
	}
	for i, e := range m.Entries {
		if i == 4 {
			s += fmt.Sprintf(" ...+%d", len(m.Entries)-4)
			break
		}
		if e.Noop {
			s += fmt.Sprintf(" [%d@%s noop]", e.Slot, e.Ballot)
		} else {
			s += fmt.Sprintf(" [%d@%s %s]", e.Slot, e.Ballot, e.Data)
		}
	}
	return s
}
