package log

import (
	"context"
	"errors"
	"fmt"
	"time"

	paxnet "github.com/paxlog/paxlog/net"
)

// Retry backoff of a Client between attempts that found no usable replica.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = 500 * time.Millisecond
)

// do runs req until it gets a definitive answer or ctx ends. Redirects are
// followed at once; transport failures, timeouts, shutdowns and
// back-pressure are retried (on the next replica, with backoff).
func (c *Client) do(ctx context.Context, req *paxnet.Request, leaderOnly bool) (*paxnet.Response, error) {
	backoff := minBackoff
	var lastErr error
	for {
		addr := c.pick()
		resp, err := c.attempt(ctx, addr, req)
		if err == nil {
			if err = responseError(resp); err == nil {
				c.setLeaderIfWrite(addr, leaderOnly)
				return resp, nil
			}
		} else {
			c.dropConn(addr)
			err = fmt.Errorf("replog: %s: %w", addr, err)
		}
		lastErr = err
		redirect, retry := c.classify(addr, err)
		if !retry {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w (last error: %w)", ErrUnavailable, ctx.Err(), lastErr)
		}
		if redirect {
			continue
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w (last error: %w)", ErrUnavailable, ctx.Err(), lastErr)
		case <-c.stop:
			return nil, fmt.Errorf("replog: client: %w", ErrClosed)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// classify decides what to do after err from addr: follow a redirect at
// once, retry after a backoff, or give up (a definitive answer).
func (c *Client) classify(addr string, err error) (redirect, retry bool) {
	var nl *NotLeaderError
	switch {
	case errors.As(err, &nl):
		c.mu.Lock()
		defer c.mu.Unlock()
		if nl.Leader != "" && nl.Leader != addr && c.leader != nl.Leader {
			c.leader = nl.Leader
			return true, true
		}
		c.forgetLeaderLocked(addr)
		return false, true
	case errors.Is(err, ErrConditionFailed), errors.Is(err, ErrTrimmed), errors.Is(err, ErrNotFound),
		errors.Is(err, ErrInvalid), errors.Is(err, errInternal):
		return false, false
	case errors.Is(err, ErrClosed):
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			return false, false
		}
		c.forgetLeaderLocked(addr)
		return false, true
	}
	// Transport errors, attempt timeouts, back-pressure, a replica that has
	// not applied a read's index yet (ErrNotApplied): retry.
	c.mu.Lock()
	c.forgetLeaderLocked(addr)
	c.mu.Unlock()
	return false, true
}

func (c *Client) forgetLeaderLocked(addr string) {
	if c.leader == addr {
		c.leader = ""
		c.next++
	}
	if c.leader == "" {
		c.next++
	}
}

func (c *Client) setLeaderIfWrite(addr string, write bool) {
	if !write {
		return
	}
	c.mu.Lock()
	c.leader = addr
	c.mu.Unlock()
}

// pick returns the leader when known, else the next address round robin.
func (c *Client) pick() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader != "" {
		return c.leader
	}
	return c.cfg.Addrs[c.next%len(c.cfg.Addrs)]
}

// attempt runs req once at addr within AttemptTimeout.
func (c *Client) attempt(ctx context.Context, addr string, req *paxnet.Request) (*paxnet.Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	conn, err := c.conn(actx, addr)
	if err != nil {
		return nil, err
	}
	return conn.Call(actx, req)
}

// conn returns a cached connection to addr, dialing when needed.
func (c *Client) conn(ctx context.Context, addr string) (Conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("replog: client: %w", ErrClosed)
	}
	if conn := c.conns[addr]; conn != nil {
		c.mu.Unlock()
		return conn, nil
	}
	c.mu.Unlock()
	conn, err := c.cfg.Network.Dial(ctx, addr, paxnet.ClientConfig{ClusterID: c.cfg.ClusterID, TLS: c.cfg.TLS, Logger: c.log})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return nil, fmt.Errorf("replog: client: %w", ErrClosed)
	}
	if old := c.conns[addr]; old != nil {
		conn.Close()
		return old, nil
	}
	c.conns[addr] = conn
	return conn, nil
}

// dropConn closes and forgets the connection to addr after a failure.
func (c *Client) dropConn(addr string) {
	c.mu.Lock()
	conn := c.conns[addr]
	delete(c.conns, addr)
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}
