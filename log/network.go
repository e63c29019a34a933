package log

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
	"github.com/paxlog/paxlog/storage"
)

// tcpNetwork is the default Network: paxnet over TCP.
type tcpNetwork struct{}

func (tcpNetwork) Listen(cfg paxnet.Config, clients paxnet.ClientHandler) (Transport, string, error) {
	s, err := paxnet.Listen(cfg, clients)
	if err != nil {
		return nil, "", err
	}
	return s, s.Addr(), nil
}

func (tcpNetwork) Dial(ctx context.Context, addr string, cfg paxnet.ClientConfig) (Conn, error) {
	c, err := paxnet.Dial(ctx, addr, cfg)
	if err != nil {
		return nil, err
	}
	return clientConn{c}, nil
}

// clientConn adapts *paxnet.ClientConn to Conn.
type clientConn struct{ c *paxnet.ClientConn }

func (c clientConn) Call(ctx context.Context, req *paxnet.Request) (*paxnet.Response, error) {
	return c.c.Call(ctx, req)
}

func (c clientConn) Tail(ctx context.Context, req paxnet.TailRequest) (TailReceiver, error) {
	return c.c.Tail(ctx, req)
}

func (c clientConn) Close() error { return c.c.Close() }

// MemNetwork adapts an in-memory paxnet network to Network, for tests and
// examples: node id N is reached at the address "mem:N" (use those
// addresses in Config.Peers and ClientConfig.Addrs).
func MemNetwork(mn *paxnet.MemNetwork) Network { return memNetwork{mn} }

type memNetwork struct{ mn *paxnet.MemNetwork }

// MemAddr is the address of node id on a MemNetwork.
func MemAddr(id paxos.NodeID) string { return "mem:" + strconv.FormatUint(uint64(id), 10) }

func (m memNetwork) Listen(cfg paxnet.Config, clients paxnet.ClientHandler) (Transport, string, error) {
	t, err := m.mn.Join(cfg, clients)
	if err != nil {
		return nil, "", err
	}
	return t, MemAddr(cfg.NodeID), nil
}

func (m memNetwork) Dial(ctx context.Context, addr string, cfg paxnet.ClientConfig) (Conn, error) {
	id, err := strconv.ParseUint(strings.TrimPrefix(addr, "mem:"), 10, 64)
	if err != nil || !strings.HasPrefix(addr, "mem:") {
		return nil, fmt.Errorf("replog: %q is not a mem:<id> address", addr)
	}
	c, err := m.mn.Dial(ctx, paxos.NodeID(id), cfg)
	if err != nil {
		return nil, err
	}
	return clientConn{c}, nil
}

// openStorage opens the real store in cfg.Dir.
func openStorage(cfg Config) (Store, error) {
	s, err := storage.Open(storage.Options{Dir: cfg.Dir, ClusterID: cfg.ClusterID, NodeID: uint64(cfg.ID),
		Logger: cfg.Logger, SegmentSize: cfg.SegmentSize, CacheBytes: cfg.CacheBytes, NoSync: cfg.NoSync})
	if err != nil {
		return nil, fmt.Errorf("replog: node %d open %s: %w", cfg.ID, cfg.Dir, err)
	}
	return s, nil
}
