// Package paxos is Multi-Paxos as a deterministic state machine: no I/O, no
// goroutines, no clock. A Node is driven from outside, like etcd's raft
// RawNode: Step for network input, Tick for logical time, Propose for client
// values, and Ready/Advance to learn what to do.
//
// # The durability contract
//
// Ready.Persist holds acceptor records (promises and accepts) that must be
// durable, fsynced, BEFORE any of Ready.Messages leaves the process. A
// driver that sends first can lose a promise or an accept in a crash and
// break agreement. A failed persist stops the node; it is never retried.
// Ready.Eager holds messages that report no acceptor state (a leader's
// Prepare, Accept and Heartbeat, CatchUp, Chosen, Trimmed): they may leave at
// once, so a leader's fsync overlaps its followers'. The node sorts every
// message it sends into one of the two lists in one place (Node.send); a
// leader counts its own accept as a vote, and a candidate its own promise,
// only at Advance, when the driver has said the record is durable.
//
// A Ready's slices belong to the driver once Ready returns; entries inside
// records and messages may be shared among them and with proposed data and
// are read-only. Propose keeps the caller's byte slices by reference.
//
// # Roles and message flow
//
// Ballots are (round, node id), so two nodes never share one. One slot holds
// one entry; no-op entries fill holes. Each role lives in its own file:
//
//	acceptor.go  promised ballot; accepted (slot, ballot, entry) per slot
//	phase1.go    the proposer as candidate: ballot choice, promises, merge
//	proposer.go  the proposer as leader: re-proposal, hole filling, phase 2
//	learner.go   chosen slots, the contiguous chosen prefix, catch-up
//	election.go  election timer and role changes
//	node.go      Step/Tick/Ready/Advance plumbing
//	window.go    a ring of per-slot state indexed by slot (no maps per slot)
//
// Phase 1 runs once per leadership, for every slot from the candidate's first
// unchosen slot upward:
//
//	candidate                       acceptor
//	Prepare{Ballot, Slot} ───────►  promise unless a higher ballot was promised
//	                                or a live leader holds the lease (Nack{Hint})
//	          ◄─────────────────── Promise{Ballot, Slot, Count, Commit, Entries}
//
// A Promise reports every (slot, ballot, entry) the acceptor accepted at
// slots >= Slot above its durable chosen log, split in parts of at most
// MaxMsgBytes (a part covers [Slot, Slot+Count); Count 0 means "to the
// end"; parts may arrive in any order). Commit is the acceptor's durable
// chosen index; when it covers slots the candidate lacks, the acceptor sends
// those chosen entries along (Chosen) and the candidate does not lead until
// it has learned them. With a majority of promises that includes its own
// (counted at Advance, so its promise is durable before any Accept at its
// ballot leaves, even from a pipelining driver) the new leader re-proposes,
// at its own ballot, the highest-ballot entry reported for each slot, fills
// every hole below the highest reported slot with a no-op, and only then
// accepts new values. So every slot from the leader's start slot on is
// proposed at the leader's ballot, and every slot below it the leader
// already knew chosen.
//
// Phase 2:
//
//	leader                          acceptor
//	Accept{Ballot, Slot, Entries,
//	       Commit, CommitBallot} ─►  accept unless a higher ballot was promised
//	          ◄─────────────────── Accepted{Ballot, Slot, Count}   (or Nack)
//	Heartbeat{Commit, CommitBallot} ► HeartbeatAck{Slot: chosen}
//
// An Accept carries a run of consecutive slots within MaxMsgBytes. A slot is
// chosen at the leader when a majority (itself included, at Advance) accepted
// it at the leader's ballot.
//
// # Learning: a commit index alone is never enough
//
// Accept and Heartbeat carry Commit (every slot up to it is chosen) and
// CommitBallot (the leader's ballot: the slots it chose were chosen at it). A
// follower marks slot s chosen only if it accepted s at exactly CommitBallot,
// because one ballot proposes one value per slot. Otherwise — it accepted s
// at an older ballot, or never — it sends CatchUp for the missing range; the
// answer, Chosen, carries entries the sender knows chosen, which the receiver
// marks chosen directly. A leader learns from peers only slots below its
// start slot: above it, a chosen value it did not choose itself could only
// come from a newer leader, and vouching for it at its own ballot would be a
// lie. Catch-up is served from memory, else from Config.Log; a request
// below the server's first slot is answered Trimmed{Slot: first}, and the
// requester restarts its chosen log there (Ready.ResetTo). With Config.Log
// set, chosen entries are dropped from memory after Advance beyond a small
// window; without it, memory holds every chosen entry (tests only).
//
// # Liveness
//
// A leader sends heartbeats every HeartbeatTicks. A follower that hears no
// leader for a random number of ticks in [ElectionTicks, 2*ElectionTicks)
// (from Config.Rand only) starts phase 1 with ballot (max round seen + 1, its
// id). An acceptor that heard a live leader within ElectionTicks, or is the
// leader, answers other nodes' Prepares with Nack, so a node rejoining after
// a partition cannot depose a healthy leader. A Nack with a higher Hint makes
// a candidate step back (its next ballot goes above the hint) and makes a
// leader that still hears a majority run phase 1 again at once above the
// hint: its followers still grant it the lease, so it keeps its place. A
// leader that has heard no majority (Accepted, HeartbeatAck) within
// ElectionTicks steps down. Unacknowledged Accepts are resent after
// ResendTicks to the peers that did not vote.
//
// Pipelining is bounded: at most MaxInflightSlots proposed-but-unchosen slots
// and MaxInflightBytes of their payload; Propose beyond that returns
// ErrBackpressure and queues nothing. An acceptor stores accepts at most
// 2*MaxInflightSlots+1024 slots above its chosen log; a replica further
// behind catches up first.
//
// # Restart
//
// NewNode(cfg, hs) rebuilds a node from exactly what was persisted: the
// promised ballot, the accepts above the chosen log, and the chosen log's
// bounds. Nothing else survives; volatile state (role, votes, timers) starts
// over as a follower.
//
// # Rebuilding a lost replica
//
// A replica whose durable state is gone (a wiped disk, or a brand-new data
// directory: storage cannot tell them apart) starts with Config.Rebuilding.
// Voting at once from empty state would be unsafe: v chosen by {A,B}; A
// wiped; a later phase 1 with {A,C} sees nothing and chooses another value.
// A rebuilding node (rebuild.go) therefore never campaigns and never votes:
// it answers Prepare and Accept with Nack and persists nothing. It still
// follows the leader and learns chosen slots by CatchUp/Chosen (entries a
// peer knows chosen), never by votes of its own. It leaves rebuilding by
// one of two exits and then says so in Ready.Rebuilt; the driver makes that
// Ready's records durable, syncs the chosen log, clears its durable flag,
// then Advances. A crash before that restarts the rebuild, which is safe.
//
// Notation: n nodes, quorum q = n/2+1, A the rebuilding node, and "enough
// peers" means n-q+1 nodes other than A (q for odd n). Enough peers meet
// every quorum in a node other than A: (q-1) + (n-q+1) > n-1.
//
// The wait. A rebuilding node lets 2*ElectionTicks+1 ticks pass before it
// gathers evidence (Probe, answered by ProbeAck with the peer's durable
// promised ballot and chosen index). A candidate runs phase 1 at one ballot
// for less than 2*ElectionTicks ticks, then re-campaigns at a new ballot or
// gives up, and a crash ends its candidacy. So once the wait is over, no
// phase 1 that counted a promise of A's lost incarnation can still
// complete: it completed before, or never will. (This is a timing
// assumption, like the leader lease: nodes' ticks run at similar rates and
// a candidate is not paused for longer than the wait.)
//
// Exit (a), rebuilt. A leader's Heartbeat carries its ballot b and its next
// unassigned slot N. A leaves rebuilding when (1) it knows every slot below
// N chosen, and (2) enough peers answered a probe (sent after the wait)
// with promised == b. It then promises b, durably, and votes. Why this is
// safe: every value chosen at a ballot below b was reported in b's phase 1
// and re-proposed by b's leader below N, and every value chosen at b is
// below N, so A's chosen log holds all of them. No phase 1 above b that
// counted A's lost promises exists: it would have completed before the
// answers (the wait), and its q-1 promisers other than A meet the vouching
// peers, one of which would then have promised above b before answering b.
// No value was chosen above b with A's lost accepts either (that needs
// such a phase 1). So A with promise b, a chosen log through N-1 and no
// accepts is a state some correct acceptor could be in. When too few peers
// have promised b (an idle cluster in which a follower missed phase 1), A
// asks the leader for a fresh phase 1, at most every 4*ElectionTicks: a
// Nack whose Hint is above every ballot A saw, which makes a leader that
// still hears a majority re-run phase 1 above it (onNack).
//
// Exit (b), virgin cluster. A brand-new cluster starts with every node
// rebuilding. A leaves when enough peers answered (after the wait) with
// promised zero and nothing chosen, and it has nothing chosen either:
// every phase 1 that ever completed, and every value ever chosen, needed
// q-1 promises from nodes other than A, one of them a voucher who would
// have reported a nonzero promise. A then votes with an empty state,
// exactly like an acceptor that never took part. Residual assumption: the
// vouchers did not lose their own disks after promising (at most one
// replica is without its disk at a time; two concurrent wipes in a cluster
// that had chosen values could pass for a virgin cluster). Exit (a) needs
// no such assumption: a rebuilding node never promises, so it never
// vouches for (a).
//
// Liveness of the virgin start. A node that has promised nothing and holds
// nothing (a virgin hard state, or one just out of exit (b)) does not
// campaign on its own until a probe showed it a majority of voters: its
// own promise would otherwise become nonzero while peers still rebuild,
// deny them exit (b), and with fewer than q voters stall the cluster. A
// node just out of rebuilding answers probes as still rebuilding until the
// Ready that says Rebuilt is Advanced, so no peer counts on a voter a
// crash could turn back into a rebuilding node. Campaign (explicit) lifts
// the gate. The cost at start is the wait plus one round trip: a fresh
// 3-node cluster elects its leader after about 26 ticks instead of 10-20.
// A one-node cluster has nobody to learn from and ignores Rebuilding.
//
// # Testing hooks
//
// Config carries unexported planted-bug switches, set only by this package's
// tests, that break the protocol on purpose (promise not persisted,
// lowest-ballot value wins, commit index alone, send before persist, holes
// not filled, a wiped replica restarted without Rebuilding) so the
// simulator's checkers can be shown to fail.
//
// # Imports
//
// paxos imports nothing from this module: only the standard library and
// go-hclog. Everything else (storage, net, log) imports it; other packages
// import it under its own name, paxos.
package paxos
