package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"text/tabwriter"

	"github.com/spf13/pflag"

	paxnet "github.com/paxlog/paxlog/net"
)

// statusCmd asks every --addr for its status and prints a table or JSON.
type statusCmd struct {
	client clientFlags
	json   bool
}

func (s *statusCmd) flags(fs *pflag.FlagSet) {
	s.client.register(fs)
	fs.BoolVar(&s.json, "json", false, "print JSON instead of a table")
}

// replicaStatus is one row of the output (also its JSON form).
type replicaStatus struct {
	Addr     string `json:"addr"`
	Error    string `json:"error,omitempty"`
	ID       uint64 `json:"id,omitempty"`
	Role     string `json:"role,omitempty"`
	LeaderID uint64 `json:"leader_id,omitempty"`
	Ballot   string `json:"ballot,omitempty"`
	First    uint64 `json:"first"`
	Last     uint64 `json:"last"`
	Commit   uint64 `json:"commit"`
	Applied  uint64 `json:"applied"`
	Lag      *int64 `json:"lag,omitempty"` // leader's last chosen index minus this replica's
	// Rebuilding: started on an empty data directory, not voting until it
	// has re-learned the log. Restoring: waiting for a peer's checkpoint.
	Rebuilding bool `json:"rebuilding,omitempty"`
	Restoring  bool `json:"restoring,omitempty"`
}

type clusterStatus struct {
	Cluster    string          `json:"cluster"`
	LeaderID   uint64          `json:"leader_id"`
	LeaderAddr string          `json:"leader_addr"`
	Ballot     string          `json:"ballot"`
	Replicas   []replicaStatus `json:"replicas"`
}

func (s *statusCmd) run(c *cli, fs *pflag.FlagSet) error {
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cl, _, err := s.client.client(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), s.client.timeout)
	defer cancel()
	infos := make([]*paxnet.StatusInfo, len(s.client.addrs))
	errs := make([]error, len(s.client.addrs))
	var wg sync.WaitGroup
	for i, a := range s.client.addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			infos[i], errs[i] = cl.Status(ctx, a)
		}()
	}
	wg.Wait()
	cs := summarize(s.client.cluster, s.client.addrs, infos, errs)
	if s.json {
		b, _ := json.MarshalIndent(cs, "", "  ")
		fmt.Fprintln(c.stdout, string(b))
	} else {
		printStatus(c, cs)
	}
	reachable := false
	for _, e := range errs {
		reachable = reachable || e == nil
	}
	switch {
	case !reachable:
		return fmt.Errorf("%w: %v", errNoReplica, errs[0])
	case cs.LeaderID == 0:
		return fmt.Errorf("%w: no replica knows a leader", errNoLeader)
	}
	return nil
}

func summarize(cluster string, addrs []string, infos []*paxnet.StatusInfo, errs []error) clusterStatus {
	cs := clusterStatus{Cluster: cluster}
	var leader *paxnet.StatusInfo
	for _, in := range infos {
		if in != nil && in.LeaderID != 0 && (leader == nil || in.NodeID == in.LeaderID) {
			cs.LeaderID, cs.LeaderAddr = uint64(in.LeaderID), in.LeaderAddr
			if in.NodeID == in.LeaderID {
				leader = in
			}
		}
	}
	if leader != nil {
		cs.Ballot = leader.Ballot.String()
	}
	for i, a := range addrs {
		r := replicaStatus{Addr: a}
		if errs[i] != nil {
			r.Error = oneLine(errs[i].Error())
			cs.Replicas = append(cs.Replicas, r)
			continue
		}
		in := infos[i]
		r.ID, r.Role, r.LeaderID, r.Ballot = uint64(in.NodeID), in.Role, uint64(in.LeaderID), in.Ballot.String()
		r.First, r.Last, r.Commit, r.Applied = in.First, in.Last, in.Commit, in.Applied
		r.Rebuilding, r.Restoring = in.Rebuilding, in.Restoring
		if leader != nil {
			lag := int64(leader.Last) - int64(in.Last)
			r.Lag = &lag
		}
		cs.Replicas = append(cs.Replicas, r)
	}
	return cs
}

func printStatus(c *cli, cs clusterStatus) {
	if cs.LeaderID != 0 {
		fmt.Fprintf(c.stdout, "cluster %q: leader replica %d at %s, ballot %s\n", cs.Cluster, cs.LeaderID, cs.LeaderAddr, orDefault(cs.Ballot, "?"))
	} else {
		fmt.Fprintf(c.stdout, "cluster %q: no leader known\n", cs.Cluster)
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDR\tID\tROLE\tFIRST\tLAST\tCOMMIT\tAPPLIED\tLAG\tERROR")
	for _, r := range cs.Replicas {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t-\tunreachable\t-\t-\t-\t-\t-\t%s\n", r.Addr, r.Error)
			continue
		}
		lag := "-"
		if r.Lag != nil {
			lag = strconv.FormatInt(*r.Lag, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Addr, r.ID, r.role(), r.First, r.Last, r.Commit, r.Applied, lag)
	}
	tw.Flush()
}

// role is the ROLE column: the role, and what keeps the replica from
// serving as a full member.
func (r replicaStatus) role() string {
	switch {
	case r.Rebuilding:
		return r.Role + ",rebuilding"
	case r.Restoring:
		return r.Role + ",restoring"
	}
	return r.Role
}
