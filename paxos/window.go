package paxos

// slotState is everything one node tracks about one slot. The acceptor's
// durable accept (acc) and a chosen value learned from a peer (other) are
// kept apart: a value learned from a peer's Chosen message was never
// accepted here, and a Promise must report only what this acceptor really
// accepted.
type slotState struct {
	acc      Entry  // accepted here (acc.Ballot zero: nothing accepted)
	other    *Entry // the chosen value when it is not acc; read-only (it may point into a message)
	chosen   bool   // the slot's value is known chosen (see value)
	proposed bool   // leader: proposed at the current ballot, counted in the window
	votes    uint64 // leader: bit i set when Peers[i] accepted at the current ballot
	sentAt   int64  // leader: tick of the last Accept for this slot
}

// value is the chosen value of a chosen slot.
func (st *slotState) value() *Entry {
	if st.other != nil {
		return st.other
	}
	return &st.acc
}

// setAcc records an accept; a chosen value that was acc is kept.
func (st *slotState) setAcc(e *Entry) {
	if st.chosen && st.other == nil {
		v := st.acc
		st.other = &v
	}
	st.acc = *e
}

// window is a ring of slotState indexed by slot: slot base+i lives at
// buf[(head+i)&mask]. It holds a contiguous range [base, base+n) and grows
// by doubling, so per-slot work is an index computation, never a map lookup.
type window struct {
	buf  []slotState
	head int
	base uint64
	n    int
}

func newWindow(base uint64) window {
	return window{buf: make([]slotState, 64), base: base}
}

// end is one past the last slot held.
func (w *window) end() uint64 { return w.base + uint64(w.n) }

// at returns the state of slot s, or nil when s is outside the window.
func (w *window) at(s uint64) *slotState {
	if s < w.base || s >= w.base+uint64(w.n) {
		return nil
	}
	return &w.buf[(w.head+int(s-w.base))&(len(w.buf)-1)]
}

// extend makes the window reach slot s (zero states for new slots) and
// returns its state; nil when s is below the window.
func (w *window) extend(s uint64) *slotState {
	if s < w.base {
		return nil
	}
	need := int(s-w.base) + 1
	if need > w.n {
		if need > len(w.buf) {
			w.grow(need)
		}
		w.n = need
	}
	return &w.buf[(w.head+int(s-w.base))&(len(w.buf)-1)]
}

func (w *window) grow(need int) {
	c := len(w.buf) * 2
	for c < need {
		c *= 2
	}
	nb := make([]slotState, c)
	mask := len(w.buf) - 1
	for i := 0; i < w.n; i++ {
		nb[i] = w.buf[(w.head+i)&mask]
	}
	w.buf, w.head = nb, 0
}

// dropBefore forgets every slot below s (releasing their data).
func (w *window) dropBefore(s uint64) {
	if s <= w.base {
		return
	}
	k := int(min(s-w.base, uint64(w.n)))
	mask := len(w.buf) - 1
	for i := 0; i < k; i++ {
		w.buf[(w.head+i)&mask] = slotState{}
	}
	w.head = (w.head + k) & mask
	w.n -= k
	w.base = s
}

// reset empties the window and restarts it at slot s.
func (w *window) reset(s uint64) {
	w.dropBefore(w.end())
	w.base = s
}

// arenaEntries is the size of the blocks entry slices are carved from.
const arenaEntries = 1024

// entryArena hands out entry slices carved from larger blocks, so a Ready's
// Committed and a proposal's entries cost a fraction of an allocation. A
// carved slice has its capacity capped and is never written again by the
// node once handed out, so the caller may keep it.
type entryArena struct{ buf []Entry }

func (a *entryArena) take(k int) []Entry {
	if k > len(a.buf) {
		if k > arenaEntries/4 {
			return make([]Entry, k)
		}
		a.buf = make([]Entry, arenaEntries)
	}
	s := a.buf[:k:k]
	a.buf = a.buf[k:]
	return s
}
