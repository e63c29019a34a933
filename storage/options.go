package storage

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
)

// Options configure Open. Zero values mean the documented default; Open
// never modifies the caller's Options.
type Options struct {
	// Dir is the data directory; required. Created if missing.
	Dir string
	// ClusterID names the cluster; required. Recorded in Dir/identity on
	// first open and checked on every later open (ErrIdentity).
	ClusterID string
	// NodeID is this replica's id; required, nonzero. Recorded and checked
	// like ClusterID.
	NodeID uint64
	// Logger receives recovery warnings (torn tails cut) and failures.
	// Default: a null logger. The store logs as the named logger "storage".
	Logger hclog.Logger
	// FS is the file-system seam. Default: the operating system. Tests
	// inject write errors, fsync errors and lost unsynced writes through it.
	FS FS
	// SegmentSize is the target size in bytes of one WAL segment file, for
	// the journal and the chosen log. tidwall/wal keeps the tail segment of
	// each log in memory, so memory per log is about two segments. It also
	// bounds two pauses of the goroutine that writes: tidwall copies its
	// in-memory tail whenever that grows, and fsyncs the whole segment
	// when it starts the next one (for the chosen log, which the store
	// does not fsync otherwise, that is up to a segment of unsynced data).
	// Default 4 MiB.
	SegmentSize int
	// CacheBytes bounds the in-memory cache of recent chosen entries that
	// serves readers without touching the disk (counted with Entry.Size).
	// Default 64 MiB.
	CacheBytes int
	// JournalCompactBytes: once the acceptor journal holds more than this
	// many bytes (and more than twice its last checkpoint), the store syncs
	// the chosen log, writes a checkpoint of the live acceptor state and
	// truncates the journal front. Default 4*SegmentSize.
	JournalCompactBytes int
	// NoSync skips every fsync. ONLY for a labelled no-fsync benchmark
	// baseline: a store opened with it is not crash safe.
	NoSync bool
}

// Defaults.
const (
	DefaultSegmentSize = 4 << 20
	DefaultCacheBytes  = 64 << 20
)

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" || o.ClusterID == "" || o.NodeID == 0 {
		return o, fmt.Errorf("%w: dir=%q cluster=%q node=%d: all are required", ErrInvalid,
			o.Dir, o.ClusterID, o.NodeID)
	}
	if o.SegmentSize < 0 || o.CacheBytes < 0 || o.JournalCompactBytes < 0 {
		return o, fmt.Errorf("%w: segment=%d cache=%d compact=%d must not be negative", ErrInvalid,
			o.SegmentSize, o.CacheBytes, o.JournalCompactBytes)
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	o.Logger = o.Logger.Named("storage")
	if o.FS == nil {
		o.FS = defaultFS(o.Logger) // OSFS{}; with -tags paxlogfaults, faults armed by PAXLOG_STORAGE_FAULT (faultenv_on.go)
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.JournalCompactBytes == 0 {
		o.JournalCompactBytes = 4 * o.SegmentSize
	}
	return o, nil
}
