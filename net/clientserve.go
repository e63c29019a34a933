package net

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-msgpack/v2/codec"
)

const (
	// maxInflightRequests bounds the HandleRequest goroutines of one
	// connection; beyond it the connection's reader waits.
	maxInflightRequests = 256
	// defaultTailCredit is used when a TailRequest grants no credit, and
	// maxTailCredit caps what a client may grant.
	defaultTailCredit = 1024
	maxTailCredit     = 1 << 20
)

// clientServer serves the client protocol on accepted connections.
type clientServer struct {
	handler      ClientHandler
	h            *codec.MsgpackHandle
	maxFrame     int
	writeTimeout time.Duration
	log          hclog.Logger
	ctr          *counters
}

// clientConnState is the server side of one client connection. Only the
// reader goroutine adds entries; handler goroutines remove their own.
type clientConnState struct {
	cs     *clientServer
	ctx    context.Context
	w      *connWriter
	wg     sync.WaitGroup
	sem    chan struct{}
	mu     sync.Mutex
	reqs   map[uint64]context.CancelFunc
	tails  map[uint64]*tailSink
	remote string
}

// serve runs the connection's reader until the connection fails or ctx
// ends, then cancels and waits for every handler goroutine.
func (cs *clientServer) serve(parent context.Context, conn net.Conn, fr *frameReader, remote string) {
	ctx, cancel := context.WithCancel(parent)
	st := &clientConnState{cs: cs, ctx: ctx, w: newConnWriter(conn, cs.h, cs.maxFrame, cs.writeTimeout),
		sem: make(chan struct{}, maxInflightRequests), reqs: make(map[uint64]context.CancelFunc),
		tails: make(map[uint64]*tailSink), remote: remote}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	err := st.readLoop(fr)
	cancel()
	_ = conn.Close()
	st.wg.Wait()
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrFrameTooLarge) {
		cs.ctr.malformed.Add(1)
		cs.log.Warn("malformed client frame; closing connection", "remote", remote, "error", err)
	} else if parent.Err() == nil {
		cs.log.Debug("client connection closed", "remote", remote, "error", err)
	}
}

func (st *clientConnState) readLoop(fr *frameReader) error {
	for {
		typ, body, err := fr.next()
		if err != nil {
			return err
		}
		switch typ {
		case frameRequest:
			err = st.onRequest(fr, body)
		case frameCancel:
			err = st.onCancel(fr, body)
		case frameTailOpen:
			err = st.onTailOpen(fr, body)
		case frameTailCredit:
			err = st.onTailCredit(fr, body)
		case frameTailEnd:
			err = st.onTailEnd(fr, body)
		default:
			err = fmt.Errorf("%w: frame type %d on a client connection", ErrMalformed, typ)
		}
		if err != nil {
			return err
		}
	}
}

func (st *clientConnState) onRequest(fr *frameReader, body []byte) error {
	var env reqEnvelope
	if err := fr.decode(body, &env); err != nil {
		return err
	}
	if env.Req == nil {
		return fmt.Errorf("%w: request %d without a body", ErrMalformed, env.ID)
	}
	select {
	case st.sem <- struct{}{}:
	case <-st.ctx.Done():
		return st.ctx.Err()
	}
	rctx, rcancel := context.WithCancel(st.ctx)
	st.mu.Lock()
	st.reqs[env.ID] = rcancel
	st.mu.Unlock()
	st.wg.Add(1)
	go st.handle(rctx, env)
	return nil
}

func (st *clientConnState) handle(ctx context.Context, env reqEnvelope) {
	defer st.wg.Done()
	defer func() { <-st.sem }()
	var resp *Response
	if !env.Req.Op.Valid() {
		resp = &Response{Err: ErrInvalid, Msg: fmt.Sprintf("unknown op %d", env.Req.Op)}
	} else if resp = st.cs.handler.HandleRequest(ctx, env.Req); resp == nil {
		resp = &Response{Err: ErrInternal, Msg: "handler returned no response"}
	}
	st.mu.Lock()
	if cancel := st.reqs[env.ID]; cancel != nil {
		cancel()
		delete(st.reqs, env.ID)
	}
	st.mu.Unlock()
	if err := st.w.write(frameResponse, &respEnvelope{ID: env.ID, Resp: resp}); err != nil && errors.Is(err, ErrFrameTooLarge) {
		_ = st.w.write(frameResponse, &respEnvelope{ID: env.ID, Resp: &Response{Err: ErrInternal, Msg: err.Error()}})
	}
}

func (st *clientConnState) onCancel(fr *frameReader, body []byte) error {
	var env cancelEnvelope
	if err := fr.decode(body, &env); err != nil {
		return err
	}
	st.mu.Lock()
	if cancel := st.reqs[env.ID]; cancel != nil {
		cancel()
	}
	st.mu.Unlock()
	return nil
}

func (st *clientConnState) onTailOpen(fr *frameReader, body []byte) error {
	var env tailOpenEnvelope
	if err := fr.decode(body, &env); err != nil {
		return err
	}
	credit := env.Req.Credit
	if credit <= 0 {
		credit = defaultTailCredit
	}
	credit = min(credit, maxTailCredit)
	env.Req.Credit = credit
	tctx, cancel := context.WithCancel(st.ctx)
	ts := &tailSink{id: env.ID, w: st.w, ctx: tctx, cancel: cancel, credit: int64(credit),
		notify: make(chan struct{}, 1), maxBytes: st.cs.maxFrame - 1024}
	st.mu.Lock()
	if _, dup := st.tails[env.ID]; dup {
		st.mu.Unlock()
		cancel()
		return fmt.Errorf("%w: tail stream id %d reused", ErrMalformed, env.ID)
	}
	st.tails[env.ID] = ts
	st.mu.Unlock()
	st.wg.Add(1)
	go st.runTail(ts, env.Req)
	return nil
}

func (st *clientConnState) runTail(ts *tailSink, req TailRequest) {
	defer st.wg.Done()
	err := st.cs.handler.HandleTail(ts.ctx, &req, ts)
	ts.cancel()
	st.mu.Lock()
	delete(st.tails, ts.id)
	st.mu.Unlock()
	end := tailEndEnvelope{ID: ts.id, Code: ErrShutdown, Msg: "stream ended"}
	var te *TailError
	switch {
	case errors.As(err, &te):
		end.Code, end.Msg, end.First = te.Code, te.Msg, te.First
	case err != nil && !errors.Is(err, context.Canceled):
		end.Code, end.Msg = ErrInternal, err.Error()
	}
	if st.ctx.Err() == nil {
		_ = st.w.write(frameTailEnd, &end)
	}
}

func (st *clientConnState) onTailCredit(fr *frameReader, body []byte) error {
	var env tailCreditEnvelope
	if err := fr.decode(body, &env); err != nil {
		return err
	}
	st.mu.Lock()
	ts := st.tails[env.ID]
	st.mu.Unlock()
	if ts != nil {
		ts.grant(env.N)
	}
	return nil
}

func (st *clientConnState) onTailEnd(fr *frameReader, body []byte) error {
	var env tailEndEnvelope
	if err := fr.decode(body, &env); err != nil {
		return err
	}
	st.mu.Lock()
	ts := st.tails[env.ID]
	st.mu.Unlock()
	if ts != nil {
		ts.cancel()
	}
	return nil
}

// tailSink is the server side of one tail stream: it sends entries only
// against credit granted by the client.
type tailSink struct {
	id       uint64
	w        *connWriter
	ctx      context.Context
	cancel   context.CancelFunc
	maxBytes int
	mu       sync.Mutex
	credit   int64
	notify   chan struct{}
}

var _ TailSink = (*tailSink)(nil)

func (ts *tailSink) grant(n uint64) {
	ts.mu.Lock()
	ts.credit = min(ts.credit+int64(min(n, maxTailCredit)), maxTailCredit)
	ts.mu.Unlock()
	select {
	case ts.notify <- struct{}{}:
	default:
	}
}

// Send implements TailSink.
func (ts *tailSink) Send(ctx context.Context, entries []TailEntry) error {
	for len(entries) > 0 {
		k, err := ts.take(ctx, entries)
		if err != nil {
			return err
		}
		if err := ts.w.write(frameTailData, &tailDataEnvelope{ID: ts.id, Entries: entries[:k]}); err != nil {
			return fmt.Errorf("paxnet: tail stream %d: %w", ts.id, err)
		}
		entries = entries[k:]
	}
	return nil
}

// take waits for credit and reserves up to len(entries) of it, bounded so
// that one frame stays under the frame limit (at least one entry).
func (ts *tailSink) take(ctx context.Context, entries []TailEntry) (int, error) {
	for {
		ts.mu.Lock()
		if ts.credit > 0 {
			k, size := 0, 0
			for k < len(entries) && int64(k) < ts.credit {
				size += len(entries[k].Data) + elemCost
				if k > 0 && size > ts.maxBytes {
					break
				}
				k++
			}
			ts.credit -= int64(k)
			ts.mu.Unlock()
			return k, nil
		}
		ts.mu.Unlock()
		select {
		case <-ts.notify:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-ts.ctx.Done():
			return 0, fmt.Errorf("%w: %w", ErrStreamClosed, ts.ctx.Err())
		}
	}
}
