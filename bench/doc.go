// Package bench holds paxlog's benchmarks, run with go test -bench . ./bench:
// real 3-replica clusters on loopback TCP with real fsync in temporary
// directories. It has no non-test code.
package bench
