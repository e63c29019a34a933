package log

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	paxnet "github.com/paxlog/paxlog/net"
)

// ClientConfig configures a Client. Zero values mean the documented
// default; NewClient never modifies the caller's ClientConfig.
type ClientConfig struct {
	// ClusterID names the cluster; required.
	ClusterID string
	// Addrs lists replica addresses to try; required. The leader is
	// discovered from redirects.
	Addrs []string
	// TLS enables mutual TLS; nil means plaintext.
	TLS *paxnet.TLSConfig
	// ClientID is the exactly-once identity of this client. Default: random
	// (recommended). Sequence numbers restart at 1 with every Client, so an
	// id must never be reused by another Client while the replicas remember
	// it (see doc.go): its appends would be taken for retries of the old
	// ones and answered with their indexes.
	ClientID uint64
	// MaxInflight bounds the entries this client has in flight at once (so
	// its sequence numbers stay inside the replicas' dedup window). Default
	// 512; at most 768.
	MaxInflight int
	// AttemptTimeout bounds one attempt of a call at one replica; after it
	// the call is retried (with the same identity). Default 2s.
	AttemptTimeout time.Duration
	// TailCredit is the entries a remote tail lets the server send ahead of
	// the consumer. Default 256.
	TailCredit int
	// Network replaces TCP (tests). Default: paxnet over TCP.
	Network Network
	// Logger is named "replog.client". Default: null.
	Logger hclog.Logger
}

// Client defaults.
const (
	DefaultClientInflight = 512
	DefaultAttemptTimeout = 2 * time.Second
	DefaultTailCredit     = 256
	maxClientBatch        = 256 // entries per append request
	maxClientInflight     = dedupWindow * 3 / 4
)

func (c ClientConfig) withDefaults() (ClientConfig, error) {
	if c.ClusterID == "" || len(c.Addrs) == 0 {
		return c, fmt.Errorf("%w: client needs ClusterID (%q) and Addrs (%d)", ErrInvalidConfig, c.ClusterID, len(c.Addrs))
	}
	c.Addrs = append([]string(nil), c.Addrs...)
	if c.ClientID == 0 {
		c.ClientID = randomID()
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultClientInflight
	}
	if c.MaxInflight < maxClientBatch || c.MaxInflight > maxClientInflight {
		return c, fmt.Errorf("%w: MaxInflight %d outside [%d, %d]", ErrInvalidConfig, c.MaxInflight, maxClientBatch, maxClientInflight)
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.TailCredit == 0 {
		c.TailCredit = DefaultTailCredit
	}
	if c.AttemptTimeout < 0 || c.TailCredit < 0 {
		return c, fmt.Errorf("%w: attempt timeout %s, tail credit %d", ErrInvalidConfig, c.AttemptTimeout, c.TailCredit)
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	c.Logger = c.Logger.Named("replog.client")
	if c.Network == nil {
		c.Network = tcpNetwork{}
	}
	return c, nil
}

// Client appends to and reads a cluster over the network. It finds the
// leader by following redirects, retries every call until its context
// ends, and retries appends with the same (client id, sequence), so a
// retry after a lost response or a leader change is never delivered twice.
// Safe for concurrent use.
type Client struct {
	cfg    ClientConfig
	log    hclog.Logger
	seq    uint64 // guarded by acqMu
	tokens chan struct{}
	acqMu  sync.Mutex

	mu     sync.Mutex
	conns  map[string]Conn
	leader string // last known leader address
	next   int    // round robin over Addrs when the leader is unknown
	closed bool
	stop   chan struct{}
	rounds atomic.Uint64
}

// NewClient returns a Client; it connects lazily, on the first call.
func NewClient(cfg ClientConfig) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: cfg.Logger, tokens: make(chan struct{}, cfg.MaxInflight),
		conns: make(map[string]Conn), stop: make(chan struct{})}
	for range cfg.MaxInflight {
		c.tokens <- struct{}{}
	}
	return c, nil
}

// ID is the client's exactly-once identity.
func (c *Client) ID() uint64 { return c.cfg.ClientID }

// Close closes every connection; calls in progress fail.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	close(c.stop)
	for addr, conn := range c.conns {
		conn.Close()
		delete(c.conns, addr)
	}
	return nil
}

// Append appends data and returns its index once it is chosen.
func (c *Client) Append(ctx context.Context, data []byte) (uint64, error) {
	idx, err := c.append(ctx, [][]byte{data}, false, 0)
	if err != nil {
		return 0, err
	}
	return idx[0], nil
}

// AppendIf appends data only if the last delivered index equals
// expectedLast when it is applied; otherwise *ConditionError.
func (c *Client) AppendIf(ctx context.Context, data []byte, expectedLast uint64) (uint64, error) {
	idx, err := c.append(ctx, [][]byte{data}, true, expectedLast)
	if err != nil {
		return 0, err
	}
	return idx[0], nil
}

// AppendBatch appends every element of data as its own entry, in order.
// It is split into requests of at most 256 entries, each retried on its
// own until ctx ends.
func (c *Client) AppendBatch(ctx context.Context, data [][]byte) ([]uint64, error) {
	out := make([]uint64, 0, len(data))
	for start := 0; start < len(data); start += maxClientBatch {
		idx, err := c.append(ctx, data[start:min(start+maxClientBatch, len(data))], false, 0)
		if err != nil {
			return out, err
		}
		out = append(out, idx...)
	}
	return out, nil
}

func (c *Client) append(ctx context.Context, data [][]byte, cond bool, expect uint64) ([]uint64, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty append", ErrInvalid)
	}
	seq, err := c.acquire(ctx, len(data))
	if err != nil {
		return nil, err
	}
	defer c.releaseTokens(len(data))
	req := &paxnet.Request{Op: paxnet.OpAppend, ClientID: c.cfg.ClientID, Seq: seq, Data: data,
		Conditional: cond, ExpectLast: expect}
	resp, err := c.do(ctx, req, true)
	if err != nil {
		var ce *ConditionError
		if errors.As(err, &ce) {
			ce.Expected = expect
		}
		return nil, err
	}
	if len(resp.Indexes) != len(data) {
		return nil, fmt.Errorf("%w: %d indexes for %d entries", errInternal, len(resp.Indexes), len(data))
	}
	return resp.Indexes, nil
}

// acquire takes n in-flight tokens and the sequence numbers seq..seq+n-1.
func (c *Client) acquire(ctx context.Context, n int) (uint64, error) {
	c.acqMu.Lock()
	defer c.acqMu.Unlock()
	for i := range n {
		select {
		case <-c.tokens:
		case <-ctx.Done():
			c.releaseTokens(i)
			return 0, ctx.Err()
		case <-c.stop:
			c.releaseTokens(i)
			return 0, fmt.Errorf("replog: client: %w", ErrClosed)
		}
	}
	seq := c.seq + 1
	c.seq += uint64(n)
	return seq, nil
}

func (c *Client) releaseTokens(n int) {
	for range n {
		c.tokens <- struct{}{}
	}
}

// Read returns the entry delivered at index (from the leader when known).
func (c *Client) Read(ctx context.Context, index uint64) ([]byte, error) {
	resp, err := c.do(ctx, &paxnet.Request{Op: paxnet.OpRead, Index: index}, false)
	if err != nil {
		return nil, err
	}
	return resp.Data, nil
}

// CheckTail returns the linearizable last delivered index.
func (c *Client) CheckTail(ctx context.Context) (uint64, error) {
	resp, err := c.do(ctx, &paxnet.Request{Op: paxnet.OpCheckTail}, false)
	if err != nil {
		return 0, err
	}
	return resp.Index, nil
}

// Trim drops every entry below before on every replica; it returns the
// new first index.
func (c *Client) Trim(ctx context.Context, before uint64) (uint64, error) {
	resp, err := c.do(ctx, &paxnet.Request{Op: paxnet.OpTrim, Index: before}, true)
	if err != nil {
		return 0, err
	}
	return resp.Index, nil
}

// Status returns the status of the replica at addr ("" means whichever
// replica answers first, the leader when known).
func (c *Client) Status(ctx context.Context, addr string) (*paxnet.StatusInfo, error) {
	req := &paxnet.Request{Op: paxnet.OpStatus}
	var resp *paxnet.Response
	var err error
	if addr == "" {
		resp, err = c.do(ctx, req, false)
	} else {
		resp, err = c.attempt(ctx, addr, req)
		if err != nil {
			c.dropConn(addr) // a restarted replica gets a fresh connection next time
		} else {
			err = responseError(resp)
		}
	}
	if err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("%w: status response without status", errInternal)
	}
	return resp.Status, nil
}
