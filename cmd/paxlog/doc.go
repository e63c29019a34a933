// Command paxlog runs and operates paxlog replicas: a one-command local
// cluster (dev), one replica of a deployment (serve), and the tools append,
// tail, status, trim, bench and dump-wal. `paxlog help` lists every command,
// flag, default, environment variable and exit code.
//
// # Shape
//
// main only hands os.Args, stdout and stderr to run, which returns the exit
// code, so every command runs in-process in tests. Each command is a value
// holding its pflag flags (commands.go); `paxlog help` builds every flag set
// to list them. After the command line is parsed, every flag that was not
// given is taken from its environment variable PAXLOG_<FLAG> when set
// (precedence: flag > environment > default).
//
// # Exit codes (help.go)
//
// 0 success, 1 other error, 2 bad or missing flag, 3 address in use,
// 4 data directory of another cluster or node (storage.ErrIdentity),
// 5 corrupted data directory (storage.ErrCorrupt, naming file and offset),
// 6 no replica reachable, 7 replicas reachable but no leader within
// --timeout, 8 data directory in use by another running replica
// (storage.ErrLocked), 130 a second SIGINT/SIGTERM. Errors are classified with
// errors.Is on the wrapped causes; a client error that ends in
// replog.ErrUnavailable or a deadline is turned into 6 or 7 by dialling
// each address once (flags.go: explain).
//
// # Replicas, metrics and logs
//
// dev and serve start replicas through startReplica (replica.go), which
// opens storage itself and hands replog.Start a Store and a Network that
// measure: the Store wrapper times Persist (the journal fsync) and Sync, and
// notices the first failed write (the node is then stopped for good, so the
// process exits 1); the Network wrapper keeps the paxnet TCP server for its
// Stats and wraps the client handler to time appends (commit latency) and
// count remote tails. Gauges that mirror the node (leader, ballot, indexes,
// in-flight, per-peer lag, drops, storage size) are read at scrape time by a
// prometheus.Collector (metrics.go). The replicated log has no leader-change
// hook, so a watcher polls Node.Leader every 50 ms and logs one INFO line per
// change. Logs are hclog: the logger is named "paxlog"; replog, paxnet and
// storage log under it.
//
// # Signals
//
// The first SIGINT or SIGTERM cancels the command's context: servers close
// every replica (which syncs and closes storage) and exit 0; a second
// signal exits at once with 130 (signals.go).
//
// # Imports
//
// cmd/paxlog imports log (as replog) for nodes and clients, net (as paxnet)
// for the TCP transport, TLS configuration and client dialling, storage for
// opening data directories and its errors, and paxos for ids and ballots.
// Nothing imports cmd/paxlog.
package main
