package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/paxlog/paxlog/paxos"
)

// countFS counts fsyncs (files and directories) on the OS file system.
type countFS struct {
	OSFS
	syncs atomic.Int64
}

type countFile struct {
	File
	fs *countFS
}

func (c *countFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := c.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return countFile{f, c}, nil
}

func (f countFile) Sync() error { f.fs.syncs.Add(1); return f.File.Sync() }

func (c *countFS) SyncDir(name string) error { c.syncs.Add(1); return c.OSFS.SyncDir(name) }

var benchBatches = []int{1, 16, 256}
var benchSizes = []int{64, 256, 4096}

// benchRecords builds a batch of n accept records of one size-byte entry
// each. Every op re-accepts the same n slots at a higher round, so the
// acceptor state stays bounded however long the benchmark runs.
func benchRecords(n, size int) []paxos.Record {
	recs := make([]paxos.Record, n)
	for i := range recs {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i + j)
		}
		recs[i] = paxos.Record{Kind: paxos.RecordAccept,
			Entries: []paxos.Entry{{Slot: uint64(i + 1), Data: data}}}
	}
	return recs
}

// BenchmarkPersist: one op is one Persist of batch records of size bytes
// (one WriteBatch, one fsync). MB/s counts payload bytes.
func BenchmarkPersist(b *testing.B) {
	for _, n := range benchBatches {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("batch=%d/size=%d", n, size), func(b *testing.B) {
				benchPersist(b, n, size, false)
			})
		}
	}
}

// BenchmarkPersistNoSync is the labelled no-fsync baseline (Options.NoSync):
// not crash safe, it shows the cost of the store's own code.
func BenchmarkPersistNoSync(b *testing.B) {
	b.Run("batch=256/size=256", func(b *testing.B) { benchPersist(b, 256, 256, true) })
}

func benchPersist(b *testing.B, n, size int, noSync bool) {
	fsys := &countFS{}
	o := testOpts(b.TempDir())
	o.FS, o.NoSync = fsys, noSync
	// PAXLOG_BENCH_SEGMENT_SIZE overrides the segment size (bytes) to
	// compare settings; the default is the store's default.
	if v := os.Getenv("PAXLOG_BENCH_SEGMENT_SIZE"); v != "" {
		if _, err := fmt.Sscan(v, &o.SegmentSize); err != nil {
			b.Fatalf("PAXLOG_BENCH_SEGMENT_SIZE=%q: %v", v, err)
		}
	}
	s := mustOpen(b, o)
	defer mustClose(b, s)
	recs := benchRecords(n, size)
	b.SetBytes(int64(n * size))
	b.ResetTimer()
	start := fsys.syncs.Load()
	for i := 0; i < b.N; i++ {
		bal := paxos.Ballot{Round: uint64(i + 1), Node: 1}
		for j := range recs {
			recs[j].Ballot, recs[j].Entries[0].Ballot = bal, bal
		}
		if err := s.Persist(recs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(fsys.syncs.Load()-start)/float64(b.N), "fsyncs/op")
}

// BenchmarkRawFile is the raw baseline: the same payload bytes per op
// appended to a plain file with one write and one fdatasync.
func BenchmarkRawFile(b *testing.B) {
	for _, n := range benchBatches {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("batch=%d/size=%d", n, size), func(b *testing.B) {
				f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				buf := make([]byte, n*size)
				for i := range buf {
					buf[i] = byte(i)
				}
				b.SetBytes(int64(len(buf)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := f.Write(buf); err != nil {
						b.Fatal(err)
					}
					if err := fdatasync(f); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(1, "fsyncs/op")
			})
		}
	}
}
