// Package log is the replicated log: the Node that serves it, the Client
// that appends to it and tails it, and helpers that feed state machines.
// Other packages import it as replog:
//
//	import replog "github.com/paxlog/paxlog/log"
//
// log imports paxos, storage and net (as paxnet); nothing in the module but
// cmd/paxlog and bench imports log. It defines the small interfaces it
// consumes (Store, Transport, Network) so tests can hand it in-memory ones
// (MemStore, MemNetwork); the defaults are the real storage and paxnet/TCP.
//
// # The node loop
//
// One goroutine (the owner) drives the paxos core. It ticks every
// Config.TickInterval from a time.Ticker (default 10 ms; the election
// timeout is ElectionTicks*TickInterval, randomized up to twice that: 500
// ms to 1 s by default; heartbeats every HeartbeatTicks, 50 ms), steps
// inbound messages (at most 256 or 2 MiB of entries at a time), proposes
// queued appends, and pipelines the core's Readys (the paxos contract's
// pipelined form, persister.go) through a second goroutine, the persister:
//
//  1. the owner takes a Ready and sends Ready.Eager at once (a leader's
//     accepts leave while it fsyncs);
//  2. it appends Ready.Committed to the chosen log and applies it
//     (verdicts, dedup, conditions, trims), completes waiting appends and
//     wakes tailers: these entries are chosen, a majority made them durable;
//  3. it hands Persist and Messages to the persister, which writes every
//     Ready taken since its last write with ONE fsync and only then sends
//     their Messages. This is the durability rule: no promise or accepted
//     leaves the process before the state it reports, and everything taken
//     before it, is durable. A failed Persist stops the node (fail-stop,
//     never retried; later calls return ErrStopped);
//  4. the owner calls Advance for each written Ready, in the order taken.
//
// While the persister is inside an fsync the owner keeps stepping
// acknowledgements, committing and answering; a leader with 32 or more
// entries in flight lets new appends gather for the next Propose then,
// unless 64 are queued. The rare Readys
// that reset the chosen log (ResetTo) or end a rebuild (Rebuilt: Sync the
// chosen log, since what a rebuilding replica re-learned has no journal
// record behind it, then Store.MarkRebuilt), and every Ready while the node
// awaits a checkpoint, wait until the pipeline is empty and run in the
// base order: persist, send, reset or append, mark rebuilt, Advance.
//
// A store created empty (a new replica, or a lost data directory) reports
// Rebuilding: the core then neither promises nor accepts until it has
// re-learned the chosen log from its peers (paxos doc.go, "Rebuilding a
// lost replica"). Hence a new cluster elects its first leader only once
// enough of its replicas are up to vouch for each other (all 3 of 3, 4 of
// 5), about one election timeout later than a restarted one.
//
// Group commit and pipelining: appenders put proposals in a bounded queue
// (Config.MaxQueued entries); each loop iteration drains the queue into as
// few Propose calls as MaxBatchEntries/MaxBatchBytes allow (at most 2 MiB
// per Ready), so the appends that arrived during one fsync share the next
// Accept message and the next fsync on every replica, while earlier
// batches are still being accepted. When the paxos window is full
// (paxos.ErrBackpressure) proposals stay queued. An appender whose
// deadline passes before its proposal was taken into a Propose withdraws
// it and gets *BackpressureError (nothing was appended); one that finds
// the queue full waits up to its deadline, then gets the same. After a
// proposal was taken, a deadline gives an "outcome unknown" context
// error. Nothing grows without bound.
//
// Appends that reach a follower are redirected, not forwarded: they fail
// with *NotLeaderError naming the leader's id and address, and the Client
// follows it.
//
// # Entry format
//
// Every entry this package proposes carries a header inside
// paxos.Entry.Data:
//
//	+------+-------+-----------+---------+-------------+-------------+---------+
//	| kind | flags | client id | seq     | [expect]    | [before]    | payload |
//	| 1 B  | 1 B   | uvarint   | uvarint | uvarint     | uvarint     | rest    |
//	+------+-------+-----------+---------+-------------+-------------+---------+
//
// kind: 1 user append, 2 barrier (CheckTail), 3 trim. flags bit 0:
// conditional (then expect, the expected last delivered index, follows);
// bit 1: no dedup (Node.Append: the identity only matches the entry to its
// waiter). before follows for trims. No-op slots and data this package
// cannot decode are never delivered.
//
// # Verdicts, exactly-once and what consumers see
//
// Every replica applies the chosen log in slot order from the same state,
// in the owner goroutine, and decides a verdict per slot: delivered, or
// not (no-op, barrier, trim, filtered duplicate, failed condition, a
// sequence number too old to judge). Only user entries can be delivered,
// and the index of a delivered entry is its slot: indexes are increasing,
// not dense.
//
// Dedup: each Client append carries (client id, seq). A per-client table
// keeps the outcome (first copy's index, or the failed condition) of the
// last 1024 sequence numbers of each client, in a ring of at most 16 KiB
// that grows only when an in-window outcome would be overwritten (so its
// answers do not depend on how it was built). A (client, seq) already in
// the table is filtered and its appender gets the first copy's outcome; a
// seq at or below (the client's highest seq - 1024) is filtered with
// ErrSeqTooOld (a Client keeps at most 768 entries in flight, so its own
// retries never hit this). Eviction is deterministic and measured in
// slots: a client with no append in 2^22 slots is dropped (checked every
// 4096 slots), and beyond 1024 clients the one whose last append is oldest
// (lowest id on a tie) is dropped: at most 16 MiB. These bounds are
// constants, identical on every replica. Client id 0 means "no dedup".
//
// Node.Append and AppendBatch (in-process) use a node-unique identity
// with the no-dedup flag: any number of concurrent callers, and an entry
// whose slot went to another leader's value is re-proposed safely (that
// copy can never be chosen). Their outcome after ErrNotLeader, ErrClosed
// or a context error is unknown; use a Client for exactly-once retries.
//
// How a tail that starts mid-log knows the verdicts: non-user slots are
// recognised from their own data; the rare user slots that were NOT
// delivered are kept in a set (filteredSet) that the owner fills while
// applying, before it publishes the applied index. Tailers read the
// chosen log through the store, only up to the published applied index,
// and skip the slots in that set. The set and the dedup table are rebuilt
// at start by replaying the chosen log from the last checkpoint, so they
// survive restarts; they are bounded by the trim point (below).
//
// Conditional append: AppendIf(data, expect) is delivered only if, when it
// is applied, the last delivered index equals expect; otherwise every
// replica filters it and the appender gets *ConditionError.
//
// # Trim
//
// Trim(before) proposes a trim entry. Every replica, applying it at slot
// s, uses the trim point t = min(before, s+1): it syncs the chosen log,
// stores a checkpoint of its applied state at s (dedup table, last
// delivered index, the filtered slots >= t) with Store.SetCheckpoint, and
// calls TrimChosen(t). A restart restores the checkpoint and replays from
// s+1. Tail or Read below t fails with *TrimmedError carrying t.
//
// Checkpoint layout (uvarints after the version byte):
//
//	version=1 | applied | last delivered | valid from | #clients |
//	  { client id | max seq | last slot | #seqs | { seq | outcome } } |
//	#filtered | { filtered slot }
//
// where valid from is the trim point (filtered slots below it are not
// kept) and outcome is the first copy's index, or 2^63 | the last
// delivered index a failed condition was checked against.
//
// A replica whose chosen log restarts at a trim point it has no checkpoint
// for (paxos Ready.ResetTo: it was down while every peer trimmed past it)
// cannot judge verdicts, which depend on the history it lacks. It keeps
// storing chosen entries but applies nothing (tails wait, appends are
// refused with ErrNotLeader) until it has fetched a peer's checkpoint at or
// after its first slot; it then trims to that checkpoint's trim point,
// installs it and replays the rest. The fetch uses the client protocol:
// OpRead of index 0 answers the replica's checkpoint (slot in Index,
// encoding in Data). It never delivers a verdict it is unsure of.
//
// # CheckTail
//
// CheckTail is confirmed by a quorum round (no lease): the leader proposes
// a barrier entry and answers the last delivered index before the
// barrier's slot; a follower asks the leader for that index over the
// client protocol, then waits until it has applied it.
//
// # Tail
//
// Tail(ctx, from) delivers every delivered entry at index >= from in
// order, exactly once per stream, blocking for new ones. It reads the
// store (its cache of recent entries) and waits on a broadcast channel
// that the owner closes after each applied batch; it never touches the
// core and never sees a slot that is not chosen and applied. Remote tails
// (Client.Tail) use paxnet's credit flow control: the server sends at most
// the credit the consumer granted, so a stalled consumer costs the server
// one batch (256 entries / 256 KiB) plus the granted credit.
//
// # Client
//
// A Client dials the addresses it is given lazily and keeps one connection
// per replica. Appends, trims and barriers go to the leader: a redirect
// names it and is followed at once; transport errors, replica timeouts,
// back-pressure and shutdowns are retried on the next replica with
// exponential backoff (5 ms to 500 ms), each attempt bounded by
// AttemptTimeout, until the call's context ends (then ErrUnavailable
// wraps the last error). Each append request carries the client id and
// the sequence number of its first entry (a request of n entries uses
// seq..seq+n-1); a retry reuses them, so it is never delivered twice. The
// client keeps at most MaxInflight entries in flight, well inside the
// replicas' dedup window. A remote Tail reconnects to another replica
// after a failure and resumes after the last index it delivered.
//
// # Observability
//
// Status reports role, leader, ballot, first/last/applied indexes, the
// in-flight and queued counts and, on the leader, each peer's match index
// and lag. Metrics returns counters (fsyncs and their total latency,
// proposals, commit latency, deliveries, filtered duplicates, leader
// changes, open tails).
//
// # Close
//
// Close stops accepting, fails queued and in-flight appends with ErrClosed
// (their outcome is unknown; a Client retries them elsewhere with the same
// identity, so they are never delivered twice), syncs the chosen log,
// closes transport and store and waits for every goroutine.
package log
