package chaos

import (
	"fmt"
	"sort"
)

// Violation is one broken property found by a checker.
type Violation struct {
	Check  string // "log" or "linearizability"
	Kind   string // short stable name: lost-ack, duplicate, divergence, ...
	Detail string
}

func (v Violation) String() string { return fmt.Sprintf("%s: %s: %s", v.Check, v.Kind, v.Detail) }

// logChecker holds the indexes built in one pass over the record.
type logChecker struct {
	r     *Record
	out   []Violation
	known map[string]bool   // every value an append of the history carried
	acked map[string]uint64 // value -> acknowledged index
	ref   []Entry           // the reference log (longest replica log)
	refAt map[uint64]int    // index -> position in ref
}

// CheckLog is the linear-time log checker. It reports:
//   - lost-ack / wrong-index: an acknowledged append is not at its
//     acknowledged index on some replica;
//   - duplicate: a value delivered twice by a replica or a consumer;
//   - foreign: a delivered value no append of the history carried;
//   - order: indexes not strictly increasing in a replica log or a tail;
//   - divergence: two replicas hold different values at one index, or one
//     lacks an index the other delivered below its own last;
//   - short-log: a replica did not deliver up to the final fence's tail;
//   - gap / tail-mismatch: a consumer missed an entry between its first and
//     last, or saw a value another replica does not hold at that index.
//
// Time and memory are linear in the record's size (hash maps, one pass per
// log).
func CheckLog(r *Record) []Violation {
	c := &logChecker{r: r, known: map[string]bool{}, acked: map[string]uint64{}, refAt: map[uint64]int{}}
	c.indexHistory()
	ids := replicaIDs(r.Replicas)
	for _, id := range ids {
		c.checkSequence(fmt.Sprintf("replica %d", id), r.Replicas[id])
		if len(r.Replicas[id]) > len(c.ref) {
			c.ref = r.Replicas[id]
		}
	}
	for i, e := range c.ref {
		c.refAt[e.Index] = i
	}
	for _, id := range ids {
		c.checkAgreement(id, r.Replicas[id])
	}
	c.checkAcks(ids)
	for _, o := range r.Consumers {
		name := fmt.Sprintf("consumer %s (replica %d)", o.Name, o.Replica)
		c.checkSequence(name, o.Entries)
		c.checkConsumer(name, o.Entries)
	}
	return c.out
}

func (c *logChecker) add(kind, format string, args ...any) {
	c.out = append(c.out, Violation{Check: "log", Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

func replicaIDs(m map[int][]Entry) []int {
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func (c *logChecker) indexHistory() {
	for _, op := range c.r.Ops {
		if op.Kind != OpAppend {
			continue
		}
		if c.known[op.Value] {
			c.add("harness", "value %q appended twice by the workload", op.Value)
		}
		c.known[op.Value] = true
		if !op.Failed {
			c.acked[op.Value] = op.Index
		}
	}
}

// checkSequence: strictly increasing indexes, each value once, every value
// known.
func (c *logChecker) checkSequence(name string, es []Entry) {
	seen := make(map[string]uint64, len(es))
	for i, e := range es {
		if i > 0 && e.Index <= es[i-1].Index {
			c.add("order", "%s: index %d after %d", name, e.Index, es[i-1].Index)
		}
		if prev, dup := seen[e.Value]; dup {
			c.add("duplicate", "%s: value %q delivered at %d and %d", name, e.Value, prev, e.Index)
		}
		seen[e.Value] = e.Index
		if !c.known[e.Value] {
			c.add("foreign", "%s: value %q at %d was never appended", name, e.Value, e.Index)
		}
	}
}

// checkAgreement compares one replica's log with the reference.
func (c *logChecker) checkAgreement(id int, es []Entry) {
	if len(c.r.Fences) > 0 {
		want := c.r.Fences[len(c.r.Fences)-1].Tail
		if want > 0 && (len(es) == 0 || es[len(es)-1].Index < want) {
			last := uint64(0)
			if len(es) > 0 {
				last = es[len(es)-1].Index
			}
			c.add("short-log", "replica %d delivered up to %d, final tail is %d", id, last, want)
		}
	}
	for _, e := range es {
		p, ok := c.refAt[e.Index]
		if !ok {
			c.add("divergence", "replica %d delivered %q at %d; the reference log has nothing there", id, e.Value, e.Index)
			continue
		}
		if c.ref[p].Value != e.Value {
			c.add("divergence", "replica %d holds %q at %d, another replica %q", id, e.Value, e.Index, c.ref[p].Value)
		}
	}
	if len(es) == 0 {
		return
	}
	have := make(map[uint64]bool, len(es))
	for _, e := range es {
		have[e.Index] = true
	}
	last := es[len(es)-1].Index
	for _, e := range c.ref {
		if e.Index > last {
			break
		}
		if !have[e.Index] {
			c.add("divergence", "replica %d lacks index %d (%q) below its last index %d", id, e.Index, e.Value, last)
		}
	}
}

// checkAcks: every acknowledged append is at its index on every replica.
func (c *logChecker) checkAcks(ids []int) {
	for _, id := range ids {
		where := make(map[string]uint64, len(c.r.Replicas[id]))
		at := make(map[uint64]string, len(c.r.Replicas[id]))
		for _, e := range c.r.Replicas[id] {
			where[e.Value] = e.Index
			at[e.Index] = e.Value
		}
		for v, idx := range c.acked {
			if at[idx] == v {
				continue
			}
			if got, ok := where[v]; ok {
				c.add("wrong-index", "replica %d: %q acknowledged at %d is at %d", id, v, idx, got)
			} else {
				c.add("lost-ack", "replica %d: %q acknowledged at %d is missing (held there: %q)", id, v, idx, at[idx])
			}
		}
	}
}

// checkConsumer: every entry matches the reference and no reference entry
// between the consumer's first and last is missing.
func (c *logChecker) checkConsumer(name string, es []Entry) {
	for i, e := range es {
		p, ok := c.refAt[e.Index]
		if !ok {
			if len(c.ref) > 0 && e.Index <= c.ref[len(c.ref)-1].Index {
				c.add("tail-mismatch", "%s: %q at %d, no replica delivered that index", name, e.Value, e.Index)
			}
			continue
		}
		if c.ref[p].Value != e.Value {
			c.add("tail-mismatch", "%s: %q at %d, replicas hold %q", name, e.Value, e.Index, c.ref[p].Value)
		}
		if i == 0 {
			continue
		}
		if q, ok := c.refAt[es[i-1].Index]; ok && p > q+1 {
			c.add("gap", "%s: jumped from %d to %d, missing %d (%q)", name, es[i-1].Index, e.Index,
				c.ref[q+1].Index, c.ref[q+1].Value)
		}
	}
}
