package log

import (
	"context"
	"fmt"
	"testing"
	"time"

	paxnet "github.com/paxlog/paxlog/net"
)

// TestFollowerBehindTrim: a follower is down while the others append and
// trim past everything it holds; after its restart it restarts its log at
// the trim point, restores the dedup table and last delivered index from a
// peer's checkpoint, and delivers the same sequence as the leader: a
// conditional append and a duplicate of a pre-trim append get the same
// verdicts there as everywhere.
func TestFollowerBehindTrim(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3, tcp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := c.leader(ctx)
	if _, err := l.Append(ctx, []byte("before-down")); err != nil {
		t.Fatal(err)
	}
	dupResp := rawAppend(ctx, t, c, 77, 1, "dup")
	if dupResp.Err != paxnet.ErrNone {
		t.Fatalf("append (77, 1): %+v", dupResp)
	}
	fid := follower(c, l)
	c.stop(fid)
	var last uint64
	for i := range 50 {
		x, err := l.Append(ctx, fmt.Appendf(nil, "e%d", i))
		if err != nil {
			t.Fatal(err)
		}
		last = x
	}
	first, err := l.Trim(ctx, last-10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if last, err = l.Append(ctx, fmt.Appendf(nil, "f%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	f := c.start(fid)
	// A duplicate of (77, 1), chosen after the trim point, and an AppendIf
	// on the current last index: both verdicts depend on pre-trim history.
	dup := encodeEntry(header{kind: kindUser, clientID: 77, seq: 1}, []byte("dup"))
	var perr error
	l.runInOwner(ctx, func(o *owner) { _, perr = o.core.Propose([][]byte{dup}) })
	if perr != nil {
		t.Fatal(perr)
	}
	last, err = l.AppendIf(ctx, []byte("cond"), l.LastDelivered())
	if err != nil {
		t.Fatal(err)
	}
	want := tailAll(ctx, t, l, first, last)
	if err := f.WaitApplied(ctx, last); err != nil {
		t.Fatal(err)
	}
	if f.FirstIndex() < first {
		t.Fatalf("follower first index %d below the trim point %d", f.FirstIndex(), first)
	}
	got := tailAll(ctx, t, f, f.FirstIndex(), last)
	wantFrom := want
	for len(wantFrom) > 0 && wantFrom[0].index < f.FirstIndex() {
		wantFrom = wantFrom[1:]
	}
	if fmt.Sprint(got) != fmt.Sprint(wantFrom) {
		t.Fatalf("follower from %d delivers %v, leader %v", f.FirstIndex(), got, wantFrom)
	}
	if got[len(got)-1].data != "cond" {
		t.Fatalf("follower does not deliver the conditional append: %v", got)
	}
	for _, e := range got {
		if e.data == "dup" {
			t.Fatalf("follower delivers the duplicate of a pre-trim append: %v", got)
		}
	}
	t.Logf("follower restarted its log at %d (trim point %d), %d entries match", f.FirstIndex(), first, len(got))
}
