package chaos

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// recordBuilder writes synthetic histories for the checker tests.
type recordBuilder struct {
	r     *Record
	clock int64
	round int
}

func newRecordBuilder() *recordBuilder {
	return &recordBuilder{r: &Record{Replicas: map[int][]Entry{}}}
}

func (b *recordBuilder) tick() int64 { b.clock += 10; return b.clock }

// add records a sequential op (call and return before the next one).
func (b *recordBuilder) add(op Op) {
	op.Call, op.Return, op.Round = b.tick(), b.tick(), b.round
	b.r.Ops = append(b.r.Ops, op)
}

func (b *recordBuilder) fence(tail uint64) {
	b.add(Op{Kind: OpCheckTail, Client: 9, Index: tail})
	b.r.Fences = append(b.r.Fences, Fence{Round: b.round, Tail: tail, Return: b.clock})
	b.round++
}

// cleanRecord is a correct history: two rounds of appends (with no-op
// holes in the indexes), reads, checktails, an unknown-outcome append that
// took effect, one that did not, three replicas and two consumers.
func cleanRecord() *Record {
	b := newRecordBuilder()
	var log []Entry
	idx := uint64(0)
	for i := range 20 {
		idx += uint64(1 + i%3) // holes: no-ops and barriers are not delivered
		v := fmt.Sprintf("a-%d", i)
		b.add(Op{Kind: OpAppend, Client: i % 2, Value: v, Index: idx})
		log = append(log, Entry{Index: idx, Value: v})
		if i%5 == 4 {
			b.add(Op{Kind: OpCheckTail, Client: 3, Index: idx})
			b.add(Op{Kind: OpRead, Client: 4, Index: idx, Found: true, Value: v})
			b.add(Op{Kind: OpRead, Client: 4, Index: idx + 1})
		}
		if i == 9 {
			b.add(Op{Kind: OpAppend, Client: 5, Value: "lost-in-flight", Failed: true, Err: "timeout"})
			b.fence(idx)
		}
	}
	// An unknown-outcome append of round 1 that took effect at the end.
	b.add(Op{Kind: OpAppend, Client: 5, Value: "late", Failed: true, Err: "timeout"})
	idx++
	log = append(log, Entry{Index: idx, Value: "late"})
	b.fence(idx)
	for id := 1; id <= 3; id++ {
		b.r.Replicas[id] = slices.Clone(log)
	}
	b.r.Consumers = []Observed{
		{Name: "c0", Replica: 1, Entries: slices.Clone(log)},
		{Name: "c1", Replica: 2, Entries: slices.Clone(log[3:12])},
	}
	return b.r
}

// kinds lists the violation kinds found.
func kinds(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		if !slices.Contains(out, v.Kind) {
			out = append(out, v.Kind)
		}
	}
	return out
}

func TestCheckersPassCleanRecord(t *testing.T) {
	r := cleanRecord()
	if vs := CheckLog(r); len(vs) != 0 {
		t.Fatalf("log checker on a clean record: %v", vs)
	}
	res := CheckLinearizable(r, LinConfig{})
	if len(res.Violations) != 0 {
		t.Fatalf("porcupine on a clean record: %v", res.Violations)
	}
	if res.Windows != 1 || res.Dropped != 1 {
		t.Fatalf("windows %d dropped %d, want 1 window and 1 dropped append", res.Windows, res.Dropped)
	}
	res = CheckLinearizable(r, LinConfig{MaxWindow: 30})
	if len(res.Violations) != 0 || res.Windows != 2 {
		t.Fatalf("two windows: %d windows, %v", res.Windows, res.Violations)
	}
}

// TestCheckersDetectDoctoredHistories feeds each checker a history with
// one planted anomaly and asserts it is reported.
func TestCheckersDetectDoctoredHistories(t *testing.T) {
	tests := []struct {
		name    string
		doctor  func(r *Record)
		logWant string // violation kind expected from CheckLog ("" none required)
		linWant string // from CheckLinearizable
	}{
		{"lost ack on one replica", func(r *Record) {
			r.Replicas[2] = slices.Delete(r.Replicas[2], 4, 5)
		}, "lost-ack", ""},
		{"lost ack everywhere", func(r *Record) {
			for id := range r.Replicas {
				r.Replicas[id] = slices.Delete(r.Replicas[id], 4, 5)
			}
			r.Consumers = nil
		}, "lost-ack", ""},
		{"acknowledged at another index", func(r *Record) {
			for i := range r.Ops {
				if r.Ops[i].Value == "a-7" {
					r.Ops[i].Index++
				}
			}
		}, "wrong-index", ""},
		{"duplicate delivered", func(r *Record) {
			last := r.Replicas[1][len(r.Replicas[1])-1]
			for id := range r.Replicas {
				r.Replicas[id] = append(r.Replicas[id], Entry{Index: last.Index + 1, Value: "a-3"})
			}
		}, "duplicate", ""},
		{"duplicate in a tail", func(r *Record) {
			c := &r.Consumers[1]
			c.Entries = append(c.Entries[:3:3], append([]Entry{c.Entries[2]}, c.Entries[3:]...)...)
		}, "order", ""},
		{"reordered tail", func(r *Record) {
			c := &r.Consumers[0]
			c.Entries[5], c.Entries[6] = c.Entries[6], c.Entries[5]
		}, "order", ""},
		{"gap in a tail", func(r *Record) {
			c := &r.Consumers[1]
			c.Entries = slices.Delete(c.Entries, 4, 5)
		}, "gap", ""},
		{"replicas diverge", func(r *Record) {
			r.Replicas[3][6].Value = "a-19"
			r.Replicas[3] = slices.Delete(r.Replicas[3], 19, 20)
		}, "divergence", ""},
		{"short replica", func(r *Record) {
			r.Replicas[3] = r.Replicas[3][:10]
		}, "short-log", ""},
		{"value never appended", func(r *Record) {
			for id := range r.Replicas {
				r.Replicas[id][2].Value = "ghost"
			}
		}, "foreign", ""},
		{"appends reordered in real time", func(r *Record) {
			// a-2 completed before a-3 started, yet got the larger index.
			var i2, i3 int
			for i, op := range r.Ops {
				switch op.Value {
				case "a-2":
					i2 = i
				case "a-3":
					i3 = i
				}
			}
			r.Ops[i2].Index, r.Ops[i3].Index = r.Ops[i3].Index, r.Ops[i2].Index
			for id := range r.Replicas {
				swapValues(r.Replicas[id], "a-2", "a-3")
			}
			for _, c := range r.Consumers {
				swapValues(c.Entries, "a-2", "a-3")
			}
		}, "", "not-linearizable"},
		{"stale checktail", func(r *Record) {
			for i, op := range r.Ops {
				if op.Kind == OpCheckTail && op.Client == 3 {
					r.Ops[i].Index -= 2
					return
				}
			}
		}, "", "not-linearizable"},
		{"stale read misses an acknowledged append", func(r *Record) {
			for i, op := range r.Ops {
				if op.Kind == OpRead && op.Found {
					r.Ops[i].Found, r.Ops[i].Value = false, ""
					return
				}
			}
		}, "", "not-linearizable"},
		{"read returns another value", func(r *Record) {
			for i, op := range r.Ops {
				if op.Kind == OpRead && op.Found {
					r.Ops[i].Value = "a-0"
					return
				}
			}
		}, "", "not-linearizable"},
		{"unknown append took effect before its round", func(r *Record) {
			for i, op := range r.Ops {
				if op.Value == "late" {
					r.Ops[i].Round = 1
				}
			}
			// It shows up at an index the first fence already covered.
			for id := range r.Replicas {
				r.Replicas[id][0].Value = "late"
				r.Replicas[id] = r.Replicas[id][:len(r.Replicas[id])-1]
			}
			r.Consumers = nil
		}, "", "stale-effect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cleanRecord()
			tt.doctor(r)
			logKinds := kinds(CheckLog(r))
			res := CheckLinearizable(r, LinConfig{OutDir: t.TempDir()})
			linKinds := kinds(res.Violations)
			if tt.logWant != "" && !slices.Contains(logKinds, tt.logWant) {
				t.Errorf("log checker found %v, want %s", logKinds, tt.logWant)
			}
			if tt.linWant != "" && !slices.Contains(linKinds, tt.linWant) {
				t.Errorf("porcupine found %v, want %s", linKinds, tt.linWant)
			}
			if len(logKinds)+len(linKinds) == 0 {
				t.Errorf("no checker reported the planted anomaly")
			}
			for _, f := range res.Files {
				if fi, err := os.Stat(f); err != nil || fi.Size() == 0 || !strings.HasSuffix(f, ".html") {
					t.Errorf("visualization %s: %v", f, err)
				}
			}
			if tt.linWant == "not-linearizable" && len(res.Files) == 0 {
				t.Errorf("no visualization saved for a non-linearizable window")
			}
		})
	}
}

func swapValues(es []Entry, a, b string) {
	for i := range es {
		switch es[i].Value {
		case a:
			es[i].Value = b
		case b:
			es[i].Value = a
		}
	}
}

// TestPorcupineTimeoutIsAFailure: a window porcupine cannot finish in time
// is reported as unverified, never as a pass.
func TestPorcupineTimeoutIsAFailure(t *testing.T) {
	b := newRecordBuilder()
	// 64 concurrent reads that are legal in any order and one impossible
	// checktail: porcupine must try every subset of the reads before it
	// can call the history illegal (2^64 states), so it times out.
	for i := range 64 {
		b.r.Ops = append(b.r.Ops, Op{Kind: OpRead, Client: i, Index: 1000, Call: 1, Return: 1000})
	}
	b.r.Ops = append(b.r.Ops, Op{Kind: OpCheckTail, Client: 64, Index: 5, Call: 1, Return: 1000})
	b.clock = 1000
	b.fence(0)
	res := CheckLinearizable(b.r, LinConfig{Timeout: 50 * time.Millisecond})
	if got := kinds(res.Violations); !slices.Equal(got, []string{"unverified"}) {
		t.Fatalf("got %v, want [unverified]", got)
	}
}

func TestOversizedWindowIsUnverified(t *testing.T) {
	r := cleanRecord()
	res := CheckLinearizable(r, LinConfig{MaxWindow: 5})
	if !slices.Contains(kinds(res.Violations), "unverified") {
		t.Fatalf("a round larger than MaxWindow was checked anyway: %v", res.Violations)
	}
}
