package paxos

import (
	"errors"
	"fmt"
)

// simRetryTicks is how long a client waits for a proposed value to be
// chosen before it proposes it again (as a new, unique attempt).
const simRetryTicks = 30

// simMaxPending bounds the values one client has outstanding.
const simMaxPending = 6

// simOp is one logical client value; each attempt to propose it carries
// unique data "c<client>.<seq>.a<attempt>", so every chosen value names the
// exact Propose call it came from.
type simOp struct {
	key        string
	attempt    int
	proposedAt int // tick of the last successful Propose; -1 before
	done       bool
}

// simClient proposes to whoever it thinks leads, follows NotLeaderError
// hints and retries on back-pressure.
type simClient struct {
	id       int
	target   NodeID
	seq      int
	ops      []*simOp
	squeezed bool // the last Propose was pushed back: send one value at a time
}

// simMaxBatch bounds the values of one Propose call.
const simMaxBatch = 3

func (c *simClient) pending() int {
	n := 0
	for _, op := range c.ops {
		if !op.done {
			n++
		}
	}
	return n
}

// clientsAct lets every client start new values (fault phase only) and
// (re)propose the values that need it.
func (w *simWorld) clientsAct() {
	for _, c := range w.clients {
		c.ops = compactDone(c.ops)
		if w.faulty && w.rng.Float64() < w.prof.proposePerTick {
			for range 1 + w.rng.IntN(3) {
				if len(c.ops) >= simMaxPending {
					break
				}
				c.seq++
				c.ops = append(c.ops, &simOp{key: fmt.Sprintf("c%d.%d", c.id, c.seq), proposedAt: -1})
			}
		}
		w.propose(c)
		if w.failed() {
			return
		}
	}
}

func compactDone(ops []*simOp) []*simOp {
	out := ops[:0]
	for _, op := range ops {
		if !op.done {
			out = append(out, op)
		}
	}
	return out
}

// propose sends the client's due values to its target in one batch.
func (w *simWorld) propose(c *simClient) {
	var due []*simOp
	for _, op := range c.ops {
		if !op.done && (op.proposedAt < 0 || w.tick-op.proposedAt >= simRetryTicks) {
			due = append(due, op)
		}
	}
	if len(due) == 0 {
		return
	}
	if c.squeezed {
		due = due[:1]
	} else if len(due) > simMaxBatch {
		due = due[:simMaxBatch]
	}
	n := w.nodeByID(c.target)
	if !n.up() || !n.open() {
		c.target = w.ids[w.rng.IntN(len(w.ids))]
		return
	}
	batch := make([][]byte, len(due))
	for i, op := range due {
		batch[i] = fmt.Appendf(nil, "%s.a%d", op.key, op.attempt+1)
	}
	if n.busy() {
		w.piped.Proposes++
	}
	first, err := n.node.Propose(batch)
	var nl *NotLeaderError
	c.squeezed = errors.Is(err, ErrBackpressure)
	switch {
	case err == nil:
		for i, op := range due {
			op.attempt++
			op.proposedAt = w.tick
			w.ops[string(batch[i])] = op
			w.check.propose(batch[i], first+uint64(i))
		}
		w.tracef("client %d proposed %d values to %d at slot %d", c.id, len(batch), c.target, first)
	case errors.As(err, &nl):
		w.tracef("client %d: %d is not the leader (hint %d)", c.id, c.target, nl.Leader)
		if nl.Leader != 0 && nl.Leader != c.target {
			c.target = nl.Leader
		} else {
			c.target = w.ids[w.rng.IntN(len(w.ids))]
		}
	case errors.Is(err, ErrBackpressure):
		w.tracef("client %d: %d pushes back", c.id, c.target) // retry next tick
	default:
		w.tracef("client %d: propose to %d: %v", c.id, c.target, err)
		c.target = w.ids[w.rng.IntN(len(w.ids))]
	}
}
