package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Fault is one kind of nemesis.
type Fault int

// Faults. Each round of a run injects one.
const (
	KillMinority  Fault = iota // SIGKILL a random minority, restart it
	KillAll                    // SIGKILL every replica, restart them
	Partition                  // cut links through the proxies (halves, isolate one, one-way), heal
	Pause                      // SIGSTOP a random minority, SIGCONT
	CrashUnsynced              // restart a replica armed with a storage crash point that drops unsynced writes
	Wipe                       // SIGKILL a replica, delete its data directory, restart it
	DiskError                  // restart a replica armed with an injected fsync or write error
	CrashAll                   // arm every replica with a crash point at once (planted-bug test)
	WipeQuorum                 // the wipe scenario that needs wipe protection (see inject.go)
	PowerFail                  // every replica loses its unsynced writes at once (SIGUSR1 crash)
	numFaults
)

var faultNames = [numFaults]string{"kill-minority", "kill-all", "partition", "pause", "crash-unsynced", "wipe", "disk-error", "crash-all", "wipe-quorum", "power-fail"}

func (f Fault) String() string {
	if f >= 0 && f < numFaults {
		return faultNames[f]
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// Plan is how many rounds of each fault one deck holds.
type Plan map[Fault]int

// CIPlan is the acceptance mix of issue 8.
func CIPlan() Plan {
	return Plan{KillMinority: 30, KillAll: 5, Partition: 10, Pause: 5, CrashUnsynced: 5, Wipe: 3, DiskError: 5, PowerFail: 3,
		WipeQuorum: 3}
}

// ParsePlan reads "kill-minority=3,wipe=1" (fault names as printed).
func ParsePlan(s string) (Plan, error) {
	p := Plan{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, count, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(count)
		f := slices.Index(faultNames[:], name)
		if !ok || err != nil || n < 0 || f < 0 {
			return nil, fmt.Errorf("chaos: plan entry %q: want FAULT=COUNT with FAULT one of %v", part, faultNames)
		}
		p[Fault(f)] = n
	}
	return p, nil
}

// Deck returns the plan's faults in an order drawn from rng.
func (p Plan) Deck(rng *rand.Rand) []Fault {
	var deck []Fault
	for f := Fault(0); f < numFaults; f++ {
		for range p[f] {
			deck = append(deck, f)
		}
	}
	rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
	return deck
}

// Counts counts injected faults (and sub-kinds such as "partition/halves").
type Counts map[string]int

func (c Counts) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, c[k])
	}
	return strings.Join(parts, " ")
}

// minority draws a random minority of n replicas (at least one).
func minority(rng *rand.Rand, n int) []int {
	k := 1 + rng.IntN((n-1)/2)
	return rng.Perm(n)[:k:k]
}

// ids converts 0-based picks to replica ids.
func ids(picks []int) []int {
	out := make([]int, len(picks))
	for i, p := range picks {
		out[i] = p + 1
	}
	sort.Ints(out)
	return out
}

// partition cuts links of cl according to a shape drawn from rng and
// returns its name.
func partition(cl *Cluster, rng *rand.Rand) string {
	n := cl.N()
	switch rng.IntN(3) {
	case 0: // random halves: a minority side and a majority side
		side := map[int]bool{}
		for _, id := range ids(minority(rng, n)) {
			side[id] = true
		}
		for a := 1; a <= n; a++ {
			for b := 1; b <= n; b++ {
				if a != b && side[a] && !side[b] {
					cl.CutBoth(a, b)
				}
			}
		}
		return fmt.Sprintf("halves %v", keys(side))
	case 1: // isolate one replica both ways
		x := rng.IntN(n) + 1
		for b := 1; b <= n; b++ {
			if b != x {
				cl.CutBoth(x, b)
			}
		}
		return fmt.Sprintf("isolate %d", x)
	default: // asymmetric: one replica can send but not receive, or the reverse
		x := rng.IntN(n) + 1
		in := rng.IntN(2) == 0
		for b := 1; b <= n; b++ {
			if b == x {
				continue
			}
			if in {
				cl.Cut(b, x)
			} else {
				cl.Cut(x, b)
			}
		}
		if in {
			return fmt.Sprintf("one-way: nothing reaches %d", x)
		}
		return fmt.Sprintf("one-way: nothing leaves %d", x)
	}
}

func keys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
