// Package bench holds paxlog's benchmarks, run with go test -bench . ./bench:
// real 3-replica clusters in one process on 127.0.0.1 TCP, each replica with
// its own storage in a temporary directory and real fsync, driven through
// the public client library (replog.Client). It has no non-test code and no
// Test functions, so go test ./... only compiles it.
//
// Files: cluster_test.go starts a cluster (storage opened with a counting
// FS seam, so every fsync is counted); append_test.go has BenchmarkAppend,
// BenchmarkAppendBatch, BenchmarkAppendLocal and the labelled no-fsync
// baseline BenchmarkAppendNoSync; tail_test.go the remote tail benchmarks;
// persist_test.go a thin storage Persist benchmark; floor_test.go
// BenchmarkLoopbackFloor, the bare TCP round trip that every append through
// the Client makes (a floor, not paxlog); rss_test.go reads RSS, CPU time
// and bytes written from /proc and getrusage. README.md has the measured
// results, side by side with etcd and hashicorp/raft, and the commands that
// reproduce them.
//
// Sub-benchmark names carry their parameters (clients=16/size=256). Metrics
// are reported with b.ReportMetric: appends/s, MB/s, p50-ms, p99-ms,
// p99.9-ms, fsyncs/append, persists/append, cpu-us/append, disk-B/append,
// peak-rss-MiB, tail-entries/s, tail-lag-ms (round-trips/s and cpu-us/rt
// for the floor).
//
// bench imports log (as replog), storage and paxos; nothing imports bench.
package bench
