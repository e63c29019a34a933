// Package chaos is the fault-injection harness of paxlog (issue 8): it runs
// real `paxlog serve` processes on loopback, breaks them in the ways real
// deployments break, records what clients observed and checks the record.
// It owns nothing the binary uses; only its tests and on-demand runs
// import it. It imports the log package as replog (for replog.Client) and
// paxos for ids and ballots; never storage or net.
//
// # Harness
//
// A Cluster starts 3 or 5 replicas, each `paxlog serve` with its own data
// directory and log file. Partitions go through an in-repo fault proxy, not
// network namespaces: for every ordered pair (a, b) a Link listens on
// loopback and forwards to b, and replica a's --peers names that Link as
// b's address (the peer mesh dials one connection per direction, so Link
// a->b carries exactly a's messages to b). Cutting a Link closes its
// connections and blackholes new ones (accepted, read, discarded, never
// forwarded); healing closes the blackholed ones so the sender redials.
// Partitions cut random halves, isolate one replica, or cut one direction
// only. Clients dial the replicas directly (a redirect names the address
// the redirecting replica has for the leader, which may be a Link).
// Children run with Pdeathsig=SIGKILL and without the test's PAXLOG_*
// variables; Cluster.Close kills them all.
//
// # Nemeses
//
// A run is a sequence of rounds; each round lets the workload run, injects
// one fault drawn (with its victims and timing) from the printed seed,
// heals, waits until an append succeeds, and ends with a fence (below).
// Faults: SIGKILL of a random minority (half the time including the
// leader; then the time from the kill to the first successful append is
// the recovery time), SIGKILL of the whole cluster, SIGSTOP/SIGCONT of a
// minority, partitions, a restart armed with a storage crash point that
// truncates every segment back to its last fsynced size (keeping a torn
// prefix at random) and SIGKILLs the process from inside its persist path,
// a power failure of the whole cluster (the same crash on every replica at
// once, triggered by SIGUSR1), a data directory wipe, and a restart armed
// with an injected fsync or write error (EIO, ENOSPC) that must make the
// replica stop. Storage faults need a binary built with -tags paxlogfaults
// (storage/faultenv_on.go); they are armed by the PAXLOG_STORAGE_FAULT
// variable of one process start. The wipe-quorum fault (isolate B, let A
// and C acknowledge, kill A, wipe C, heal B) is the scenario wipe protection
// exists for: a wiped C that voted at once would let B choose other values
// in slots A and C had chosen.
//
// # Workload
//
// Appenders append unique values ("a3-117") through replog.Client, which
// retries with the same (client id, sequence). CheckTail workers call
// Client.CheckTail. Readers do a linearizable read at one replica: CheckTail
// there, then Read(i) there; the pair is recorded as one read operation
// spanning both calls (Read alone is not linearizable: a follower may lag).
// Read reports an index the replica has not applied as ErrNotFound, like a
// no-op slot; when the Client retried the Read on a new incarnation of the
// replica that is behind the CheckTail result, the answer says nothing about
// the log and the read is recorded as unknown.
// Consumers tail the log from several replicas for the whole run.
//
// # Rounds and fences
//
// At the end of each round the workers are stopped and every call has
// returned (failed calls included: their outcome is unknown), then a
// CheckTail answers the tail t_r. Every operation of round r+1 is invoked
// after that. A fence is what lets porcupine check a long history window
// by window: a window is a run of whole rounds (at most 10,000 operations)
// whose initial state is the tail of the fence before it.
//
// # Sequential model (porcupine)
//
// The state of the log is a map index -> value of delivered entries. The
// operations are append(v) -> i, read(i) -> v | not found, and checktail()
// -> t (the last delivered index). Values are unique, so the history fixes
// which value each index holds once its append has taken effect; in any
// sequential order, appends take effect in increasing index order (a later
// append gets a larger index). The state therefore reduces to last, the
// highest index appended so far:
//
//	append(v) -> i       legal iff i > last, then last = i
//	read(i) -> v         legal iff i <= last and the append at i carried v
//	read(i) -> none      legal iff i > last or no append of the history is at i
//	checktail() -> t     legal iff t == last
//
// checktail is checked for equality, which is stronger than "t is at least
// every append completed before it started": the barrier CheckTail uses is
// chosen after every slot chosen before the call and before any slot
// proposed after it, so it names exactly the tail at one instant.
//
// Why this is sound for this system: the moment an append takes effect is
// when its slot is first applied by any replica. Replicas apply slots in
// order, so these moments are increasing in the index; each lies after the
// call (a slot is proposed after the request arrives) and before the
// acknowledgement (the leader acknowledges after applying). A read that
// returned v at i ran after some replica applied i; a read that found
// nothing at i above the CheckTail it did first is placed at that
// CheckTail's instant.
//
// Appends whose call failed have unknown outcomes. After the run every
// replica's delivered log is read; an unknown append whose value is there
// at index i took effect at i (its return time is unknown: infinite; if i
// lies beyond the fence of its own round, it took effect in a later round
// and is checked in that round's window, invoked at that window's start);
// an unknown append whose value is nowhere never took effect and is left
// out. Failed reads and checktails have no effect and are left out. A
// porcupine timeout is reported as "unverified", a failure, never a pass.
//
// # Log checker
//
// CheckLog runs in linear time over the record: every acknowledged append
// is at its index on every replica; no replica or consumer delivers a value
// twice or a value never appended; indexes strictly increase; every replica
// holds the same value at every index and no index below its last that
// another replica delivered; every replica reaches the final fence's tail;
// every consumer's entries equal the replicas' and it skipped nothing
// between its first and last entry.
//
// On a violation the record (history, fences, replica logs, tails) is saved
// as JSON and porcupine's visualization of each failed window as HTML, in
// $PAXLOG_CHAOS_OUT or the test's temporary directory; the test prints the
// paths and the seed.
//
// # Running
//
//	go test -race ./cmd/paxlog/internal/chaos                  # CI size, about 3 minutes
//	PAXLOG_CHAOS_DURATION=60m go test ./cmd/paxlog/internal/chaos -run 'TestChaos$' -v -timeout 0
//
// PAXLOG_CHAOS_SEED replays a seed, PAXLOG_CHAOS_PLAN replaces the plan
// ("wipe-quorum=3,kill-minority=5"), PAXLOG_CHAOS_NODES=5 runs 5 replicas,
// PAXLOG_CHAOS_OUT keeps every run's directory (history, visualization,
// replica logs and data).
package chaos
