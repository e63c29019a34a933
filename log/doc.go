// Package log is the replicated log: the Node that serves it, the Client
// that appends to it and tails it, and helpers that feed state machines.
// Other packages import it as replog:
//
//	import replog "github.com/paxlog/paxlog/log"
//
// log imports paxos, storage and net (as paxnet); nothing in the module but
// cmd/paxlog and bench imports log.
package log
