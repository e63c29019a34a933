// Package net is paxlog's transport: framing, the msgpack codec, the peer
// mesh and the client protocol. Other packages import it as paxnet:
//
//	import paxnet "github.com/paxlog/paxlog/net"
//
// Inside this package the standard library's "net" is imported plainly.
// net imports paxos for its message types and never imports the log or
// storage packages of this module.
package net
