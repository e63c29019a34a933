// Package storage keeps a replica's durable state on github.com/tidwall/wal:
// the acceptor journal (promises and accepts) and the chosen log.
//
// storage imports paxos for its record types and never imports the log or
// net packages of this module.
package storage
