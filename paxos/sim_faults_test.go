package paxos

// crashSome crashes a random up node, preferring one mid-Ready.
func (w *simWorld) crashSome(preferBusy bool) {
	var up, busy []*simNode
	for _, n := range w.nodes {
		if n.up() {
			up = append(up, n)
			if n.busy() {
				busy = append(busy, n)
			}
		}
	}
	switch {
	case preferBusy && len(busy) > 0:
		w.crash(busy[w.rng.IntN(len(busy))])
	case len(up) > 0:
		w.crash(up[w.rng.IntN(len(up))])
	}
}

// faults injects this tick's crashes, restarts, partitions and heals.
func (w *simWorld) faults() {
	pr := &w.prof
	if w.rng.Float64() < pr.crashPerTick {
		w.crashSome(false)
	}
	if w.rng.Float64() < pr.restartPerTick {
		var down []*simNode
		for _, n := range w.nodes {
			if !n.up() {
				down = append(down, n)
			}
		}
		if len(down) > 0 {
			w.restart(down[w.rng.IntN(len(down))])
		}
	}
	if w.rng.Float64() < pr.partitionPerTick {
		w.tracef("%s", w.net.partition(w.ids))
	}
	if w.rng.Float64() < pr.healPerTick {
		w.net.heal()
		w.tracef("heal")
	}
	if w.rng.Float64() < pr.campaignPerTick {
		if n := w.nodes[w.rng.IntN(len(w.nodes))]; n.up() {
			w.tracef("campaign %d", n.id)
			n.node.Campaign()
		}
	}
}

func (w *simWorld) maybeCrashAfterPhase(n *simNode, msgs []Message, t1, t2 MsgType) {
	if !w.faulty || w.prof.crashAfterPhase == 0 {
		return
	}
	for i := range msgs {
		if msgs[i].Type == t1 || msgs[i].Type == t2 {
			if w.rng.Float64() < w.prof.crashAfterPhase {
				w.crash(n)
			}
			return
		}
	}
}
