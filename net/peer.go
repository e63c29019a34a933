package net

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

// Redial backoff bounds; each wait is jittered to [d/2, d).
const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 2 * time.Second
	// deadlineEvery: a long batch refreshes its write deadline after this
	// many frames.
	deadlineEvery = 256
	writeBufSize  = 64 << 10
)

// peer is one member of the mesh as seen from this node: its bounded send
// queue and its counters. The queue is drained by one writer goroutine.
type peer struct {
	id    paxos.NodeID
	addr  string
	queue chan paxos.Message
	ctr   peerCounters
}

func newPeer(id paxos.NodeID, addr string, queueLen int) *peer {
	return &peer{id: id, addr: addr, queue: make(chan paxos.Message, queueLen)}
}

// enqueue never blocks: a full queue (or a closed transport) drops m.
func (p *peer) enqueue(m paxos.Message, done <-chan struct{}) {
	select {
	case <-done:
		p.ctr.queueDrops.Add(1)
		return
	default:
	}
	select {
	case p.queue <- m:
	default:
		p.ctr.queueDrops.Add(1)
	}
}

// backoff is a jittered exponential redial delay.
type backoff struct {
	d   time.Duration
	rnd *rand.Rand
}

func newBackoff(seed uint64) *backoff {
	return &backoff{rnd: rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))}
}

func (b *backoff) next() time.Duration {
	b.d = min(max(2*b.d, backoffMin), backoffMax)
	return b.d/2 + time.Duration(b.rnd.Int64N(int64(b.d/2)))
}

func (b *backoff) reset() { b.d = 0 }

// peerConn is an established outbound connection.
type peerConn struct {
	conn    net.Conn
	bw      *bufio.Writer
	pending int // frames written since the last flush
}

// runPeer is p's writer goroutine: it takes messages from the queue, dials
// when needed (with backoff), writes frames through a buffered writer and
// flushes when the queue is empty.
func (s *Server) runPeer(p *peer) {
	defer s.wg.Done()
	enc := newFrameEncoder(s.h, s.cfg.MaxFrame)
	bo := newBackoff(uint64(s.cfg.NodeID)<<32 | uint64(p.id))
	var pc *peerConn
	dialed := false
	failures := 0 // consecutive failed dials
	defer func() {
		if pc != nil {
			s.untrack(pc.conn)
		}
		p.ctr.connected.Store(false)
	}()
	for {
		var m paxos.Message
		select {
		case m = <-p.queue:
		case <-s.ctx.Done():
			return
		}
		for pc == nil {
			var err error
			if pc, err = s.dialPeer(p); err == nil {
				if dialed {
					p.ctr.reconnects.Add(1)
				}
				dialed = true
				failures = 0
				bo.reset()
				break
			}
			p.ctr.dialFailures.Add(1)
			if s.ctx.Err() != nil {
				return
			}
			s.dialFailed(p, err, failures)
			failures++
			select {
			case <-time.After(bo.next()):
			case <-s.ctx.Done():
				return
			}
		}
		if !s.writeBatch(p, pc, enc, m) {
			s.untrack(pc.conn)
			pc = nil
			p.ctr.connected.Store(false)
		}
	}
}

// writeBatch writes m and then everything queued, flushing when the queue
// is empty. It returns false when the connection failed. A message that
// does not encode within MaxFrame is dropped and counted.
func (s *Server) writeBatch(p *peer, pc *peerConn, enc *frameEncoder, m paxos.Message) bool {
	for {
		if pc.pending%deadlineEvery == 0 {
			_ = pc.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		}
		if body, err := enc.encode(framePeer, &m); err != nil {
			p.ctr.writeDrops.Add(1)
			s.log.Error("message dropped: cannot encode", "peer", p.id, "error", err)
		} else if err := writeHdrBody(pc.bw, enc.hdr[:], body); err != nil {
			return s.writeFailed(p, pc, err)
		} else {
			pc.pending++
			p.ctr.framesOut.Add(1)
			p.ctr.bytesOut.Add(uint64(frameHeaderLen + len(body)))
		}
		select {
		case m = <-p.queue:
			continue
		default:
		}
		if err := pc.bw.Flush(); err != nil {
			return s.writeFailed(p, pc, err)
		}
		pc.pending = 0
		return true
	}
}

func writeHdrBody(w *bufio.Writer, hdr, body []byte) error {
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// writeFailed counts the frames lost with a failed connection.
func (s *Server) writeFailed(p *peer, pc *peerConn, err error) bool {
	p.ctr.writeDrops.Add(uint64(max(pc.pending, 1)))
	if s.ctx.Err() == nil {
		s.log.Warn("write to peer failed; reconnecting", "peer", p.id, "addr", p.addr, "error", err)
	}
	return false
}

// dialFailed logs the first failure of a run at WARN (after a refusal or
// TLS error) or INFO (peer down), later ones at DEBUG.
func (s *Server) dialFailed(p *peer, err error, before int) {
	switch {
	case before > 0:
		s.log.Debug("dial failed", "peer", p.id, "addr", p.addr, "error", err)
	case errors.Is(err, ErrHandshake) || errors.Is(err, ErrTLSMismatch):
		s.log.Warn("peer refused the connection", "peer", p.id, "addr", p.addr, "error", err)
	default:
		s.log.Info("peer unreachable; redialing with backoff", "peer", p.id, "addr", p.addr, "error", err)
	}
}

// dialPeer connects to p, runs TLS and the hello, and starts a watcher
// that closes the connection when the remote closes it (so the writer
// notices at its next write instead of writing into a dead socket).
func (s *Server) dialPeer(p *peer) (*peerConn, error) {
	d := net.Dialer{Timeout: s.cfg.DialTimeout}
	deadline := time.Now().Add(s.cfg.DialTimeout)
	raw, err := d.DialContext(s.ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	if !s.track(raw) {
		return nil, ErrClosed
	}
	conn := raw
	if s.tls != nil {
		tc := tls.Client(raw, s.tls.peer(p.id, s.cfg.ClusterID))
		_ = raw.SetDeadline(deadline)
		if err := tc.HandshakeContext(s.ctx); err != nil {
			s.untrack(raw)
			s.ctr.handshakeFails.Add(1)
			return nil, tlsMismatchError(p.addr, err)
		}
		conn = tc
	}
	hi := hello{Version: protoVersion, Cluster: s.cfg.ClusterID, Role: rolePeer, Node: s.cfg.NodeID}
	node, fr, err := clientHandshake(conn, s.h, s.cfg.MaxFrame, hi, deadline)
	if err == nil && node != p.id {
		err = errHandshakeNode(p.id, node)
	}
	if err != nil {
		s.untrack(raw)
		s.ctr.handshakeFails.Add(1)
		return nil, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_, _ = io.Copy(io.Discard, fr.r)
		_ = raw.Close()
		p.ctr.connected.Store(false)
	}()
	p.ctr.connected.Store(true)
	s.log.Debug("connected to peer", "peer", p.id, "addr", p.addr)
	return &peerConn{conn: conn, bw: bufio.NewWriterSize(conn, writeBufSize)}, nil
}
