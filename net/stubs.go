package net

import (
	"context"
	"errors"

	"github.com/paxlog/paxlog/paxos"
)

var errTODO = errors.New("paxnet: not implemented yet")

// Server is a TCP Transport that also serves clients on the same port.
type Server struct{}

// Listen binds cfg.Listen and starts the peer mesh.
func Listen(cfg Config, clients ClientHandler) (*Server, error) { return nil, errTODO }

// Addr is the bound "host:port".
func (s *Server) Addr() string { return "" }

// Send implements Transport.
func (s *Server) Send(m paxos.Message) {}

// Messages implements Transport.
func (s *Server) Messages() <-chan paxos.Message { return nil }

// Stats implements Transport.
func (s *Server) Stats() Stats { return Stats{} }

// Close implements Transport.
func (s *Server) Close() error { return nil }

// ClientConn is a client connection to one replica.
type ClientConn struct{}

// Dial connects to a replica's client port.
func Dial(ctx context.Context, addr string, cfg ClientConfig) (*ClientConn, error) {
	return nil, errTODO
}

// Call sends req and waits for its response.
func (c *ClientConn) Call(ctx context.Context, req *Request) (*Response, error) { return nil, errTODO }

// Tail opens a tail stream.
func (c *ClientConn) Tail(ctx context.Context, req TailRequest) (*TailStream, error) {
	return nil, errTODO
}

// Close closes the connection.
func (c *ClientConn) Close() error { return nil }

// TailStream is the client side of a tail stream.
type TailStream struct{}

// Recv returns the next entries.
func (t *TailStream) Recv(ctx context.Context) ([]TailEntry, error) { return nil, errTODO }

// Close cancels the stream.
func (t *TailStream) Close() error { return nil }

// MemNetwork is an in-memory network of transports for tests.
type MemNetwork struct{}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork { return &MemNetwork{} }

// Join adds a node.
func (mn *MemNetwork) Join(cfg Config, clients ClientHandler) (Transport, error) {
	return nil, errTODO
}

// Dial opens a client connection to node id.
func (mn *MemNetwork) Dial(ctx context.Context, id paxos.NodeID, cfg ClientConfig) (*ClientConn, error) {
	return nil, errTODO
}

// Partition cuts the link between a and b (both directions).
func (mn *MemNetwork) Partition(a, b paxos.NodeID) {}

// Heal restores the link between a and b.
func (mn *MemNetwork) Heal(a, b paxos.NodeID) {}

// HealAll restores every link.
func (mn *MemNetwork) HealAll() {}

// Stop closes node id's transport (a crash); Join it again to restart.
func (mn *MemNetwork) Stop(id paxos.NodeID) {}
