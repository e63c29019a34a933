package chaos

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// LinConfig bounds the linearizability check.
type LinConfig struct {
	// MaxWindow is the most operations porcupine checks at once. Default
	// 10,000. Windows are made of whole rounds (they start at a fence).
	MaxWindow int
	// Timeout bounds porcupine per window; a timeout is a failure to verify.
	// Default 60s.
	Timeout time.Duration
	// OutDir receives the visualization of a failed window (empty: none).
	OutDir string
}

// LinResult summarizes a linearizability check.
type LinResult struct {
	Windows    int
	Ops        int // operations checked
	Dropped    int // failed appends that never took effect, failed reads and checktails
	Violations []Violation
	Files      []string // visualizations written
}

// window is a run of whole rounds checked by one porcupine call.
type window struct {
	first, last int    // rounds
	start       uint64 // tail of the fence before first
	ops         []porcupine.Operation
}

// CheckLinearizable checks the record's appends, reads and checktails with
// porcupine, window by window. Unknown-outcome appends are completed from
// the reference log (see doc.go); those it does not hold took no effect
// and are dropped.
func CheckLinearizable(r *Record, cfg LinConfig) LinResult {
	if cfg.MaxWindow == 0 {
		cfg.MaxWindow = 10000
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	var res LinResult
	add := func(kind, format string, args ...any) {
		res.Violations = append(res.Violations, Violation{Check: "linearizability", Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	ref := referenceLog(r)
	where := make(map[string]uint64, len(ref))
	for _, e := range ref {
		if _, dup := where[e.Value]; !dup {
			where[e.Value] = e.Index
		}
	}
	fences := append([]Fence(nil), r.Fences...)
	sort.Slice(fences, func(i, j int) bool { return fences[i].Round < fences[j].Round })
	rounds := len(fences)
	if rounds == 0 {
		add("no-fence", "the history has no fence; nothing can be checked")
		return res
	}
	// roundOf returns the round whose fence first covers index i.
	roundOf := func(i uint64) int {
		return sort.Search(rounds, func(k int) bool { return fences[k].Tail >= i })
	}
	valueAt := map[uint64]string{}
	perRound := make([][]porcupine.Operation, rounds)
	never := int64(math.MaxInt64 / 2)
	for _, op := range r.Ops {
		if op.Round >= rounds {
			res.Dropped++ // invoked after the last fence: not covered by any window
			continue
		}
		p := porcupine.Operation{ClientId: op.Client, Call: op.Call, Return: op.Return}
		round := op.Round
		switch op.Kind {
		case OpAppend:
			idx := op.Index
			if op.Failed {
				i, ok := where[op.Value]
				if !ok {
					res.Dropped++
					continue
				}
				idx, p.Return = i, never
				round = roundOf(i)
				if round >= rounds {
					res.Dropped++ // took effect after the last fence
					continue
				}
				if round < op.Round {
					add("stale-effect", "append %q (invoked in round %d, after the fence of round %d at tail %d) took effect at %d",
						op.Value, op.Round, round, fences[round].Tail, i)
					continue
				}
				if round > op.Round {
					p.Call = fences[round-1].Return + 1
				}
			}
			if v, dup := valueAt[idx]; dup && v != op.Value {
				add("same-index", "appends %q and %q both at index %d", v, op.Value, idx)
			}
			valueAt[idx] = op.Value
			p.Input, p.Output = appendIn{Value: op.Value}, appendOut{Index: idx}
		case OpRead:
			if op.Failed {
				res.Dropped++
				continue
			}
			p.Input, p.Output = readIn{Index: op.Index}, readOut{Found: op.Found, Value: op.Value}
		case OpCheckTail:
			if op.Failed {
				res.Dropped++
				continue
			}
			p.Input, p.Output = checkTailIn{}, checkTailOut{Tail: op.Index}
		}
		perRound[round] = append(perRound[round], p)
	}
	for _, w := range makeWindows(perRound, fences, cfg.MaxWindow) {
		res.Windows++
		res.Ops += len(w.ops)
		if len(w.ops) > cfg.MaxWindow {
			add("unverified", "round %d alone holds %d ops, more than the %d porcupine may check at once", w.first, len(w.ops), cfg.MaxWindow)
			continue
		}
		model := logModel(w.start, valueAt)
		out, info := porcupine.CheckOperationsVerbose(model, w.ops, cfg.Timeout)
		if out == porcupine.Ok {
			continue
		}
		kind := "not-linearizable"
		if out == porcupine.Unknown {
			kind = "unverified"
		}
		detail := fmt.Sprintf("rounds %d-%d (%d ops, start tail %d): porcupine %s", w.first, w.last, len(w.ops), w.start, out)
		if cfg.OutDir != "" {
			path := filepath.Join(cfg.OutDir, fmt.Sprintf("porcupine-rounds-%d-%d.html", w.first, w.last))
			if err := porcupine.VisualizePath(model, info, path); err != nil {
				detail += fmt.Sprintf(" (visualization failed: %v)", err)
			} else {
				res.Files = append(res.Files, path)
				detail += " (visualization " + path + ")"
			}
		}
		add(kind, "%s", detail)
	}
	return res
}

// makeWindows groups consecutive rounds into windows of at most max ops;
// a round larger than max is a window of its own (reported unverified).
func makeWindows(perRound [][]porcupine.Operation, fences []Fence, max int) []window {
	var out []window
	var cur *window
	for r, ops := range perRound {
		if cur != nil && len(cur.ops)+len(ops) > max {
			out = append(out, *cur)
			cur = nil
		}
		if cur == nil {
			start := uint64(0)
			if r > 0 {
				start = fences[r-1].Tail
			}
			cur = &window{first: r, start: start}
		}
		cur.last = r
		cur.ops = append(cur.ops, ops...)
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// referenceLog is the longest replica log (CheckLog reports any
// disagreement between replicas).
func referenceLog(r *Record) []Entry {
	var ref []Entry
	for _, id := range replicaIDs(r.Replicas) {
		if len(r.Replicas[id]) > len(ref) {
			ref = r.Replicas[id]
		}
	}
	return ref
}
