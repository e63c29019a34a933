package bench

import (
	"testing"

	"github.com/paxlog/paxlog/paxos"
	"github.com/paxlog/paxlog/storage"
)

// BenchmarkPersist is the storage layer alone through its public API: one
// op is one Store.Persist of batch accept records of one size-byte entry
// (one WriteBatch, one fsync), as a replica makes for one Accept. The full
// matrix (and a raw write+fdatasync baseline) is storage's own
// BenchmarkPersist and BenchmarkRawFile.
func BenchmarkPersist(b *testing.B) {
	for _, batch := range []int{1, 64, 512} {
		b.Run(name("batch", batch, "size", 256), func(b *testing.B) { benchPersist(b, batch, 256) })
	}
}

func benchPersist(b *testing.B, batch, size int) {
	fsys := &countFS{}
	st, err := storage.Open(storage.Options{Dir: b.TempDir(), ClusterID: clusterID, NodeID: 1, FS: fsys})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	recs := make([]paxos.Record, batch)
	for i := range recs {
		recs[i] = paxos.Record{Kind: paxos.RecordAccept,
			Entries: []paxos.Entry{{Slot: uint64(i + 1), Data: make([]byte, size)}}}
	}
	b.SetBytes(int64(batch * size))
	f0 := fsys.syncs.Load()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Re-accept the same slots at a higher round: bounded acceptor state.
		bal := paxos.Ballot{Round: uint64(i + 1), Node: 1}
		for j := range recs {
			recs[j].Ballot, recs[j].Entries[0].Ballot = bal, bal
		}
		if err := st.Persist(recs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(fsys.syncs.Load()-f0)/float64(b.N), "fsyncs/op")
}
