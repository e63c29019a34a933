package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

func TestEntryRoundTrip(t *testing.T) {
	for _, h := range []header{
		{kind: kindUser, clientID: 7, seq: 9},
		{kind: kindUser, clientID: 1 << 60, seq: 1 << 62, cond: true, expect: 12345},
		{kind: kindUser, clientID: 3, seq: 4, noDedup: true},
		{kind: kindBarrier, clientID: 5, seq: 6},
		{kind: kindTrim, clientID: 5, seq: 7, before: 99},
	} {
		for _, payload := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{0xff}, 300)} {
			got, p, err := decodeEntry(encodeEntry(h, payload))
			if err != nil || got != h || !bytes.Equal(p, payload) {
				t.Fatalf("round trip %+v/%q: %+v %q %v", h, payload, got, p, err)
			}
		}
	}
	info, err := DescribeEntry(encodeEntry(header{kind: kindTrim, clientID: 5, seq: 7, before: 99}, nil))
	if err != nil || info.Kind != "trim" || info.TrimBefore != 99 || info.ClientID != 5 || info.Seq != 7 {
		t.Fatalf("DescribeEntry(trim): %+v %v", info, err)
	}
	for _, bad := range [][]byte{nil, {1}, {9, 0, 1, 1}, {1, 0x80, 1, 1}, {1, 0, 0x80}, {1, flagConditional, 1, 1}} {
		if _, _, err := decodeEntry(bad); err == nil {
			t.Fatalf("decodeEntry(%x) accepted garbage", bad)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(header{kind: kindUser, clientID: 1, seq: 2, cond: true, expect: 3}, []byte("p")))
	f.Add(encodeEntry(header{kind: kindTrim, before: 10}, nil))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, p, err := decodeEntry(data)
		if err != nil {
			return
		}
		if re := encodeEntry(h, p); !bytes.Equal(re, data) && len(re) > len(data) {
			t.Fatalf("re-encoding %x gives %x", data, re)
		}
	})
}

// userEntry builds a chosen user entry at slot.
func userEntry(slot, client, seq uint64, cond bool, expect uint64) paxos.Entry {
	return paxos.Entry{Slot: slot, Data: encodeEntry(header{kind: kindUser, clientID: client, seq: seq, cond: cond, expect: expect}, fmt.Appendf(nil, "%d/%d", client, seq))}
}

// randomLog builds a chosen log with duplicates, conditions, no-ops and
// clients that come and go.
func randomLog(seed uint64, n int) []paxos.Entry {
	rnd := rand.New(rand.NewPCG(seed, 1))
	seqs := map[uint64]uint64{}
	var out []paxos.Entry
	for slot := uint64(1); slot <= uint64(n); slot++ {
		client := uint64(rnd.IntN(40) + 1)
		switch r := rnd.IntN(10); {
		case r == 0:
			out = append(out, paxos.Entry{Slot: slot, Noop: true})
		case r <= 2 && seqs[client] > 0: // a retry of a recent seq
			out = append(out, userEntry(slot, client, seqs[client]-uint64(rnd.IntN(int(min(seqs[client], 5)))), false, 0))
		case r == 3:
			seqs[client]++
			out = append(out, userEntry(slot, client, seqs[client], true, slot-1-uint64(rnd.IntN(2))))
		default:
			seqs[client]++
			out = append(out, userEntry(slot, client, seqs[client], false, 0))
		}
	}
	return out
}

type verdictRec struct {
	v   verdict
	out outcome
}

func applyAll(a *applier, es []paxos.Entry) []verdictRec {
	var vs []verdictRec
	for i := range es {
		r := a.apply(&es[i])
		vs = append(vs, verdictRec{r.v, r.o})
	}
	return vs
}

// TestApplierDeterministic: verdicts are a function of the chosen log, and
// a checkpoint taken mid-log then replayed gives the same verdicts and the
// same final state as applying everything.
func TestApplierDeterministic(t *testing.T) {
	es := randomLog(1, 3000)
	full := newApplier(newFilteredSet())
	want := applyAll(full, es)
	dups, conds := 0, 0
	for _, v := range want {
		dups += map[bool]int{true: 1}[v.v == vDuplicate]
		conds += map[bool]int{true: 1}[v.v == vCondFailed]
	}
	if dups == 0 || conds == 0 {
		t.Fatalf("log has %d duplicates and %d failed conditions: not a test", dups, conds)
	}
	for _, cut := range []int{1, 500, 1777, 2999} {
		a := newApplier(newFilteredSet())
		applyAll(a, es[:cut])
		cp := a.encodeCheckpoint(0)
		b := newApplier(newFilteredSet())
		if _, err := b.restoreCheckpoint(cp); err != nil {
			t.Fatal(err)
		}
		got := applyAll(b, es[cut:])
		for i := range got {
			if got[i] != want[cut+i] {
				t.Fatalf("cut %d slot %d: verdict %+v after restore, %+v straight", cut, cut+i+1, got[i], want[cut+i])
			}
		}
		if !bytes.Equal(b.encodeCheckpoint(0), full.encodeCheckpoint(0)) {
			t.Fatalf("cut %d: final state differs after restore", cut)
		}
		if b.lastDelivered != full.lastDelivered || fmt.Sprint(b.filtered.sorted()) != fmt.Sprint(full.filtered.sorted()) {
			t.Fatalf("cut %d: last delivered %d/%d or filtered sets differ", cut, b.lastDelivered, full.lastDelivered)
		}
	}
	if _, err := newApplier(newFilteredSet()).restoreCheckpoint(full.encodeCheckpoint(0)[:10]); err == nil {
		t.Fatal("a truncated checkpoint was accepted")
	}
}

// TestDedupWindowAndEviction: the per-client window, too-old sequence
// numbers and the bounded client count.
func TestDedupWindowAndEviction(t *testing.T) {
	d := newDedupTable()
	for seq := uint64(1); seq <= 3000; seq++ {
		d.record(1, seq, seq, outcome{v: vDelivered, index: seq})
	}
	if o, found, _ := d.lookup(1, 3000-dedupWindow+1); !found || o.index != 3000-dedupWindow+1 {
		t.Fatalf("oldest in-window seq not found: %+v %v", o, found)
	}
	if _, found, tooOld := d.lookup(1, 3000-dedupWindow); found || !tooOld {
		t.Fatal("seq below the window is not too old")
	}
	if got := len(d.clients[1].ring); got != dedupWindow {
		t.Fatalf("ring of %d slots for a full window", got)
	}
	for c := uint64(2); c <= maxClients+10; c++ {
		d.record(c, 1, 3000+c, outcome{v: vDelivered, index: 3000 + c})
	}
	if len(d.clients) != maxClients {
		t.Fatalf("%d clients, bound %d", len(d.clients), maxClients)
	}
	if _, ok := d.clients[1]; ok {
		t.Fatal("the least recently active client survived eviction")
	}
	d.sweep(sweepEvery * (clientIdleSlots/sweepEvery + 2))
	if len(d.clients) != 0 {
		t.Fatalf("%d idle clients survive the sweep", len(d.clients))
	}
}

func TestProposalQueueBackpressure(t *testing.T) {
	q := newProposalQueue(4)
	ctx := context.Background()
	for range 2 {
		if err := q.push(ctx, newProposal(make([]header, 2), make([][]byte, 2))); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err := q.push(short, newProposal(make([]header, 1), make([][]byte, 1)))
	var be *BackpressureError
	if !errors.As(err, &be) || !errors.Is(err, ErrBackpressure) || be.Queued != 4 {
		t.Fatalf("push into a full queue: %v", err)
	}
	done := make(chan error)
	go func() { done <- q.push(ctx, newProposal(make([]header, 1), make([][]byte, 1))) }()
	q.drain()
	q.release(2)
	if err := <-done; err != nil {
		t.Fatalf("push after release: %v", err)
	}
	q.close(ErrClosed)
	if err := q.push(ctx, newProposal(make([]header, 1), make([][]byte, 1))); !errors.Is(err, ErrClosed) {
		t.Fatalf("push after close: %v", err)
	}
}

// TestWireErrors: every error a Node returns maps to a wire code and back
// to an error of the same class.
func TestWireErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{&NotLeaderError{LeaderID: 2, Leader: "a:1"}, ErrNotLeader},
		{errRestoring, ErrNotLeader},
		{&TrimmedError{Index: 1, First: 5}, ErrTrimmed},
		{&ConditionError{Expected: 1, Last: 3}, ErrConditionFailed},
		{&BackpressureError{Queued: 3}, ErrBackpressure},
		{fmt.Errorf("x: %w", ErrNotFound), ErrNotFound},
		{fmt.Errorf("x: %w", ErrNotApplied), ErrNotApplied},
		{fmt.Errorf("x: %w", ErrClosed), ErrClosed},
		{fmt.Errorf("x: %w", ErrInvalid), ErrInvalid},
		{fmt.Errorf("x: %w", ErrSeqTooOld), ErrInvalid},
		{fmt.Errorf("x: %w", ErrDropped), errRemoteTimeout},
		{context.DeadlineExceeded, errRemoteTimeout},
		{fmt.Errorf("%w: disk", ErrStopped), errInternal},
	} {
		got := responseError(errorResponse(nil, tc.err))
		if !errors.Is(got, tc.want) {
			t.Errorf("%v -> %v, want %v", tc.err, got, tc.want)
		}
	}
	var nl *NotLeaderError
	if err := responseError(errorResponse(nil, &NotLeaderError{LeaderID: 2, Leader: "a:1"})); !errors.As(err, &nl) || nl.Leader != "a:1" {
		t.Fatalf("redirect lost its leader: %v", err)
	}
	var te *TrimmedError
	if err := responseError(errorResponse(nil, &TrimmedError{First: 5})); !errors.As(err, &te) || te.First != 5 {
		t.Fatalf("trimmed lost its first index: %v", err)
	}
}
