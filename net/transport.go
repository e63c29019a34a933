package net

import (
	"sync/atomic"

	"github.com/paxlog/paxlog/paxos"
)

// Transport carries paxos messages between replicas. The replicated log
// uses it; TCP (Server) and in-memory (MemNetwork) implementations share
// one conformance suite. All methods are safe for concurrent use.
type Transport interface {
	// Send queues m for m.To and returns at once; it never blocks. The
	// message is dropped and counted when the peer's queue is full, the
	// peer is unknown, m does not encode within MaxFrame, or the transport
	// is closed. Paxos tolerates loss. Messages to one peer are delivered in
	// Send order while a connection lasts; a reconnect may lose some.
	Send(m paxos.Message)
	// Messages returns the inbound channel (length Config.QueueLen). When it
	// is full, an arriving message is dropped and counted (Stats.InboundDrops)
	// rather than blocking the connection that carried it, so one slow
	// consumer never stalls readers. It is closed by Close after every
	// reader has stopped.
	Messages() <-chan paxos.Message
	// Stats returns a snapshot of the counters.
	Stats() Stats
	// Close stops every goroutine and closes every connection; it waits for
	// them. It is idempotent and always returns nil after the first call.
	Close() error
}

// Stats is a snapshot of a transport's counters (all monotonic).
type Stats struct {
	Peers map[paxos.NodeID]PeerStats
	// InboundDrops counts messages dropped because Messages() was full.
	InboundDrops uint64
	// UnknownPeerDrops counts Sends to a node id that is not in Peers.
	UnknownPeerDrops uint64
	// HandshakeFailures counts inbound or outbound handshakes refused or
	// failed (wrong cluster, unknown node, bad certificate, garbage, TLS).
	HandshakeFailures uint64
	// MalformedFrames counts connections closed because of a bad frame.
	MalformedFrames uint64
	// ClientConns counts client connections accepted.
	ClientConns uint64
}

// PeerStats are the counters of one peer.
type PeerStats struct {
	FramesOut, BytesOut uint64 // written to the peer's connection
	FramesIn, BytesIn   uint64 // read from connections the peer opened
	QueueDrops          uint64 // Send found the queue full (or the transport closed)
	WriteDrops          uint64 // lost in a failed write or too large to encode
	Reconnects          uint64 // successful outbound (re)connections after the first
	DialFailures        uint64 // failed dials or outbound handshakes
	Connected           bool   // an outbound connection is up now
}

// peerCounters are the live counters behind PeerStats.
type peerCounters struct {
	framesOut, bytesOut, framesIn, bytesIn atomic.Uint64
	queueDrops, writeDrops, reconnects     atomic.Uint64
	dialFailures                           atomic.Uint64
	connected                              atomic.Bool
}

func (c *peerCounters) snapshot() PeerStats {
	return PeerStats{
		FramesOut: c.framesOut.Load(), BytesOut: c.bytesOut.Load(),
		FramesIn: c.framesIn.Load(), BytesIn: c.bytesIn.Load(),
		QueueDrops: c.queueDrops.Load(), WriteDrops: c.writeDrops.Load(),
		Reconnects: c.reconnects.Load(), DialFailures: c.dialFailures.Load(),
		Connected: c.connected.Load(),
	}
}

// counters are a transport's global counters.
type counters struct {
	inboundDrops, unknownPeer, handshakeFails, malformed, clientConns atomic.Uint64
}

func (c *counters) fill(s *Stats) {
	s.InboundDrops = c.inboundDrops.Load()
	s.UnknownPeerDrops = c.unknownPeer.Load()
	s.HandshakeFailures = c.handshakeFails.Load()
	s.MalformedFrames = c.malformed.Load()
	s.ClientConns = c.clientConns.Load()
}

// sendToPeer queues m for its peer without blocking (the TCP and in-memory
// transports share it); a message to an unknown peer is a counted drop.
func sendToPeer(peers map[paxos.NodeID]*peer, ctr *counters, m paxos.Message, done <-chan struct{}) {
	p, ok := peers[m.To]
	if !ok {
		ctr.unknownPeer.Add(1)
		return
	}
	p.enqueue(m, done)
}

// statsOf snapshots a transport's per-peer and global counters.
func statsOf(peers map[paxos.NodeID]*peer, ctr *counters) Stats {
	st := Stats{Peers: make(map[paxos.NodeID]PeerStats, len(peers))}
	for id, p := range peers {
		st.Peers[id] = p.ctr.snapshot()
	}
	ctr.fill(&st)
	return st
}
