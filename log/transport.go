package log

import (
	"context"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

// Transport carries paxos messages between replicas. *paxnet.Server
// satisfies it. Send is called from the owner and the persister goroutines
// at once and never blocks (messages may be dropped: Paxos tolerates
// loss); Messages is read only by the node's owner goroutine.
type Transport interface {
	Send(m paxos.Message)
	Messages() <-chan paxos.Message
	Close() error
}

// Network makes a node's transport and the client connections that the
// Client (and a follower answering CheckTail) use. The default is TCP
// through paxnet; tests hand in an in-memory one.
type Network interface {
	// Listen starts the peer transport described by cfg and serves client
	// requests with clients. It returns the transport and the address
	// clients reach this node at.
	Listen(cfg paxnet.Config, clients paxnet.ClientHandler) (Transport, string, error)
	// Dial opens a client connection to addr.
	Dial(ctx context.Context, addr string, cfg paxnet.ClientConfig) (Conn, error)
}

// Conn is a client connection to one replica. Safe for concurrent use.
type Conn interface {
	Call(ctx context.Context, req *paxnet.Request) (*paxnet.Response, error)
	// Tail opens a credit-controlled stream of entries from req.From.
	Tail(ctx context.Context, req paxnet.TailRequest) (TailReceiver, error)
	Close() error
}

// TailReceiver is the client end of a remote tail stream
// (*paxnet.TailStream satisfies it).
type TailReceiver interface {
	// Recv returns the next entries (at least one), blocking until some
	// arrive; receiving grants the server credit for more. Once the stream
	// has ended the error wraps paxnet.ErrStreamClosed (a *paxnet.TailError
	// when the server gave a reason).
	Recv(ctx context.Context) ([]paxnet.TailEntry, error)
	Close() error
}
