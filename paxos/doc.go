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
//
// # Protocol
//
// Ballots are (round, node id), so two nodes never share one. One slot holds
// one entry. A leader runs phase 1 once for every slot from its first
// unchosen slot upward, re-proposes the highest-ballot value reported for each
// slot, fills holes below the highest reported slot with no-ops, and only then
// proposes new values, many slots per Accept message. A follower marks a slot
// chosen only when it accepted that slot at the ballot the leader says it was
// chosen in; otherwise it fetches the value with a CatchUp.
//
// # Imports
//
// paxos imports nothing from this module: only the standard library and
// go-hclog. Everything else (storage, net, log) imports it.
package paxos
