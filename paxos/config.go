package paxos

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/hashicorp/go-hclog"
)

// Config configures a Node. Zero values mean the documented default.
// NewNode never modifies the caller's Config.
type Config struct {
	// ID is this node's id; required, nonzero, and listed in Peers.
	ID NodeID
	// Peers lists every member of the cluster, this node included; required.
	// 1, 3 or 5 members are usual; any size works.
	Peers []NodeID

	// HeartbeatTicks is how often a leader sends heartbeats. Default 2.
	HeartbeatTicks int
	// ElectionTicks is the base election timeout: a follower that hears no
	// leader for a random number of ticks in [ElectionTicks, 2*ElectionTicks)
	// starts phase 1; an acceptor that heard a leader within ElectionTicks
	// refuses other prepares; a leader that heard from no majority within
	// ElectionTicks steps down. Default 10; must exceed HeartbeatTicks.
	ElectionTicks int
	// ResendTicks is how long a leader waits for Accepted before sending an
	// Accept again. Default 2*HeartbeatTicks.
	ResendTicks int

	// MaxInflightSlots bounds the proposed-but-not-chosen slots at the leader;
	// Propose returns ErrBackpressure beyond it. Default 8192.
	MaxInflightSlots int
	// MaxInflightBytes bounds the payload bytes of those slots. Default 64 MiB.
	MaxInflightBytes int
	// MaxMsgBytes bounds the entry bytes of one Accept, Promise or Chosen
	// message. Default 1 MiB (the transport's frame limit must be larger).
	MaxMsgBytes int

	// Rand is the seeded source of randomness (election timeouts). Default: a
	// source seeded from ID, so runs are reproducible.
	Rand *rand.Rand
	// Log reads the durable chosen log to answer catch-up for slots the node no
	// longer holds in memory. Default: none (catch-up is served from memory
	// only, enough for tests and the simulator).
	Log LogReader
	// Rebuilding says this replica's durable state was lost (a wiped or new
	// data directory): it must not vote, neither promise nor accept, until
	// it has re-learned the chosen log from peers and peers have shown that
	// no promise its lost state made can still matter (see "Rebuilding a
	// lost replica" in doc.go). It then reports Ready.Rebuilt and votes
	// normally. Default false: the HardState is trusted. Storage sets it for
	// every data directory it creates, so a brand-new cluster starts with
	// every node rebuilding and leaves that state by the virgin-cluster
	// rule. Ignored in a one-node cluster (there is nobody to learn from).
	Rebuilding bool
	// Logger receives protocol events (leader changes at Info, messages at
	// Trace). Default: hclog.NewNullLogger().
	Logger hclog.Logger

	// bugs plants known protocol bugs; only tests in this package set it, to
	// prove the simulator's checkers can fail.
	bugs plantedBugs
}

// plantedBugs are switches that break the protocol on purpose. They exist
// only so that tests can show each checker of the simulator catches the bug.
type plantedBugs struct {
	noPersistPromise  bool // (1) the acceptor does not persist its promise
	lowestBallotWins  bool // (2) a new leader re-proposes the lowest-ballot value
	commitIndexAlone  bool // (3) a follower marks slots chosen from a commit index alone
	sendBeforePersist bool // (4) messages leave before their records are durable
	noHoleFill        bool // (5) holes below the highest reported slot are not filled
	// (6) noRebuild is read by the simulator's driver, not by the node: a
	// replica whose store was wiped restarts without Config.Rebuilding.
	noRebuild bool
}

func (c Config) withDefaults() (Config, error) {
	if c.ID == 0 {
		return c, fmt.Errorf("%w: ID is zero", ErrInvalidConfig)
	}
	if len(c.Peers) == 0 {
		return c, fmt.Errorf("%w: no peers", ErrInvalidConfig)
	}
	c.Peers = slices.Clone(c.Peers)
	slices.Sort(c.Peers)
	if slices.Contains(c.Peers, 0) {
		return c, fmt.Errorf("%w: peer id 0", ErrInvalidConfig)
	}
	if len(slices.Compact(slices.Clone(c.Peers))) != len(c.Peers) {
		return c, fmt.Errorf("%w: duplicate peer ids in %v", ErrInvalidConfig, c.Peers)
	}
	if !slices.Contains(c.Peers, c.ID) {
		return c, fmt.Errorf("%w: ID %d not in peers %v", ErrInvalidConfig, c.ID, c.Peers)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.HeartbeatTicks, 2)
	def(&c.ElectionTicks, 10)
	def(&c.ResendTicks, 2*c.HeartbeatTicks)
	def(&c.MaxInflightSlots, 8192)
	def(&c.MaxInflightBytes, 64<<20)
	def(&c.MaxMsgBytes, 1<<20)
	if c.HeartbeatTicks < 0 || c.ElectionTicks <= c.HeartbeatTicks || c.ResendTicks < 0 ||
		c.MaxInflightSlots < 0 || c.MaxInflightBytes < 0 || c.MaxMsgBytes < 0 {
		return c, fmt.Errorf("%w: heartbeat=%d election=%d resend=%d inflight=%d/%dB msg=%dB",
			ErrInvalidConfig, c.HeartbeatTicks, c.ElectionTicks, c.ResendTicks,
			c.MaxInflightSlots, c.MaxInflightBytes, c.MaxMsgBytes)
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(uint64(c.ID), 0x9e3779b97f4a7c15))
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c, nil
}
