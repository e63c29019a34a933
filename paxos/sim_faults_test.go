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
	if w.rng.Float64() < pr.wipePerTick {
		w.wipeSome()
	}
	if w.rng.Float64() < pr.partitionPerTick {
		w.tracef("%s", w.net.partition(w.ids))
	}
	if w.rng.Float64() < pr.healPerTick {
		w.net.heal()
		w.tracef("heal")
	}
	if w.rng.Float64() < pr.campaignPerTick {
		// Not a gated node: a virgin node campaigning while peers rebuild
		// would deny them the virgin-cluster rule (see rebuildState.gated).
		if n := w.nodes[w.rng.IntN(len(w.nodes))]; n.up() && !n.node.gated {
			w.tracef("campaign %d", n.id)
			n.node.Campaign()
		}
	}
}

// wipeSome erases the durable store of a random node (up or down) and
// crashes it; it restarts later, rebuilding. It does nothing while another
// node is still rebuilding: the virgin-cluster exit assumes that the peers
// vouching for it did not lose their own disks (see doc.go).
func (w *simWorld) wipeSome() {
	for _, n := range w.nodes {
		if n.store.rebuilding {
			return
		}
	}
	n := w.nodes[w.rng.IntN(len(w.nodes))]
	if n.up() {
		w.crash(n)
	}
	n.store = w.newStore()
	w.wipes++
	w.check.wiped(n.id)
	w.tracef("wipe %d", n.id)
}

// checkRebuildingSilent: a node that has not reported Rebuilt never votes
// (no Promise, no Accepted) and persists no accept.
func (w *simWorld) checkRebuildingSilent(n *simNode, rd *Ready) {
	if !n.rebuilding {
		return
	}
	if rd.Rebuilt {
		n.rebuilding = false
		return
	}
	for _, m := range rd.Messages {
		if m.Type == MsgPromise || m.Type == MsgAccepted {
			w.check.fail(checkRebuild, "node %d voted while rebuilding: %s", n.id, simMsgString(&m))
		}
	}
	for _, r := range rd.Persist {
		if r.Kind == RecordAccept {
			w.check.fail(checkRebuild, "node %d persisted an accept at %s while rebuilding", n.id, r.Ballot)
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
