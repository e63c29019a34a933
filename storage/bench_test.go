package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tidwall/wal"

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

// benchRecords builds the accept records of one op: n entries of size
// bytes each, as n records of one entry (perRecord) or as one record of n
// entries (the shape the paxos core emits: one RecordAccept per Accept
// message, which carries a run of slots). Every op re-accepts the same n
// slots at a higher round, so the acceptor state stays bounded however
// long the benchmark runs.
func benchRecords(n, size int, perRecord bool) []paxos.Record {
	ents := make([]paxos.Entry, n)
	for i := range ents {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i + j)
		}
		ents[i] = paxos.Entry{Slot: uint64(i + 1), Data: data}
	}
	if !perRecord {
		return []paxos.Record{{Kind: paxos.RecordAccept, Entries: ents}}
	}
	recs := make([]paxos.Record, n)
	for i := range recs {
		recs[i] = paxos.Record{Kind: paxos.RecordAccept, Entries: ents[i : i+1 : i+1]}
	}
	return recs
}

// BenchmarkPersist: one op is one Persist of batch accept records of one
// size-byte entry each (one WriteBatch, one fsync). MB/s counts payload
// bytes. All records of an op share one ballot, so the journal stores
// them as one accept group (see batch.go), as it would one record of
// batch entries.
func BenchmarkPersist(b *testing.B) {
	for _, n := range benchBatches {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("batch=%d/size=%d", n, size), func(b *testing.B) {
				benchPersist(b, n, size, true, false)
			})
		}
	}
}

// BenchmarkPersistOneRecord: one op is one Persist of ONE accept record
// holding entries entries of size bytes: the paxos core's shape (one
// RecordAccept per Accept message). MB/s counts payload bytes.
func BenchmarkPersistOneRecord(b *testing.B) {
	for _, n := range benchBatches[1:] {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("entries=%d/size=%d", n, size), func(b *testing.B) {
				benchPersist(b, n, size, false, false)
			})
		}
	}
}

// BenchmarkPersistNoSync is the labelled no-fsync baseline (Options.NoSync):
// not crash safe, it shows the cost of the store's own code.
func BenchmarkPersistNoSync(b *testing.B) {
	b.Run("batch=256/size=256", func(b *testing.B) { benchPersist(b, 256, 256, true, true) })
}

func benchPersist(b *testing.B, n, size int, perRecord, noSync bool) {
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
	recs := benchRecords(n, size, perRecord)
	b.SetBytes(int64(n * size))
	b.ResetTimer()
	start := fsys.syncs.Load()
	for i := 0; i < b.N; i++ {
		bal := paxos.Ballot{Round: uint64(i + 1), Node: 1}
		for j := range recs {
			recs[j].Ballot = bal
			for k := range recs[j].Entries {
				recs[j].Entries[k].Ballot = bal
			}
		}
		if err := s.Persist(recs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(fsys.syncs.Load()-start)/float64(b.N), "fsyncs/op")
}

// BenchmarkRawFile is the raw baseline: the same payload bytes per op
// appended to a plain file with one write and one fdatasync. Like a WAL
// segment, the file is created empty and grows with every write (neither
// preallocates), so each fdatasync commits the new size and blocks in both.
// It writes payload only (batch x size bytes); Persist also writes its
// framing (for batch=256/size=256: 68,902 bytes of record per 65,536 of
// payload, and MB/s counts payload for both).
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

// BenchmarkNoSyncTidwallWrite and BenchmarkNoSyncFileWrite are labelled
// no-fsync diagnostics, not baselines: one op appends the journal record
// of one Persist of batch x size (its exact encoded size) to tidwall/wal
// alone (opened as the store opens it, default segment size) or to a plain
// file. The difference is what tidwall/wal's in-memory tail segment (a
// copy of every entry into a buffer that grows by append up to the segment
// size) costs per op before any fsync.
func BenchmarkNoSyncTidwallWrite(b *testing.B) {
	b.Run("batch=256/size=256", func(b *testing.B) { benchTidwall(b, true) })
}

func BenchmarkNoSyncFileWrite(b *testing.B) {
	b.Run("batch=256/size=256", func(b *testing.B) {
		rec := encodeBatch(nil, 1, benchRecords(256, 256, true))
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(256 * 256)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := f.Write(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTidwallSync is the ceiling of any store built on tidwall/wal:
// one op writes the journal record of one Persist of batch=256 x size=256
// (its exact encoded size) to tidwall/wal alone, as one entry, and lets
// tidwall fsync it (NoSync false). No CRC, no records, no store. Compare
// it with BenchmarkRawFile/batch=256/size=256 in the same run: the gap is
// what tidwall's write path costs before paxlog adds anything.
func BenchmarkTidwallSync(b *testing.B) {
	b.Run("batch=256/size=256", func(b *testing.B) {
		benchTidwall(b, false)
		b.ReportMetric(1, "fsyncs/op")
	})
}

// benchTidwall writes the journal record of one Persist of 256 x 256 B per
// op to tidwall/wal alone, opened as the store opens it (default segment
// size), with tidwall's own fsync per write unless noSync.
func benchTidwall(b *testing.B, noSync bool) {
	rec := encodeBatch(nil, 1, benchRecords(256, 256, true))
	log, err := wal.Open(b.TempDir(), &wal.Options{NoSync: noSync, SegmentSize: DefaultSegmentSize,
		LogFormat: wal.Binary, SegmentCacheSize: 1, AllowEmpty: true})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	b.SetBytes(256 * 256)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := log.Write(uint64(i+1), rec); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
}
