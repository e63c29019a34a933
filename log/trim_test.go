package log

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	paxnet "github.com/paxlog/paxlog/net"
)

// TestAppendIf: a stale expectation is rejected with *ConditionError on
// the Client and on the Node, a current one is accepted, and rejected
// entries are delivered by no replica.
func TestAppendIf(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3, tcp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := c.client(t)
	a1, err := cl.Append(ctx, []byte("x1"))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := cl.Append(ctx, []byte("x2"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.AppendIf(ctx, []byte("stale"), a1)
	var ce *ConditionError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConditionFailed) || ce.Last != a2 || ce.Expected != a1 {
		t.Fatalf("AppendIf(stale %d): %v, want a condition error at %d", a1, err, a2)
	}
	a3, err := cl.AppendIf(ctx, []byte("current"), a2)
	if err != nil || a3 <= a2 {
		t.Fatalf("AppendIf(current %d): %d %v", a2, a3, err)
	}
	l := c.leader(ctx)
	if _, err := l.AppendIf(ctx, []byte("stale2"), a2); !errors.Is(err, ErrConditionFailed) {
		t.Fatalf("node AppendIf(stale): %v", err)
	}
	a4, err := l.AppendIf(ctx, []byte("current2"), a3)
	if err != nil {
		t.Fatalf("node AppendIf(current): %v", err)
	}
	want := []entryRec{{a1, "x1"}, {a2, "x2"}, {a3, "current"}, {a4, "current2"}}
	for id, n := range c.nodes {
		got := tailAll(ctx, t, n, 0, a4)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("node %d delivers %v, want %v", id, got, want)
		}
	}
}

// TestTrim: Trim drops the prefix on every replica; Tail and Read below
// the trim point give *TrimmedError with the first available index, on
// every replica, locally and remotely, also after a restart; the dedup
// table survives the trim and the restart (checkpoint).
func TestTrim(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3, tcp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := c.client(t)
	var idx []uint64
	for i := range 20 {
		x, err := cl.Append(ctx, fmt.Appendf(nil, "t%d", i))
		if err != nil {
			t.Fatal(err)
		}
		idx = append(idx, x)
	}
	first, err := cl.Trim(ctx, idx[10])
	if err != nil || first != idx[10] {
		t.Fatalf("trim before %d: first %d, %v", idx[10], first, err)
	}
	check := func(when string) {
		t.Helper()
		for id, n := range c.nodes {
			waitFor(ctx, t, fmt.Sprintf("node %d trimmed", id), func() bool { return n.FirstIndex() == first })
			_, err := n.Tail(ctx, idx[3])
			var te *TrimmedError
			if !errors.As(err, &te) || !errors.Is(err, ErrTrimmed) || te.First != first {
				t.Fatalf("%s: node %d Tail(%d): %v, want trimmed at %d", when, id, idx[3], err, first)
			}
			if _, err := n.Read(ctx, idx[0]); !errors.As(err, &te) || te.First != first {
				t.Fatalf("%s: node %d Read(%d): %v", when, id, idx[0], err)
			}
			got := tailAll(ctx, t, n, first, idx[19])
			if len(got) != 10 || got[0] != (entryRec{idx[10], "t10"}) {
				t.Fatalf("%s: node %d tail from the trim point: %v", when, id, got)
			}
		}
		s, err := cl.Tail(ctx, 1)
		if err == nil {
			_, _, err = s.Next()
			s.Close()
		}
		var te *TrimmedError
		if !errors.As(err, &te) || te.First != first {
			t.Fatalf("%s: client Tail(1): %v, want trimmed at %d", when, err, first)
		}
	}
	check("after trim")
	for id := range c.cfgs {
		c.stop(id)
		c.start(id)
	}
	check("after restart")
	// The dedup table came back from the checkpoint: a retry of the very
	// first append (seq 1 of this client, below the trim point) answers
	// its original index and delivers nothing new.
	resp := rawAppend(ctx, t, c, cl.ID(), 1, "t0-retry")
	if resp.Err != paxnet.ErrNone || len(resp.Indexes) != 1 || resp.Indexes[0] != idx[0] {
		t.Fatalf("retry of seq 1 after trim and restart: %+v, want index %d", resp, idx[0])
	}
	last, err := cl.Append(ctx, []byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range c.nodes {
		got := tailAll(ctx, t, n, first, last)
		if len(got) != 11 || got[10].data != "after" {
			t.Fatalf("node %d after the retry: %v", id, got)
		}
	}
}

// rawAppend sends one append with an explicit identity to the leader.
func rawAppend(ctx context.Context, t testing.TB, c *testCluster, client, seq uint64, data string) *paxnet.Response {
	t.Helper()
	l := c.leader(ctx)
	conn, err := paxnet.Dial(ctx, l.Addr(), paxnet.ClientConfig{ClusterID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := conn.Call(ctx, &paxnet.Request{Op: paxnet.OpAppend, ClientID: client, Seq: seq, Data: [][]byte{[]byte(data)}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
