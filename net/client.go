package net

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paxlog/paxlog/paxos"
)

// ClientConn is a client connection to one replica. Calls and tail
// streams are multiplexed on it; it is safe for concurrent use. When the
// connection fails, every pending Call and stream returns an error wrapping
// the cause, and the ClientConn must be replaced (Dial again).
type ClientConn struct {
	cfg  ClientConfig
	log  hclog.Logger
	conn net.Conn
	w    *connWriter
	node paxos.NodeID
	addr string

	mu     sync.Mutex
	nextID uint64
	calls  map[uint64]chan *Response
	tails  map[uint64]*TailStream
	err    error // terminal error, set once

	done chan struct{} // closed when the reader stops
	once sync.Once
}

// Dial connects to a replica's address, runs TLS (when configured) and the
// client hello, and returns the connection. ctx bounds the dial and the
// handshake only.
func Dial(ctx context.Context, addr string, cfg ClientConfig) (*ClientConn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tm, err := loadTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("paxnet: dial %s: %w", addr, err)
	}
	conn := raw
	if tm != nil {
		tc := tls.Client(raw, tm.client(cfg.ClusterID))
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, tlsMismatchError(addr, err)
		}
		conn = tc
	}
	c, err := newClientConn(ctx, conn, addr, cfg)
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*tls.Conn); ok {
		if err := welcomeNamesNode(tc.ConnectionState(), c.node, cfg.ClusterID); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return c, nil
}

// newClientConn runs the client hello on conn and starts the reader.
func newClientConn(ctx context.Context, conn net.Conn, addr string, cfg ClientConfig) (*ClientConn, error) {
	h := newHandle(cfg.MaxFrame)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultDialTimeout)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	hi := hello{Version: protoVersion, Cluster: cfg.ClusterID, Role: roleClient}
	node, fr, err := clientHandshake(conn, h, cfg.MaxFrame, hi, deadline)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("paxnet: handshake with %s: %w", addr, err)
	}
	c := &ClientConn{cfg: cfg, log: cfg.Logger, conn: conn, node: node, addr: addr,
		w:     newConnWriter(conn, h, cfg.MaxFrame, cfg.WriteTimeout),
		calls: make(map[uint64]chan *Response), tails: make(map[uint64]*TailStream),
		done: make(chan struct{})}
	go c.readLoop(fr)
	return c, nil
}

// NodeID is the id of the replica this connection reached.
func (c *ClientConn) NodeID() paxos.NodeID { return c.node }

// Call sends req and waits for its response, the end of ctx (the request
// is then cancelled on the server and ctx's error returned), or the failure
// of the connection (an error wrapping the cause). Writing the request is
// bounded by ClientConfig.WriteTimeout.
func (c *ClientConn) Call(ctx context.Context, req *Request) (*Response, error) {
	ch := make(chan *Response, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.nextID++
	id := c.nextID
	c.calls[id] = ch
	c.mu.Unlock()
	if err := c.w.write(frameRequest, &reqEnvelope{ID: id, Req: req}); err != nil {
		c.forget(id)
		return nil, fmt.Errorf("paxnet: call %s on %s: %w", req.Op, c.addr, err)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		c.forget(id)
		_ = c.w.write(frameCancel, &cancelEnvelope{ID: id})
		return nil, ctx.Err()
	case <-c.done:
		select {
		case r := <-ch:
			return r, nil
		default:
		}
		return nil, c.failure()
	}
}

func (c *ClientConn) forget(id uint64) {
	c.mu.Lock()
	delete(c.calls, id)
	c.mu.Unlock()
}

func (c *ClientConn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Tail opens a tail stream from req.From with req.Credit entries of credit
// (default 1024). Errors from the server (ErrTrimmed...) arrive from Recv.
func (c *ClientConn) Tail(ctx context.Context, req TailRequest) (*TailStream, error) {
	if req.Credit <= 0 {
		req.Credit = defaultTailCredit
	}
	req.Credit = min(req.Credit, maxTailCredit)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.nextID++
	ts := &TailStream{c: c, id: c.nextID, credit: req.Credit, notify: make(chan struct{}, 1)}
	c.tails[ts.id] = ts
	c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		c.dropTail(ts.id)
		return nil, err
	}
	if err := c.w.write(frameTailOpen, &tailOpenEnvelope{ID: ts.id, Req: req}); err != nil {
		c.dropTail(ts.id)
		return nil, fmt.Errorf("paxnet: open tail on %s: %w", c.addr, err)
	}
	return ts, nil
}

func (c *ClientConn) dropTail(id uint64) {
	c.mu.Lock()
	delete(c.tails, id)
	c.mu.Unlock()
}

// Close closes the connection; pending calls and streams fail with
// ErrClosed. Idempotent.
func (c *ClientConn) Close() error {
	c.fail(ErrClosed)
	<-c.done
	return nil
}

// fail records the terminal error (first one wins) and closes the socket.
func (c *ClientConn) fail(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		_ = c.conn.Close()
	})
}

// readLoop dispatches responses and tail frames until the connection fails.
func (c *ClientConn) readLoop(fr *frameReader) {
	defer close(c.done)
	var err error
	for err == nil {
		var typ frameType
		var body []byte
		if typ, body, err = fr.next(); err != nil {
			break
		}
		switch typ {
		case frameResponse:
			err = c.onResponse(fr, body)
		case frameTailData:
			err = c.onTailData(fr, body)
		case frameTailEnd:
			err = c.onTailEnd(fr, body)
		default:
			err = fmt.Errorf("%w: frame type %d from server", ErrMalformed, typ)
		}
	}
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrFrameTooLarge) {
		c.log.Warn("malformed frame from server; closing", "addr", c.addr, "error", err)
	}
	c.fail(fmt.Errorf("paxnet: connection to %s: %w", c.addr, err))
	c.mu.Lock()
	tails := c.tails
	c.tails = map[uint64]*TailStream{}
	cerr := c.err
	c.mu.Unlock()
	for _, ts := range tails {
		ts.end(cerr)
	}
}

func (c *ClientConn) onResponse(fr *frameReader, body []byte) error {
	var env respEnvelope
	if err := fr.decode(body, &env); err != nil {
		return err
	}
	if env.Resp == nil {
		return fmt.Errorf("%w: response %d without a body", ErrMalformed, env.ID)
	}
	c.mu.Lock()
	ch := c.calls[env.ID]
	delete(c.calls, env.ID)
	c.mu.Unlock()
	if ch != nil {
		ch <- env.Resp
	}
	return nil
}

func (c *ClientConn) onTailData(fr *frameReader, body []byte) error {
	var env tailDataEnvelope
	if err := fr.decode(body, &env); err != nil {
		return err
	}
	c.mu.Lock()
	ts := c.tails[env.ID]
	c.mu.Unlock()
	if ts != nil {
		return ts.push(env.Entries)
	}
	return nil
}

func (c *ClientConn) onTailEnd(fr *frameReader, body []byte) error {
	var env tailEndEnvelope
	if err := fr.decode(body, &env); err != nil {
		return err
	}
	c.mu.Lock()
	ts := c.tails[env.ID]
	delete(c.tails, env.ID)
	c.mu.Unlock()
	if ts != nil {
		ts.end(&TailError{Code: env.Code, Msg: env.Msg, First: env.First})
	}
	return nil
}

// TailStream is the client side of a tail stream. Recv and Close may be
// called from one consumer goroutine at a time.
type TailStream struct {
	c      *ClientConn
	id     uint64
	credit int

	mu       sync.Mutex
	buf      []TailEntry
	consumed int // entries handed to the consumer since the last grant
	err      error
	notify   chan struct{}
}

// push buffers entries from the server; more than the granted credit is
// a protocol violation.
func (ts *TailStream) push(entries []TailEntry) error {
	ts.mu.Lock()
	if ts.err != nil { // closed by the consumer; late frames are dropped
		ts.mu.Unlock()
		return nil
	}
	if len(ts.buf)+len(entries) > ts.credit {
		ts.mu.Unlock()
		return fmt.Errorf("%w: server sent %d entries beyond credit %d", ErrMalformed, len(ts.buf)+len(entries), ts.credit)
	}
	ts.buf = append(ts.buf, entries...)
	ts.mu.Unlock()
	ts.wake()
	return nil
}

func (ts *TailStream) end(err error) {
	ts.mu.Lock()
	if ts.err == nil {
		ts.err = err
	}
	ts.mu.Unlock()
	ts.wake()
}

func (ts *TailStream) wake() {
	select {
	case ts.notify <- struct{}{}:
	default:
	}
}

// Recv returns the next entries in index order (at least one), waiting
// for them until ctx ends. After the stream ends it returns the error: a
// *TailError (wrapping ErrStreamClosed) when the server ended it, or the
// connection's error. Each Recv grants the server credit for what it
// returns once half the credit is consumed.
func (ts *TailStream) Recv(ctx context.Context) ([]TailEntry, error) {
	for {
		ts.mu.Lock()
		if n := len(ts.buf); n > 0 {
			out := ts.buf
			ts.buf = nil
			ts.consumed += n
			grant := 0
			if ts.consumed >= max(ts.credit/2, 1) && ts.err == nil {
				grant, ts.consumed = ts.consumed, 0
			}
			ts.mu.Unlock()
			if grant > 0 {
				_ = ts.c.w.write(frameTailCredit, &tailCreditEnvelope{ID: ts.id, N: uint64(grant)})
			}
			return out, nil
		}
		err := ts.err
		ts.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-ts.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close cancels the stream on the server. Later Recv calls return an
// error wrapping ErrStreamClosed. Idempotent.
func (ts *TailStream) Close() error {
	ts.mu.Lock()
	open := ts.err == nil
	if open {
		ts.err = fmt.Errorf("%w: closed by the client", ErrStreamClosed)
	}
	ts.buf = nil
	ts.mu.Unlock()
	if open {
		ts.c.dropTail(ts.id)
		_ = ts.c.w.write(frameTailEnd, &tailEndEnvelope{ID: ts.id})
	}
	return nil
}
