package log_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	replog "github.com/paxlog/paxlog/log"
	"github.com/paxlog/paxlog/paxos"
)

// KV is a replicated key-value store fed by the log: every replica that
// applies the same delivered entries in index order holds the same map.
// Commands are "set <key> <value>" and "del <key>".
type KV struct {
	mu      sync.Mutex
	m       map[string]string
	applied uint64
}

func NewKV() *KV { return &KV{m: map[string]string{}} }

// Applied implements replog.StateMachine.
func (kv *KV) Applied() uint64 {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	return kv.applied
}

// Apply implements replog.StateMachine.
func (kv *KV) Apply(index uint64, data []byte) error {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	f := strings.Fields(string(data))
	switch {
	case len(f) == 3 && f[0] == "set":
		kv.m[f[1]] = f[2]
	case len(f) == 2 && f[0] == "del":
		delete(kv.m, f[1])
	default:
		return fmt.Errorf("kv: bad command %q", data)
	}
	kv.applied = index
	return nil
}

// String lists the pairs in key order.
func (kv *KV) String() string {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	keys := make([]string, 0, len(kv.m))
	for k := range kv.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", k, kv.m[k])
	}
	return b.String()
}

// startCluster starts n replicas on loopback with data under dir.
func startCluster(dir string, n int) (map[paxos.NodeID]*replog.Node, []replog.Config, error) {
	peers := map[paxos.NodeID]string{}
	for id := paxos.NodeID(1); id <= paxos.NodeID(n); id++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		peers[id] = l.Addr().String()
		l.Close()
	}
	nodes := map[paxos.NodeID]*replog.Node{}
	var cfgs []replog.Config
	for id := paxos.NodeID(1); id <= paxos.NodeID(n); id++ {
		cfg := replog.Config{ID: id, ClusterID: "kv", Peers: peers,
			Dir: filepath.Join(dir, fmt.Sprint(id))}
		node, err := replog.Start(cfg)
		if err != nil {
			return nil, nil, err
		}
		nodes[id] = node
		cfgs = append(cfgs, cfg)
	}
	return nodes, cfgs, nil
}

// Example_kv appends KV commands through a Client, rebuilds the store on
// every replica with CatchUp, then restarts a replica and rebuilds its
// store from its own log.
func Example_kv() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "replog-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	nodes, cfgs, err := startCluster(dir, 3)
	if err != nil {
		panic(err)
	}
	var addrs []string
	for _, c := range cfgs {
		addrs = append(addrs, c.Peers[c.ID])
	}
	client, err := replog.NewClient(replog.ClientConfig{ClusterID: "kv", Addrs: addrs})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	for _, cmd := range []string{"set a 1", "set b 2", "del a", "set c 3", "set b 4"} {
		if _, err := client.Append(ctx, []byte(cmd)); err != nil {
			panic(err)
		}
	}
	for id := paxos.NodeID(1); id <= 3; id++ {
		kv := NewKV()
		if _, err := replog.CatchUp(ctx, nodes[id], kv); err != nil {
			panic(err)
		}
		fmt.Printf("replica %d: %s\n", id, kv)
	}
	// Restart replica 2: its store is rebuilt from its own data directory.
	nodes[2].Close()
	if nodes[2], err = replog.Start(cfgs[1]); err != nil {
		panic(err)
	}
	kv := NewKV()
	if _, err := replog.CatchUp(ctx, nodes[2], kv); err != nil {
		panic(err)
	}
	fmt.Printf("replica 2 after restart: %s\n", kv)
	for _, n := range nodes {
		n.Close()
	}
	// Output:
	// replica 1: b=4 c=3
	// replica 2: b=4 c=3
	// replica 3: b=4 c=3
	// replica 2 after restart: b=4 c=3
}
