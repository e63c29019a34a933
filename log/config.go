package log

import (
	"fmt"
	"maps"
	"time"

	"github.com/hashicorp/go-hclog"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

// Config configures a Node. Zero values mean the documented default; Start
// never modifies the caller's Config.
type Config struct {
	// ID is this replica's id; required, nonzero, and a key of Peers.
	ID paxos.NodeID
	// ClusterID names the cluster; required. Peers and clients of another
	// cluster are refused, and a data directory of another cluster is not
	// opened.
	ClusterID string
	// Dir is the data directory; required unless Store is set.
	Dir string
	// Listen is the "host:port" to bind for peers and clients; default
	// Peers[ID]. "127.0.0.1:0" picks a free port (see Node.Addr).
	Listen string
	// Peers maps every member, this one included, to the address peers and
	// clients reach it at. Redirects name these addresses.
	Peers map[paxos.NodeID]string
	// TLS enables mutual TLS for peers and clients; nil means plaintext.
	TLS *paxnet.TLSConfig

	// TickInterval is the length of one paxos tick. Default 10ms. The
	// election timeout is ElectionTicks*TickInterval (randomized up to
	// twice that); the heartbeat period HeartbeatTicks*TickInterval.
	TickInterval time.Duration
	// HeartbeatTicks: leader heartbeat period in ticks. Default 5 (50 ms).
	HeartbeatTicks int
	// ElectionTicks: base election timeout in ticks. Default 50 (500 ms,
	// randomized in [500 ms, 1 s) with the default TickInterval). It must
	// exceed the slowest fsync by a margin: a replica blocked in fsync
	// answers no heartbeat, and a leader that hears no majority within
	// ElectionTicks steps down.
	ElectionTicks int
	// MaxInflightSlots bounds proposed-but-not-chosen slots at the leader.
	// Default 8192 (paxos' default).
	MaxInflightSlots int
	// MaxInflightBytes bounds their payload bytes. Default 64 MiB.
	MaxInflightBytes int
	// MaxQueued bounds the entries waiting at this node for a Propose (the
	// group-commit queue). An append that finds it full waits up to its
	// context deadline, then fails with *BackpressureError. Default 16384.
	MaxQueued int
	// MaxBatchEntries bounds the entries of one Propose call (one Accept).
	// Default 1024.
	MaxBatchEntries int
	// MaxBatchBytes bounds the bytes of one Propose call. Default 512 KiB
	// (below paxos' 1 MiB MaxMsgBytes).
	MaxBatchBytes int
	// MaxEntryBytes bounds one appended payload. Default 256 KiB.
	MaxEntryBytes int

	// SegmentSize, CacheBytes and NoSync are passed to storage.Options
	// (zero: storage's defaults). NoSync exists for labelled baselines only.
	SegmentSize int
	CacheBytes  int
	NoSync      bool

	// Logger receives node events; it is named "replog". Default: null.
	Logger hclog.Logger

	// Store, when set, is used instead of opening storage in Dir (tests).
	// The Node closes it on Close.
	Store Store
	// Network, when set, replaces TCP (tests). Default: paxnet over TCP.
	Network Network
}

// Defaults.
const (
	DefaultTickInterval    = 10 * time.Millisecond
	DefaultHeartbeatTicks  = 5
	DefaultElectionTicks   = 50
	DefaultMaxQueued       = 16384
	DefaultMaxBatchEntries = 1024
	DefaultMaxBatchBytes   = 512 << 10
	DefaultMaxEntryBytes   = 256 << 10
)

func (c Config) withDefaults() (Config, error) {
	if c.ID == 0 {
		return c, fmt.Errorf("%w: ID is zero", ErrInvalidConfig)
	}
	if c.ClusterID == "" {
		return c, fmt.Errorf("%w: ClusterID is empty", ErrInvalidConfig)
	}
	if _, ok := c.Peers[c.ID]; !ok {
		return c, fmt.Errorf("%w: ID %d is not in Peers (%d members)", ErrInvalidConfig, c.ID, len(c.Peers))
	}
	if c.Dir == "" && c.Store == nil {
		return c, fmt.Errorf("%w: Dir is empty", ErrInvalidConfig)
	}
	c.Peers = maps.Clone(c.Peers)
	if c.Listen == "" {
		c.Listen = c.Peers[c.ID]
	}
	if c.TickInterval == 0 {
		c.TickInterval = DefaultTickInterval
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.HeartbeatTicks, DefaultHeartbeatTicks)
	def(&c.ElectionTicks, DefaultElectionTicks)
	def(&c.MaxQueued, DefaultMaxQueued)
	def(&c.MaxBatchEntries, DefaultMaxBatchEntries)
	def(&c.MaxBatchBytes, DefaultMaxBatchBytes)
	def(&c.MaxEntryBytes, DefaultMaxEntryBytes)
	if c.TickInterval < 0 || c.MaxQueued < 0 || c.MaxBatchEntries < 0 || c.MaxBatchBytes < 0 || c.MaxEntryBytes < 0 {
		return c, fmt.Errorf("%w: tick=%s queued=%d batch=%d/%dB entry=%dB", ErrInvalidConfig,
			c.TickInterval, c.MaxQueued, c.MaxBatchEntries, c.MaxBatchBytes, c.MaxEntryBytes)
	}
	if c.MaxEntryBytes+maxHeader > c.MaxBatchBytes {
		return c, fmt.Errorf("%w: MaxEntryBytes %d does not fit MaxBatchBytes %d", ErrInvalidConfig, c.MaxEntryBytes, c.MaxBatchBytes)
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	c.Logger = c.Logger.Named("replog")
	if c.Network == nil {
		c.Network = tcpNetwork{}
	}
	return c, nil
}

// paxosConfig derives the core's configuration; rebuilding comes from the
// store (Store.Rebuilding).
func (c Config) paxosConfig(lr paxos.LogReader, rebuilding bool) paxos.Config {
	ids := make([]paxos.NodeID, 0, len(c.Peers))
	for id := range c.Peers {
		ids = append(ids, id)
	}
	return paxos.Config{
		ID: c.ID, Peers: ids,
		HeartbeatTicks: c.HeartbeatTicks, ElectionTicks: c.ElectionTicks,
		MaxInflightSlots: c.MaxInflightSlots, MaxInflightBytes: c.MaxInflightBytes,
		Log: lr, Logger: c.Logger, Rebuilding: rebuilding, // the core names itself "paxos"
	}
}
