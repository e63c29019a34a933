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
	// Depth bounds the Readys a node's driver has in flight (taken, not
	// yet advanced); 0 draws it from Seed (simPipelineFor). Depth 1 is the
	// unpipelined driver.
	Depth int
	// Driver plants bugs in the simulator's driver rather than the node.
	Driver simDriverBugs
	Mute   []string // checkers that do not report (to show the others catch a bug too)
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

// simInflight is one Ready the driver took and has not yet advanced.
type simInflight struct {
	rd    Ready
	stage int
	seq   int // the node's Ready number in this incarnation, from 1
}

// simNode is one replica: its durable store survives crashes, the rest not.
type simNode struct {
	id          NodeID
	store       *simStore
	node        *Node          // nil while crashed
	q           []*simInflight // Readys in flight, oldest first; at most depth
	depth       int            // pipeline depth of the run
	early       bool           // Committed is appended when a Ready is taken
	taken       int            // Readys taken in this incarnation
	incarnation uint64
	// stalled: the disk holds back the head of q for the rest of this tick
	// (depth > 1 only), so the node is stepped, ticked and proposed to with
	// Readys in flight.
	stalled bool
	// rebuilding: the node runs with Config.Rebuilding and has not yet
	// handed out a Ready that says Rebuilt; it must not vote.
	rebuilding bool
}

func (n *simNode) up() bool   { return n.node != nil }
func (n *simNode) busy() bool { return len(n.q) > 0 }

// open reports whether the driver may Step, Tick or Propose on the node.
// Unpipelined (depth 1) it may not while a Ready is in flight, like a
// single-goroutine driver; pipelined it always may.
func (n *simNode) open() bool { return n.depth > 1 || len(n.q) == 0 }

// canTake reports whether the driver may take another Ready now.
func (n *simNode) canTake() bool { return len(n.q) < n.depth && !n.barred() && n.node.HasReady() }

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
	depth   int  // pipeline depth (simParams.Depth, resolved)
	early   bool // Committed is appended when a Ready is taken (depth > 1)
	// stall is the probability that a node's disk holds back its oldest
	// Ready for a tick (depth > 1 only); pipe draws stalls and, with
	// Driver.unordered, which in-flight Ready moves.
	stall   float64
	pipe    *rand.Rand
	wipes   int // stores wiped
	rebuilt int // Readies that said Rebuilt
	piped   simPiped
}

func newSimWorld(p simParams) *simWorld {
	rng := rand.New(rand.NewPCG(p.Seed, 0x5eed5eed))
	w := &simWorld{p: p, rng: rng, check: newSimChecker(p.Nodes), ops: make(map[string]*simOp), faulty: true}
	w.prof = drawProfile(rng)
	w.depth, w.stall, w.early = simPipelineFor(p.Seed)
	if p.Depth != 0 {
		w.depth = p.Depth
	}
	w.early = w.early && w.depth > 1
	w.pipe = rand.New(rand.NewPCG(p.Seed, 0x70697065))
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
		n := &simNode{id: id, store: w.newStore(), depth: w.depth, early: w.early}
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
	n.node, n.q, n.taken, n.stalled = node, nil, 0, false
	n.rebuilding = node.Status().Rebuilding
	w.check.restartedStatus(n.id, node.Status())
	w.tracef("restart %d promised=%s chosen=%d accepted=%d rebuilding=%v", n.id, hs.Promised, hs.Chosen,
		len(hs.Accepted), n.rebuilding)
}

// crash loses everything not persisted, including every Ready in flight.
func (w *simWorld) crash(n *simNode) {
	if w.depth == 1 {
		stage := stageIdle
		if len(n.q) > 0 {
			stage = n.q[0].stage
		}
		w.tracef("crash %d at stage %d", n.id, stage)
	} else {
		w.tracef("crash %d with %d Readys in flight%s", n.id, len(n.q), simStages(n.q))
	}
	n.node, n.q, n.stalled = nil, nil, false
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

// take hands the driver a new Ready and sends its Eager messages at once.
func (w *simWorld) take(n *simNode) {
	n.taken++
	f := &simInflight{rd: n.node.Ready(), stage: stageTaken, seq: n.taken}
	if len(n.q) > 0 {
		w.piped.Taken++
	}
	n.q = append(n.q, f)
	if w.depth > 1 {
		w.tracef("take %d ready %d (%d in flight)", n.id, f.seq, len(n.q))
	}
	w.checkRebuildingSilent(n, &f.rd)
	for _, m := range f.rd.Eager {
		w.send(n, m)
	}
	w.maybeCrashAfterPhase(n, f.rd.Eager, MsgPrepare, MsgAccept)
	if n.up() && n.commitsEarly(&f.rd) {
		w.commit(n, &f.rd)
	}
}

// advanceDriver runs the next stage of the Ready contract for n's i-th
// Ready in flight. The driver obeys FIFO: only the oldest (i == 0) moves,
// unless Driver.unordered lets younger ones persist and send on their own.
func (w *simWorld) advanceDriver(n *simNode, i int) {
	f := n.q[i]
	switch f.stage {
	case stageTaken:
		if w.depth > 1 {
			w.tracef("persist %d ready %d", n.id, f.seq)
		}
		for j := range f.rd.Persist {
			rec := &f.rd.Persist[j]
			if rec.Kind == RecordAccept {
				w.check.persistAccept(n.id, rec.Ballot, rec.Entries, n.store.promised)
			}
			n.store.persist(rec)
		}
		f.stage = stagePersisted
	case stagePersisted:
		for _, m := range f.rd.Messages {
			w.send(n, m)
		}
		f.stage = stageSent
		w.maybeCrashAfterPhase(n, f.rd.Messages, MsgPromise, MsgPromise)
	case stageSent:
		if i != 0 {
			w.check.fail(checkContract, "driver: node %d would commit Ready %d before Ready %d", n.id, f.seq, n.q[0].seq)
			return
		}
		if !n.commitsEarly(&f.rd) {
			w.commit(n, &f.rd)
		}
		f.stage = stageCommitted
	case stageCommitted:
		n.node.Advance(f.rd)
		n.q[0] = nil
		n.q = n.q[1:]
		if len(n.q) == 0 {
			n.q = nil
		}
	}
}

func (w *simWorld) commit(n *simNode, rd *Ready) {
	for _, e := range rd.Committed {
		w.check.committed(n.id, e)
		if op := w.ops[string(e.Data)]; op != nil && !e.Noop {
			op.done = true
		}
	}
	if err := n.store.appendChosen(rd.ResetTo, rd.Committed); err != nil {
		w.check.fail(checkContract, "node %d: %v", n.id, err)
	}
	if rd.Rebuilt {
		// The Ready is persisted and its chosen entries are in the (here
		// always durable) chosen log: now the flag may go (MarkRebuilt).
		n.store.rebuilding = false
		w.rebuilt++
		w.tracef("rebuilt %d at chosen %d", n.id, n.store.chosen())
	}
	if len(rd.Committed) > 0 {
		w.tracef("commit %d slots %d..%d", n.id, rd.Committed[0].Slot, rd.Committed[len(rd.Committed)-1].Slot)
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
	if to.busy() {
		w.piped.Steps++
	}
	if w.p.Trace != nil {
		w.tracef("deliver %s", simMsgString(&m))
	}
	if err := to.node.Step(m); err != nil {
		w.tracef("step %d: %v", m.To, err)
	}
}

// workItem is one schedulable step: taking a Ready (msg == itemTake), a
// driver stage of the i-th Ready in flight (msg == itemStage), or a
// delivery (msg >= 0, an index into the network's flights).
type workItem struct {
	node *simNode
	msg  int
	i    int
}

const (
	itemTake  = -1
	itemStage = -2
)

// drain runs driver stages and deliveries in random order until nothing is
// left for this tick, crashing nodes between steps in the fault phase.
func (w *simWorld) drain() {
	items := make([]workItem, 0, 16)
	w.stallDisks()
	for range 4000 {
		items = items[:0]
		for _, n := range w.nodes {
			if !n.up() {
				continue
			}
			if n.canTake() {
				items = append(items, workItem{node: n, msg: itemTake})
			}
			if n.busy() && !n.stalled {
				items = append(items, workItem{node: n, msg: itemStage, i: w.movable(n)})
			}
		}
		for i, f := range w.net.flights {
			if f.due <= w.tick {
				if to := w.nodeByID(f.m.To); !to.up() || to.open() {
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
		switch it.msg {
		case itemTake:
			w.take(it.node)
		case itemStage:
			w.advanceDriver(it.node, it.i)
		default:
			w.deliver(w.net.take(it.msg))
		}
	}
	// Runaway: finish every Ready in flight so nodes can tick.
	for _, n := range w.nodes {
		for n.up() && n.busy() && !w.failed() {
			w.advanceDriver(n, 0)
		}
	}
}

// tickAll advances logical time on every up node, in random order.
func (w *simWorld) tickAll() {
	order := w.rng.Perm(len(w.nodes))
	for _, i := range order {
		if n := w.nodes[i]; n.up() {
			if n.busy() {
				w.piped.Ticks++
			}
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
	Wipes         int  // stores wiped in the fault phase
	Rebuilt       int  // rebuilds completed (virgin starts included)
	Depth         int  // pipeline depth the run used
	Early         bool // Committed appended when a Ready is taken
	Piped         simPiped
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
	res.Rebuilt, res.Depth, res.Early, res.Piped = w.rebuilt, w.depth, w.early, w.piped
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
