package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/paxlog/paxlog/paxos"
)

// serveCmd runs one replica of a deployment.
type serveCmd struct {
	id            uint64
	cluster       string
	listen        string
	peers         string
	data          string
	metrics       string
	tick          time.Duration
	electionTicks int
	tls           tlsFlags
	log           logFlags
}

func (s *serveCmd) flags(fs *pflag.FlagSet) {
	fs.Uint64Var(&s.id, "id", 0, "this replica's id, a key of --peers (required)")
	fs.StringVar(&s.cluster, "cluster", "", "cluster name; must match on every replica and client (required)")
	fs.StringVar(&s.listen, "listen", "", "host:port to bind for peers and clients (default: this replica's --peers address)")
	fs.StringVar(&s.peers, "peers", "", "every replica as ID=HOST:PORT, comma separated, this one included (required)")
	fs.StringVar(&s.data, "data", "", "data directory (required)")
	fs.StringVar(&s.metrics, "metrics", "", "serve /metrics, /healthz and /readyz on this host:port (empty: off)")
	fs.DurationVar(&s.tick, "tick", 10*time.Millisecond, "paxos tick; heartbeats every 2 ticks")
	fs.IntVar(&s.electionTicks, "election-ticks", 10, "election timeout in ticks, randomized up to twice that")
	s.tls.register(fs)
	s.log.register(fs, "info")
}

func (s *serveCmd) run(c *cli, fs *pflag.FlagSet) error {
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := requireFlags(fs, "id", "cluster", "peers", "data"); err != nil {
		return err
	}
	logger, err := s.log.logger(c)
	if err != nil {
		return err
	}
	peers, err := parsePeers(s.peers)
	if err != nil {
		return err
	}
	id := paxos.NodeID(s.id)
	if _, ok := peers[id]; !ok || id == 0 {
		return usagef("--id %d is not one of --peers %s", s.id, s.peers)
	}
	if s.tick <= 0 || s.electionTicks <= 0 {
		return usagef("--tick and --election-ticks must be positive (got %s, %d)", s.tick, s.electionTicks)
	}
	tc, err := s.tls.config()
	if err != nil {
		return err
	}
	rc := replicaConfig{ID: id, Cluster: s.cluster, Dir: s.data, Listen: s.listen, Peers: peers, TLS: tc,
		Tick: s.tick, ElectionTicks: s.electionTicks, Logger: logger}
	logger.Info("starting replica", "id", s.id, "cluster", s.cluster, "listen", orDefault(s.listen, peers[id]),
		"peers", s.peers, "data", s.data, "tls", tc != nil, "metrics", orDefault(s.metrics, "off"),
		"tick", s.tick.String(), "election_timeout", fmt.Sprintf("%s-%s", rc.electionTimeout()/2, rc.electionTimeout()))
	return runReplicas(c, logger, []replicaConfig{rc}, s.metrics, nil)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// parsePeers parses "1=host:port,2=host:port".
func parsePeers(s string) (map[paxos.NodeID]string, error) {
	peers := map[paxos.NodeID]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		id, err := strconv.ParseUint(k, 10, 64)
		if !ok || err != nil || id == 0 || v == "" {
			return nil, usagef("bad --peers entry %q: want ID=HOST:PORT with ID > 0", part)
		}
		if _, dup := peers[paxos.NodeID(id)]; dup {
			return nil, usagef("--peers names id %d twice", id)
		}
		peers[paxos.NodeID(id)] = v
	}
	if len(peers) == 0 {
		return nil, usagef("--peers is empty")
	}
	return peers, nil
}

// formatPeers is the inverse of parsePeers, in id order.
func formatPeers(peers map[paxos.NodeID]string) string {
	ids := make([]paxos.NodeID, 0, len(peers))
	for id := range peers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d=%s", id, peers[id])
	}
	return strings.Join(parts, ",")
}
