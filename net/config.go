package net

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paxlog/paxlog/paxos"
)

// Defaults for the zero values of Config and ClientConfig.
const (
	// DefaultMaxFrame is the largest frame accepted or sent: 16 MiB, well
	// above paxos' default MaxMsgBytes (1 MiB) plus per-entry overhead.
	DefaultMaxFrame = 16 << 20
	// DefaultQueueLen is the per-peer send queue length, in messages.
	DefaultQueueLen = 4096
	// DefaultDialTimeout bounds one dial plus handshake.
	DefaultDialTimeout = 3 * time.Second
	// DefaultWriteTimeout bounds one batch of writes to a connection; a peer
	// that does not drain its socket within it is disconnected.
	DefaultWriteTimeout = 5 * time.Second
	// minFrame is the smallest MaxFrame accepted (room for a handshake).
	minFrame = 4 << 10
)

// Errors returned by this package. They are wrapped with context (address,
// peer, cluster); use errors.Is.
var (
	// ErrInvalidConfig: a Config or ClientConfig cannot be used; the error says why.
	ErrInvalidConfig = errors.New("paxnet: invalid config")
	// ErrClosed: the transport, server or client connection is closed.
	ErrClosed = errors.New("paxnet: closed")
	// ErrFrameTooLarge: a frame's length exceeds MaxFrame (read or write side).
	ErrFrameTooLarge = errors.New("paxnet: frame too large")
	// ErrMalformed: a frame or handshake could not be parsed; the connection
	// that carried it is closed.
	ErrMalformed = errors.New("paxnet: malformed frame")
	// ErrHandshake: the remote refused the handshake (other cluster, unknown
	// node id, wrong role, bad certificate name) or sent a bad one.
	ErrHandshake = errors.New("paxnet: handshake refused")
	// ErrTLSMismatch: one side speaks TLS and the other plaintext.
	ErrTLSMismatch = errors.New("paxnet: TLS/plaintext mismatch")
	// ErrStreamClosed: a tail stream ended (the server's handler returned or
	// the stream was cancelled); the wrapped message says why.
	ErrStreamClosed = errors.New("paxnet: tail stream closed")
)

// Config configures a Server (Listen) or an in-memory node (MemNetwork.Join).
// Zero values mean the documented default; Listen never modifies the
// caller's Config.
type Config struct {
	// ClusterID names the cluster; required. Connections that present
	// another cluster id are refused.
	ClusterID string
	// NodeID is this replica's id; required, nonzero.
	NodeID paxos.NodeID
	// Listen is the "host:port" to bind; ":0" or "127.0.0.1:0" picks a free
	// port (Server.Addr reports it). Unused by MemNetwork.
	Listen string
	// Peers maps every other member's id to its address ("host:port"; for
	// MemNetwork the address is ignored but the key set defines the mesh).
	// An entry for NodeID itself is ignored.
	Peers map[paxos.NodeID]string
	// TLS enables mutual TLS 1.3 for peers and clients. nil means plaintext,
	// which is unauthenticated: a WARN is logged once at start.
	TLS *TLSConfig
	// MaxFrame is the largest frame, in bytes, read or written. Default
	// DefaultMaxFrame (16 MiB). Must be at least 4 KiB.
	MaxFrame int
	// QueueLen is the per-peer send queue length in messages, and the
	// length of the inbound Messages channel. Default DefaultQueueLen (4096).
	QueueLen int
	// DialTimeout bounds one dial plus handshake. Default 3s.
	DialTimeout time.Duration
	// WriteTimeout bounds a batch of writes to one connection. Default 5s.
	WriteTimeout time.Duration
	// Logger receives transport events; it is named "net". Default: a null logger.
	Logger hclog.Logger
}

// TLSConfig names the certificates for mutual TLS. Either the file fields
// or the in-memory fields are used; in-memory fields win when set.
//
// Certificate naming (see doc.go): a replica's certificate carries the DNS
// SAN "node-<id>.<cluster>" and both ServerAuth and ClientAuth extended key
// usages; a client certificate carries ClientAuth and no node-* name.
type TLSConfig struct {
	CertFile string // PEM certificate chain of this node or client
	KeyFile  string // PEM private key
	CAFile   string // PEM CA bundle that signs every member and client

	Certificate *tls.Certificate // in-memory alternative to CertFile/KeyFile
	CAPool      *x509.CertPool   // in-memory alternative to CAFile
}

// ClientConfig configures Dial.
type ClientConfig struct {
	// ClusterID names the cluster; required.
	ClusterID string
	// TLS enables mutual TLS; nil means plaintext.
	TLS *TLSConfig
	// MaxFrame is the largest frame read or written. Default 16 MiB.
	MaxFrame int
	// WriteTimeout bounds a write to the connection. Default 5s.
	WriteTimeout time.Duration
	// Logger receives client events; named "net". Default: a null logger.
	Logger hclog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.ClusterID == "" {
		return c, fmt.Errorf("%w: ClusterID is empty", ErrInvalidConfig)
	}
	if c.NodeID == 0 {
		return c, fmt.Errorf("%w: NodeID is zero", ErrInvalidConfig)
	}
	peers := make(map[paxos.NodeID]string, len(c.Peers))
	for id, addr := range c.Peers {
		if id == 0 {
			return c, fmt.Errorf("%w: peer id 0 (address %q)", ErrInvalidConfig, addr)
		}
		if id != c.NodeID {
			peers[id] = addr
		}
	}
	c.Peers = peers
	var err error
	if c.MaxFrame, err = frameLimit(c.MaxFrame); err != nil {
		return c, err
	}
	if c.QueueLen < 0 {
		return c, fmt.Errorf("%w: QueueLen %d is negative", ErrInvalidConfig, c.QueueLen)
	}
	if c.QueueLen == 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	c.Logger = c.Logger.Named("net")
	return c, nil
}

func (c ClientConfig) withDefaults() (ClientConfig, error) {
	if c.ClusterID == "" {
		return c, fmt.Errorf("%w: ClusterID is empty", ErrInvalidConfig)
	}
	var err error
	if c.MaxFrame, err = frameLimit(c.MaxFrame); err != nil {
		return c, err
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	c.Logger = c.Logger.Named("net")
	return c, nil
}

func frameLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultMaxFrame, nil
	case n < minFrame:
		return 0, fmt.Errorf("%w: MaxFrame %d is below %d", ErrInvalidConfig, n, minFrame)
	case n > maxFrameLimit:
		return 0, fmt.Errorf("%w: MaxFrame %d is above %d", ErrInvalidConfig, n, maxFrameLimit)
	}
	return n, nil
}
