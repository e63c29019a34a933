package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Kind is an operation of the workload.
type Kind uint8

// Operation kinds.
const (
	OpAppend    Kind = iota + 1 // Client.Append of a unique value
	OpRead                      // CheckTail then Read at one replica (a linearizable read)
	OpCheckTail                 // Client.CheckTail
)

func (k Kind) String() string {
	switch k {
	case OpAppend:
		return "append"
	case OpRead:
		return "read"
	case OpCheckTail:
		return "checktail"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Op is one completed (or abandoned) client operation. Times are
// nanoseconds since the history started.
type Op struct {
	Kind   Kind   `json:"kind"`
	Client int    `json:"client"` // lane (one per worker), for the visualization
	Call   int64  `json:"call"`
	Return int64  `json:"return"`
	Value  string `json:"value,omitempty"` // append: the value; read: the value found
	Index  uint64 `json:"index"`           // append: acknowledged index; read: index asked; checktail: the tail
	Found  bool   `json:"found,omitempty"` // read: an entry is delivered at Index
	Tail   uint64 `json:"tail,omitempty"`  // read: what its CheckTail returned
	// Failed: the call returned an error, so its outcome is unknown (an
	// append may still be chosen). Failed reads and checktails have no
	// effect and are not checked.
	Failed bool   `json:"failed,omitempty"`
	Err    string `json:"err,omitempty"`
	Round  int    `json:"round"` // the round (fence epoch) it was invoked in
}

// Fence ends a round: every worker was stopped and every call had
// returned, then a CheckTail answered Tail. Ops of later rounds were all
// invoked after Return.
type Fence struct {
	Round  int    `json:"round"`
	Tail   uint64 `json:"tail"`
	Return int64  `json:"return"`
}

// Entry is one delivered log entry as observed.
type Entry struct {
	Index uint64 `json:"index"`
	Value string `json:"value"`
}

// Observed is what one consumer (a tail at one replica) received.
type Observed struct {
	Name    string  `json:"name"`
	Replica int     `json:"replica"`
	Entries []Entry `json:"entries"`
}

// History records operations concurrently.
type History struct {
	start time.Time

	mu     sync.Mutex
	ops    []Op
	fences []Fence
	round  int
}

// NewHistory starts an empty history now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the current time on the history's clock.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Round is the current round.
func (h *History) Round() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.round
}

// Add records a finished op (its Round is set by the caller at invocation).
func (h *History) Add(op Op) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// AddFence records the fence of the current round and starts the next.
func (h *History) AddFence(tail uint64, ret int64) {
	h.mu.Lock()
	h.fences = append(h.fences, Fence{Round: h.round, Tail: tail, Return: ret})
	h.round++
	h.mu.Unlock()
}

// Snapshot returns copies of the ops and fences.
func (h *History) Snapshot() ([]Op, []Fence) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...), append([]Fence(nil), h.fences...)
}

// Record is everything a run observed; it is what the checkers read and
// what is saved when a run fails.
type Record struct {
	Seed      int64            `json:"seed"`
	Ops       []Op             `json:"ops"`
	Fences    []Fence          `json:"fences"`
	Replicas  map[int][]Entry  `json:"replicas"`  // each replica's delivered log, read at the end
	Consumers []Observed       `json:"consumers"` // tails during the run
	Notes     []string         `json:"notes,omitempty"`
	Extra     map[string]int64 `json:"extra,omitempty"`
}

// Save writes the record as JSON.
func (r *Record) Save(path string) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return fmt.Errorf("chaos: encode history: %w", err)
	}
	return os.WriteFile(path, b, 0o644)
}

// LoadRecord reads a record saved by Save.
func LoadRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("chaos: decode %s: %w", path, err)
	}
	return &r, nil
}
