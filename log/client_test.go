package log

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func (c *testCluster) client(t testing.TB) *Client {
	t.Helper()
	cfg := ClientConfig{ClusterID: "test", Addrs: c.addrs()}
	if c.mem != nil {
		cfg.Network = MemNetwork(c.mem)
	}
	cl, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func TestClientTCPSmoke(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3, tcp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := c.client(t)
	var idx []uint64
	for i := range 50 {
		x, err := cl.Append(ctx, fmt.Appendf(nil, "v%d", i))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		idx = append(idx, x)
	}
	data, err := cl.Read(ctx, idx[10])
	if err != nil || string(data) != "v10" {
		t.Fatalf("read %d: %q %v", idx[10], data, err)
	}
	last, err := cl.CheckTail(ctx)
	if err != nil || last != idx[49] {
		t.Fatalf("check tail: %d %v, want %d", last, err, idx[49])
	}
	s, err := cl.Tail(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	i := 0
	for x, d := range s.All() {
		if x != idx[i] || string(d) != fmt.Sprintf("v%d", i) {
			t.Fatalf("tail %d: %d %q", i, x, d)
		}
		if i++; i == 50 {
			break
		}
	}
	st, err := cl.Status(ctx, "")
	if err != nil || st.LeaderID == 0 {
		t.Fatalf("status %+v %v", st, err)
	}
	// Status of one replica keeps working across that replica's restart.
	addr := c.cfgs[1].Peers[1]
	if _, err := cl.Status(ctx, addr); err != nil {
		t.Fatal(err)
	}
	c.stop(1)
	c.start(1)
	waitFor(ctx, t, "status of the restarted replica", func() bool {
		_, err := cl.Status(ctx, addr)
		return err == nil
	})
	if ls := c.leader(ctx).Status(); ls.DedupClients < 1 {
		t.Fatalf("leader status: %d dedup clients after client appends", ls.DedupClients)
	}
}

// TestReadNotAppliedIsRetried: an index above what a replica has applied is
// ErrNotApplied (transient), never ErrNotFound (permanent); Client.Read
// retries it until the entry is there or its context ends.
func TestReadNotAppliedIsRetried(t *testing.T) {
	c := newTestCluster(t, clusterOpts{size: 3, tcp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := c.client(t)
	first, err := cl.Append(ctx, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	future := first + 1000
	if _, err := c.nodes[1].Read(ctx, future); !errors.Is(err, ErrNotApplied) || errors.Is(err, ErrNotFound) {
		t.Fatalf("local read of %d: %v, want ErrNotApplied only", future, err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if _, err := cl.Read(short, future); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("remote read of %d: %v, want the deadline after retries", future, err)
	}

	// A read that starts before its entry is chosen returns it once chosen.
	got := make(chan error, 1)
	go func() {
		var last uint64
		for i := range 3 {
			x, err := cl.Append(ctx, fmt.Appendf(nil, "b%d", i))
			if err != nil {
				got <- err
				return
			}
			last = x
		}
		_, err := cl.Read(ctx, last)
		got <- err
	}()
	if err := <-got; err != nil {
		t.Fatalf("read after append: %v", err)
	}
}
