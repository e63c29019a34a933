package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	replog "github.com/paxlog/paxlog/log"
	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

// The replicated log exposes no metric hooks; paxlog measures through the
// seams replog.Config offers: a Store wrapper times every Persist (the
// journal fsync) and Sync, a Network wrapper keeps the TCP server for its
// Stats and wraps the client handler to time appends and count tails.

// timedStore is a replog.Store that times its durable writes and notices
// the first failed write: the store is then poisoned and the node stops
// (fail-stop), so the process must exit (replog offers no stop
// notification yet).
type timedStore struct {
	replog.Store
	m         *nodeMetrics
	closeOnce sync.Once
	closeErr  error

	failOnce sync.Once
	failed   chan struct{} // closed at the first failed write
	failErr  error         // that failure; read after failed is closed
}

func newTimedStore(st replog.Store, m *nodeMetrics) *timedStore {
	return &timedStore{Store: st, m: m, failed: make(chan struct{})}
}

// check records the first write failure.
func (s *timedStore) check(op string, err error) error {
	if err != nil {
		s.failOnce.Do(func() {
			s.failErr = fmt.Errorf("%s: %w", op, err)
			close(s.failed)
		})
	}
	return err
}

func (s *timedStore) Persist(recs []paxos.Record) error {
	t0 := time.Now()
	err := s.Store.Persist(recs)
	s.m.fsync.WithLabelValues("persist").Observe(time.Since(t0).Seconds())
	return s.check("persist", err)
}

func (s *timedStore) Sync() error {
	t0 := time.Now()
	err := s.Store.Sync()
	s.m.fsync.WithLabelValues("sync").Observe(time.Since(t0).Seconds())
	return s.check("sync", err)
}

func (s *timedStore) AppendChosen(entries []paxos.Entry) error {
	return s.check("append to the chosen log", s.Store.AppendChosen(entries))
}

func (s *timedStore) TrimChosen(before uint64) error {
	return s.check("trim", s.Store.TrimChosen(before))
}

func (s *timedStore) ResetChosen(first uint64) error {
	return s.check("reset the chosen log", s.Store.ResetChosen(first))
}

func (s *timedStore) SetCheckpoint(slot uint64, data []byte) error {
	return s.check("checkpoint", s.Store.SetCheckpoint(slot, data))
}

// Close closes the store once (replog closes it on Close and on a failed
// Start; paxlog closes it itself when Start fails before that).
func (s *timedStore) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.Store.Close() })
	return s.closeErr
}

// meteredNetwork is paxnet over TCP, instrumented.
type meteredNetwork struct {
	m   *nodeMetrics
	mu  sync.Mutex
	srv *paxnet.Server
}

func (n *meteredNetwork) Listen(cfg paxnet.Config, clients paxnet.ClientHandler) (replog.Transport, string, error) {
	s, err := paxnet.Listen(cfg, &meteredHandler{h: clients, m: n.m})
	if err != nil {
		return nil, "", err
	}
	n.mu.Lock()
	n.srv = s
	n.mu.Unlock()
	return s, s.Addr(), nil
}

func (n *meteredNetwork) Dial(ctx context.Context, addr string, cfg paxnet.ClientConfig) (replog.Conn, error) {
	c, err := paxnet.Dial(ctx, addr, cfg)
	if err != nil {
		return nil, err
	}
	return tcpConn{c}, nil
}

// stats returns the transport's counters once it listens.
func (n *meteredNetwork) stats() (paxnet.Stats, bool) {
	n.mu.Lock()
	s := n.srv
	n.mu.Unlock()
	if s == nil {
		return paxnet.Stats{}, false
	}
	return s.Stats(), true
}

// tcpConn adapts *paxnet.ClientConn to replog.Conn.
type tcpConn struct{ c *paxnet.ClientConn }

func (c tcpConn) Call(ctx context.Context, req *paxnet.Request) (*paxnet.Response, error) {
	return c.c.Call(ctx, req)
}

func (c tcpConn) Tail(ctx context.Context, req paxnet.TailRequest) (replog.TailReceiver, error) {
	return c.c.Tail(ctx, req)
}

func (c tcpConn) Close() error { return c.c.Close() }

// meteredHandler wraps the node's client handler.
type meteredHandler struct {
	h paxnet.ClientHandler
	m *nodeMetrics
}

func (h *meteredHandler) HandleRequest(ctx context.Context, req *paxnet.Request) *paxnet.Response {
	if req.Op != paxnet.OpAppend {
		return h.h.HandleRequest(ctx, req)
	}
	t0 := time.Now()
	resp := h.h.HandleRequest(ctx, req)
	if resp != nil && resp.Err == paxnet.ErrNone {
		h.m.commit.Observe(time.Since(t0).Seconds())
		n := 0
		for _, d := range req.Data {
			n += len(d)
		}
		h.m.appends.Add(float64(len(req.Data)))
		h.m.appendBytes.Add(float64(n))
	}
	return resp
}

func (h *meteredHandler) HandleTail(ctx context.Context, req *paxnet.TailRequest, out paxnet.TailSink) error {
	h.m.tails.Inc()
	defer h.m.tails.Dec()
	return h.h.HandleTail(ctx, req, out)
}
