package log_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	replog "github.com/paxlog/paxlog/log"
	"github.com/paxlog/paxlog/paxos"
)

// TestKVRebuild: KV commands from concurrent clients; Feed keeps a store
// on every replica; all stores are equal; after every replica restarts,
// stores rebuilt from each replica's own log are equal to the first ones.
func TestKVRebuild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	nodes, cfgs, err := startCluster(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	var addrs []string
	for _, c := range cfgs {
		addrs = append(addrs, c.Peers[c.ID])
	}
	// Feed a store on every replica while the commands are appended.
	feedCtx, stopFeed := context.WithCancel(ctx)
	var feeders sync.WaitGroup
	stores := map[paxos.NodeID]*KV{}
	for id, n := range nodes {
		kv := NewKV()
		stores[id] = kv
		feeders.Go(func() {
			if err := replog.Feed(feedCtx, n, kv); !errors.Is(err, context.Canceled) {
				t.Errorf("feed replica %d: %v", id, err)
			}
		})
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			cl, err := replog.NewClient(replog.ClientConfig{ClusterID: "kv", Addrs: addrs})
			if err != nil {
				t.Error(err)
				return
			}
			defer cl.Close()
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 75 {
				cmd := fmt.Sprintf("set k%d w%d-%d", rnd.IntN(20), w, i)
				if rnd.IntN(4) == 0 {
					cmd = fmt.Sprintf("del k%d", rnd.IntN(20))
				}
				if _, err := cl.Append(ctx, []byte(cmd)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// Every fed store reaches the linearizable tail and they all agree.
	var want string
	for id, n := range nodes {
		last, err := n.CheckTail(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for stores[id].Applied() < last {
			select {
			case <-ctx.Done():
				t.Fatalf("replica %d store stuck at %d < %d", id, stores[id].Applied(), last)
			case <-time.After(5 * time.Millisecond):
			}
		}
		if want == "" {
			want = stores[id].String()
		}
		if got := stores[id].String(); got != want {
			t.Fatalf("replica %d store %q, another %q", id, got, want)
		}
	}
	stopFeed()
	feeders.Wait()
	if want == "" {
		t.Fatal("empty store: nothing was tested")
	}
	// Restart every replica and rebuild from each one's own log.
	for _, n := range nodes {
		n.Close()
	}
	for i, cfg := range cfgs {
		if nodes[cfg.ID], err = replog.Start(cfgs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for id, n := range nodes {
		kv := NewKV()
		if _, err := replog.CatchUp(ctx, n, kv); err != nil {
			t.Fatalf("replica %d rebuild: %v", id, err)
		}
		if got := kv.String(); got != want {
			t.Fatalf("replica %d rebuilt %q after restart, want %q", id, got, want)
		}
	}
}
