package net

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/paxlog/paxlog/paxos"
)

// Server is the TCP Transport of one replica. It listens on one port for
// both peers and clients (the hello says which), dials every peer for its
// outbound messages, and serves clients through a ClientHandler. Create it
// with Listen; stop it with Close.
type Server struct {
	cfg     Config
	log     hclog.Logger
	h       *codec.MsgpackHandle
	tls     *tlsMaterial
	ln      net.Listener
	clients ClientHandler
	refuse  refusalLog

	inbox chan paxos.Message
	peers map[paxos.NodeID]*peer // fixed at Listen
	ctr   counters

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	once   sync.Once
}

var _ Transport = (*Server)(nil)

// Listen binds cfg.Listen, starts the accept loop and one writer goroutine
// per peer, and returns the running Server. clients may be nil: then client
// hellos are refused. Listen does not modify cfg.
func Listen(cfg Config, clients ClientHandler) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tm, err := loadTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("paxnet: listen %s: %w", cfg.Listen, err)
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, h: newHandle(cfg.MaxFrame), tls: tm, ln: ln, clients: clients,
		inbox: make(chan paxos.Message, cfg.QueueLen),
		peers: make(map[paxos.NodeID]*peer, len(cfg.Peers)),
		conns: make(map[net.Conn]struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.refuse.log = s.log
	if tm == nil {
		s.log.Warn("plaintext transport: peers and clients are unauthenticated; configure TLS", "addr", s.Addr())
	}
	s.log.Info("listening", "addr", s.Addr(), "node", cfg.NodeID, "cluster", cfg.ClusterID, "tls", tm != nil)
	for id, addr := range cfg.Peers {
		p := newPeer(id, addr, cfg.QueueLen)
		s.peers[id] = p
		s.wg.Add(1)
		go s.runPeer(p)
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr returns the bound "host:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Send implements Transport: it never blocks.
func (s *Server) Send(m paxos.Message) { sendToPeer(s.peers, &s.ctr, m, s.ctx.Done()) }

// Messages implements Transport.
func (s *Server) Messages() <-chan paxos.Message { return s.inbox }

// Stats implements Transport.
func (s *Server) Stats() Stats { return statsOf(s.peers, &s.ctr) }

// Close implements Transport: it closes the listener and every connection,
// stops every goroutine, waits for them, then closes Messages().
func (s *Server) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.cancel()
		_ = s.ln.Close()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		close(s.inbox)
		s.log.Info("closed", "addr", s.Addr())
	})
	return nil
}

// track registers a connection so Close can close it; false when closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	_ = c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failure (EMFILE...): back off briefly, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "error", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		if !s.track(c) {
			return
		}
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

// serveConn runs the listener side of the handshake, then hands the
// connection to the peer reader or the client server.
func (s *Server) serveConn(raw net.Conn) {
	defer s.wg.Done()
	defer s.untrack(raw)
	remote := raw.RemoteAddr().String()
	_ = raw.SetDeadline(time.Now().Add(s.cfg.DialTimeout))
	conn, state, err := s.secure(raw)
	if err != nil {
		s.refused(remote, err)
		return
	}
	fr := newFrameReader(conn, s.h, s.cfg.MaxFrame)
	hi, err := readHello(fr)
	if err == nil {
		err = checkHello(hi, s.cfg.ClusterID, s.cfg.NodeID, s.cfg.Peers, s.clients != nil, state)
		if err != nil {
			s.writeWelcome(conn, err.Error())
		}
	}
	if err != nil {
		s.refused(remote, err)
		return
	}
	if err := s.writeWelcome(conn, ""); err != nil {
		s.refused(remote, err)
		return
	}
	_ = raw.SetDeadline(time.Time{})
	if hi.Role == rolePeer {
		s.readPeer(conn, fr, s.peers[hi.Node], remote)
		return
	}
	s.ctr.clientConns.Add(1)
	cs := &clientServer{handler: s.clients, h: s.h, maxFrame: s.cfg.MaxFrame,
		writeTimeout: s.cfg.WriteTimeout, log: s.log, ctr: &s.ctr}
	cs.serve(s.ctx, conn, fr, remote)
}

// secure runs the TLS handshake when configured; on a plaintext listener
// it refuses TLS dialers with a plaintext line.
func (s *Server) secure(raw net.Conn) (net.Conn, *tls.ConnectionState, error) {
	if s.tls == nil {
		br := bufio.NewReaderSize(raw, 16)
		if sniffTLS(br) {
			_, _ = io.WriteString(raw, plaintextRefusal)
			return nil, nil, fmt.Errorf("%w: TLS client hello on a plaintext listener", ErrTLSMismatch)
		}
		return &bufferedConn{Conn: raw, r: br}, nil, nil
	}
	br := bufio.NewReaderSize(raw, 16)
	if b, err := br.Peek(1); err == nil && b[0] != tlsRecordHandshake {
		// A plaintext dialer: tell it in its own framing, then close.
		_ = s.writeWelcome(raw, msgTLSRequired)
		return nil, nil, fmt.Errorf("%w: plaintext hello on a TLS listener", ErrTLSMismatch)
	}
	tc := tls.Server(&bufferedConn{Conn: raw, r: br}, s.tls.server())
	if err := tc.HandshakeContext(s.ctx); err != nil {
		return nil, nil, fmt.Errorf("%w: TLS: %w", ErrHandshake, err)
	}
	st := tc.ConnectionState()
	return tc, &st, nil
}

func (s *Server) writeWelcome(conn net.Conn, refusal string) error {
	w := welcome{Version: protoVersion, Cluster: s.cfg.ClusterID, Node: s.cfg.NodeID, Err: refusal}
	bw := bufio.NewWriterSize(conn, 256)
	if _, err := newFrameEncoder(s.h, s.cfg.MaxFrame).writeFrame(bw, frameWelcome, &w); err != nil {
		return err
	}
	return bw.Flush()
}

func (s *Server) refused(remote string, err error) {
	if s.ctx.Err() != nil {
		return
	}
	s.ctr.handshakeFails.Add(1)
	s.refuse.refused(remote, err)
}

// readPeer reads paxos messages from an inbound peer connection until it
// fails. A malformed frame or a message not from the hello's node closes
// the connection. A full inbox drops the message (never blocks).
func (s *Server) readPeer(conn net.Conn, fr *frameReader, p *peer, remote string) {
	s.log.Debug("peer connected", "peer", p.id, "remote", remote)
	for {
		typ, body, err := fr.next()
		if err == nil && typ != framePeer {
			err = fmt.Errorf("%w: frame type %d on a peer connection", ErrMalformed, typ)
		}
		var m paxos.Message
		if err == nil {
			err = fr.decode(body, &m)
		}
		if err == nil && m.From != p.id {
			err = fmt.Errorf("%w: message from %d on node %d's connection", ErrMalformed, m.From, p.id)
		}
		if err != nil {
			s.readFailed(p.id, remote, err)
			return
		}
		p.ctr.framesIn.Add(1)
		p.ctr.bytesIn.Add(uint64(frameHeaderLen + len(body)))
		select {
		case s.inbox <- m:
		default:
			s.ctr.inboundDrops.Add(1)
		}
	}
}

func (s *Server) readFailed(id paxos.NodeID, remote string, err error) {
	if s.ctx.Err() != nil {
		return
	}
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrFrameTooLarge) {
		s.ctr.malformed.Add(1)
		s.log.Warn("malformed frame; closing connection", "peer", id, "remote", remote, "error", err)
		return
	}
	s.log.Debug("peer connection closed", "peer", id, "remote", remote, "error", err)
}

// bufferedConn is a net.Conn whose reads go through a bufio.Reader that
// has already peeked at the first bytes.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
