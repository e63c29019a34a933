package log

import (
	"context"
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
