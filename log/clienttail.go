package log

import (
	"context"
	"errors"
	"fmt"
	"time"

	paxnet "github.com/paxlog/paxlog/net"
)

// remoteTail is the client side of Client.Tail. It reconnects to another
// replica after a transport failure and resumes after the last index it
// delivered: every replica delivers the same sequence.
type remoteTail struct {
	c    *Client
	next uint64 // next index wanted (0: the first held)
	addr string
	rs   TailReceiver
	buf  []paxnet.TailEntry
}

// Tail streams every entry delivered at index from or later (0: the first
// held) from whichever replica answers, in order and exactly once,
// blocking for new ones until ctx ends. The server never sends more than
// ClientConfig.TailCredit entries ahead of the consumer. Below the trim
// point the stream fails with *TrimmedError.
func (c *Client) Tail(ctx context.Context, from uint64) (*TailStream, error) {
	t := &remoteTail{c: c, next: from}
	if err := t.open(ctx); err != nil && (errors.Is(err, ErrTrimmed) || errors.Is(err, ErrClosed) || ctx.Err() != nil) {
		return nil, err
	}
	// Any other failure: Next keeps trying the other replicas.
	return newTailStream(ctx, t.next1, t.close), nil
}

func (t *remoteTail) next1(ctx context.Context) (uint64, []byte, error) {
	backoff := minBackoff
	for {
		for len(t.buf) > 0 {
			e := t.buf[0]
			t.buf = t.buf[1:]
			if e.Index >= t.next {
				t.next = e.Index + 1
				return e.Index, e.Data, nil
			}
		}
		if t.rs == nil {
			if err := t.open(ctx); err != nil {
				if ctx.Err() != nil || errors.Is(err, ErrTrimmed) || errors.Is(err, ErrClosed) {
					return 0, nil, err
				}
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return 0, nil, ctx.Err()
				}
				backoff = min(2*backoff, maxBackoff)
				continue
			}
		}
		es, err := t.rs.Recv(ctx)
		if err == nil {
			t.buf, backoff = es, minBackoff
			continue
		}
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		if terr := t.fatal(err); terr != nil {
			return 0, nil, terr
		}
		t.close()
	}
}

// fatal maps a stream error that must end the tail (trim); nil means
// reconnect.
func (t *remoteTail) fatal(err error) error {
	var te *paxnet.TailError
	if errors.As(err, &te) && te.Code == paxnet.ErrTrimmed {
		return &TrimmedError{Index: t.next, First: te.First}
	}
	t.c.log.Debug("tail stream ended, reconnecting", "addr", t.addr, "next", t.next, "error", err)
	t.c.dropConn(t.addr)
	t.c.mu.Lock()
	t.c.forgetLeaderLocked(t.addr)
	t.c.mu.Unlock()
	return nil
}

// open starts a stream at t.next on the next replica.
func (t *remoteTail) open(ctx context.Context) error {
	t.addr = t.c.pick()
	actx, cancel := context.WithTimeout(ctx, t.c.cfg.AttemptTimeout)
	conn, err := t.c.conn(actx, t.addr)
	cancel()
	if err != nil {
		t.c.mu.Lock()
		t.c.forgetLeaderLocked(t.addr)
		t.c.mu.Unlock()
		return fmt.Errorf("replog: tail at %s: %w", t.addr, err)
	}
	rs, err := conn.Tail(ctx, paxnet.TailRequest{From: t.next, Credit: t.c.cfg.TailCredit})
	if err != nil {
		if ferr := t.fatal(err); ferr != nil {
			return ferr
		}
		return fmt.Errorf("replog: tail at %s: %w", t.addr, err)
	}
	t.rs = rs
	return nil
}

func (t *remoteTail) close() {
	if t.rs != nil {
		t.rs.Close()
		t.rs = nil
	}
}
