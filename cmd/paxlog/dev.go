package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/paxlog/paxlog/paxos"
)

// devCmd runs a local cluster in one process over loopback TCP with real
// storage. Its data directory remembers the cluster's shape (dev.json), so
// running dev again resumes the same log.
type devCmd struct {
	nodes   int
	data    string
	host    string
	port    int
	cluster string
	metrics string
	tick    time.Duration
	log     logFlags
}

func (d *devCmd) flags(fs *pflag.FlagSet) {
	fs.IntVar(&d.nodes, "nodes", defaultDevNodes, "number of replicas (1 to 9)")
	fs.StringVar(&d.data, "data", "./paxlog-dev", "data directory; replica N keeps its state in DIR/node-N")
	fs.StringVar(&d.host, "host", "127.0.0.1", "address to bind")
	fs.IntVar(&d.port, "port", defaultDevPort, "port of replica 1; replica N listens on port+N-1")
	fs.StringVar(&d.cluster, "cluster", defaultCluster, "cluster name")
	fs.StringVar(&d.metrics, "metrics", "", "serve /metrics, /healthz and /readyz of every replica on this host:port (empty: off)")
	fs.DurationVar(&d.tick, "tick", 10*time.Millisecond, "paxos tick; election timeout 10-20 ticks")
	d.log.register(fs, "info")
}

// devState is DIR/dev.json.
type devState struct {
	Cluster string `json:"cluster"`
	Nodes   int    `json:"nodes"`
}

func (d *devCmd) run(c *cli, fs *pflag.FlagSet) error {
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if d.nodes < 1 || d.nodes > 9 {
		return usagef("--nodes must be 1 to 9, got %d", d.nodes)
	}
	if d.port < 1 || d.port+d.nodes-1 > 65535 {
		return usagef("--port %d out of range", d.port)
	}
	if d.tick <= 0 {
		return usagef("--tick must be positive, got %s", d.tick)
	}
	logger, err := d.log.logger(c)
	if err != nil {
		return err
	}
	if err := d.checkState(fs); err != nil {
		return err
	}
	addrs := devAddrs(d.host, d.port, d.nodes)
	peers := map[paxos.NodeID]string{}
	for i, a := range addrs {
		peers[paxos.NodeID(i+1)] = a
	}
	rcs := make([]replicaConfig, d.nodes)
	leaders := &leaderLog{}
	for i := range rcs {
		id := paxos.NodeID(i + 1)
		rcs[i] = replicaConfig{ID: id, Cluster: d.cluster, Dir: filepath.Join(d.data, fmt.Sprintf("node-%d", id)),
			Peers: peers, Tick: d.tick, Logger: logger, Leaders: leaders}
	}
	logger.Info("starting dev cluster", "nodes", d.nodes, "cluster", d.cluster, "data", d.data,
		"peers", formatPeers(peers), "metrics", orDefault(d.metrics, "off"), "tick", d.tick.String())
	return runReplicas(c, logger, rcs, d.metrics, func(ctx context.Context, rs []*replica, ops *opsServer) {
		d.printWelcome(ctx, c.stdout, rs, ops, addrs)
	})
}

// checkState records the cluster's shape on first use and refuses a rerun
// with another --nodes or --cluster unless they were left at defaults.
func (d *devCmd) checkState(fs *pflag.FlagSet) error {
	if err := os.MkdirAll(d.data, 0o755); err != nil {
		return fmt.Errorf("data directory %s: %w", d.data, err)
	}
	path := filepath.Join(d.data, "dev.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b, _ = json.Marshal(devState{Cluster: d.cluster, Nodes: d.nodes})
		return os.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		return fmt.Errorf("data directory %s: %w", d.data, err)
	}
	var st devState
	if err := json.Unmarshal(b, &st); err != nil || st.Nodes < 1 {
		return fmt.Errorf("%s: not a paxlog dev state file (remove it to start over): %v", path, err)
	}
	if st.Nodes != d.nodes && fs.Changed("nodes") || st.Cluster != d.cluster && fs.Changed("cluster") {
		return usagef("%s holds a %d-replica cluster %q; rerun with those values or use another --data", d.data, st.Nodes, st.Cluster)
	}
	d.nodes, d.cluster = st.Nodes, st.Cluster
	return nil
}

// printWelcome prints the replicas, the leader and what to try next.
func (d *devCmd) printWelcome(ctx context.Context, w io.Writer, rs []*replica, ops *opsServer, addrs []string) {
	fmt.Fprintf(w, "paxlog dev: cluster %q, %d replicas, data in %s (run dev again to resume this log)\n", d.cluster, len(rs), d.data)
	for _, r := range rs {
		fmt.Fprintf(w, "  replica %d  %s  %s\n", r.cfg.ID, r.node.Addr(), r.cfg.Dir)
	}
	if ops != nil {
		fmt.Fprintf(w, "metrics: http://%s/metrics  (also /healthz, /readyz)\n", ops.Addr())
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	id, err := waitLeader(wctx, rs)
	cancel()
	if err != nil {
		fmt.Fprintf(w, "leader: none yet (%v)\n", err)
	} else {
		fmt.Fprintf(w, "leader: replica %d at %s\n", id, rs[id-1].node.Addr())
	}
	self := selfCommand()
	var flags string
	if strings.Join(addrs, ",") != strings.Join(defaultDevAddrs(), ",") {
		flags += " --addr " + strings.Join(addrs, ",")
	}
	if d.cluster != defaultCluster {
		flags += " --cluster " + d.cluster
	}
	fmt.Fprintf(w, "\nTry, in another terminal:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s append%s one two three\t# prints each entry's index\n", self, flags)
	fmt.Fprintf(tw, "  %s tail%s\t# prints index and data of every entry\n", self, flags)
	fmt.Fprintf(tw, "  %s tail%s --follow\t# ... and waits for new ones\n", self, flags)
	fmt.Fprintf(tw, "  %s status%s\t# leader, ballot, per-replica indexes\n", self, flags)
	fmt.Fprintf(tw, "  %s bench%s --duration 5s\t# load test\n", self, flags)
	tw.Flush()
	fmt.Fprintf(w, "Ctrl-C stops the cluster cleanly.\n")
}

// selfCommand is how the user ran this binary: "go run ./cmd/paxlog" when
// it was built by go run, else its path.
func selfCommand() string {
	if strings.Contains(os.Args[0], "go-build") {
		return "go run ./cmd/paxlog"
	}
	return os.Args[0]
}
