package net

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/paxlog/paxlog/paxos"
)

// MemNetwork is an in-memory network of Transports for tests. Nodes join
// with a Config (Listen and TLS are ignored; Peers' keys define the mesh).
// Semantics match the TCP transport: one bounded queue and one writer
// goroutine per peer, Send never blocks and drops when the queue is full,
// a full inbox drops, Close stops every goroutine. A writer whose peer is
// stopped (or not yet joined) holds its message and waits, so its queue
// fills, like a TCP writer redialing; a partitioned link drops messages
// (counted as WriteDrops). Messages are not encoded, but Send copies
// nothing either: the receiver gets the same Entries slices, so senders
// must not modify a message after Send (the TCP transport does not care).
type MemNetwork struct {
	mu      sync.Mutex
	nodes   map[paxos.NodeID]*memNode
	cut     map[[2]paxos.NodeID]bool
	changed chan struct{} // closed and replaced on every topology change
}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{nodes: map[paxos.NodeID]*memNode{}, cut: map[[2]paxos.NodeID]bool{},
		changed: make(chan struct{})}
}

// memNode is one node's Transport on a MemNetwork.
type memNode struct {
	mn      *MemNetwork
	cfg     Config
	log     hclog.Logger
	clients ClientHandler
	inbox   chan paxos.Message
	peers   map[paxos.NodeID]*peer
	ctr     counters
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

var _ Transport = (*memNode)(nil)

// Join adds a node (or restarts one that was stopped) and returns its
// Transport. A node id that is running already is an error.
func (mn *MemNetwork) Join(cfg Config, clients ClientHandler) (Transport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &memNode{mn: mn, cfg: cfg, log: cfg.Logger, clients: clients,
		inbox: make(chan paxos.Message, cfg.QueueLen), peers: map[paxos.NodeID]*peer{}}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for id := range cfg.Peers {
		n.peers[id] = newPeer(id, fmt.Sprintf("mem:%d", id), cfg.QueueLen)
	}
	mn.mu.Lock()
	if _, ok := mn.nodes[cfg.NodeID]; ok {
		mn.mu.Unlock()
		return nil, fmt.Errorf("%w: node %d already joined", ErrInvalidConfig, cfg.NodeID)
	}
	mn.nodes[cfg.NodeID] = n
	mn.changedLocked()
	mn.mu.Unlock()
	for _, p := range n.peers {
		n.wg.Add(1)
		go n.runPeer(p)
	}
	return n, nil
}

func (mn *MemNetwork) changedLocked() {
	close(mn.changed)
	mn.changed = make(chan struct{})
}

// route returns the running node to deliver from->to, whether the link is
// cut, and the channel that is closed on the next topology change.
func (mn *MemNetwork) route(from, to paxos.NodeID) (*memNode, bool, <-chan struct{}) {
	mn.mu.Lock()
	defer mn.mu.Unlock()
	return mn.nodes[to], mn.cut[linkKey(from, to)], mn.changed
}

func linkKey(a, b paxos.NodeID) [2]paxos.NodeID {
	if a > b {
		a, b = b, a
	}
	return [2]paxos.NodeID{a, b}
}

// Partition cuts the link between a and b in both directions: messages
// on it are dropped until Heal.
func (mn *MemNetwork) Partition(a, b paxos.NodeID) {
	mn.mu.Lock()
	mn.cut[linkKey(a, b)] = true
	mn.changedLocked()
	mn.mu.Unlock()
}

// Heal restores the link between a and b.
func (mn *MemNetwork) Heal(a, b paxos.NodeID) {
	mn.mu.Lock()
	delete(mn.cut, linkKey(a, b))
	mn.changedLocked()
	mn.mu.Unlock()
}

// HealAll restores every link.
func (mn *MemNetwork) HealAll() {
	mn.mu.Lock()
	clear(mn.cut)
	mn.changedLocked()
	mn.mu.Unlock()
}

// Stop closes node id's transport, as a crash would; Join it again to
// restart it. Stopping an unknown node does nothing.
func (mn *MemNetwork) Stop(id paxos.NodeID) {
	mn.mu.Lock()
	n := mn.nodes[id]
	mn.mu.Unlock()
	if n != nil {
		_ = n.Close()
	}
}

// Dial opens a client connection to node id over an in-memory pipe
// (net.Pipe); the node serves it with its ClientHandler through the same
// framing, handshake and client protocol as a TCP Server. cfg.TLS is
// ignored: the pipe never leaves the process.
func (mn *MemNetwork) Dial(ctx context.Context, id paxos.NodeID, cfg ClientConfig) (*ClientConn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	mn.mu.Lock()
	n := mn.nodes[id]
	mn.mu.Unlock()
	if n == nil {
		return nil, fmt.Errorf("paxnet: dial mem:%d: no such node", id)
	}
	cli, srv := net.Pipe()
	if !n.serveClient(srv) {
		_ = cli.Close()
		return nil, fmt.Errorf("paxnet: dial mem:%d: %w", id, ErrClosed)
	}
	return newClientConn(ctx, cli, fmt.Sprintf("mem:%d", id), cfg)
}

// serveClient runs the listener side of a client pipe in a goroutine
// owned by the node; false when the node is closed.
func (n *memNode) serveClient(conn net.Conn) bool {
	n.mn.mu.Lock()
	defer n.mn.mu.Unlock()
	if n.ctx.Err() != nil {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer conn.Close()
		stop := context.AfterFunc(n.ctx, func() { _ = conn.Close() })
		defer stop()
		h := newHandle(n.cfg.MaxFrame)
		fr := newFrameReader(conn, h, n.cfg.MaxFrame)
		hi, err := readHello(fr)
		if err == nil {
			if hi.Role == rolePeer {
				err = fmt.Errorf("%w: peer hello on a client pipe", ErrHandshake)
			} else {
				err = checkHello(hi, n.cfg.ClusterID, n.cfg.NodeID, n.cfg.Peers, n.clients != nil, nil)
			}
			n.welcome(conn, h, err)
		}
		if err != nil {
			n.ctr.handshakeFails.Add(1)
			n.log.Warn("connection refused", "remote", "mem", "error", err)
			return
		}
		n.ctr.clientConns.Add(1)
		cs := &clientServer{handler: n.clients, h: h, maxFrame: n.cfg.MaxFrame,
			writeTimeout: n.cfg.WriteTimeout, log: n.log, ctr: &n.ctr}
		cs.serve(n.ctx, conn, fr, "mem")
	}()
	return true
}

func (n *memNode) welcome(conn net.Conn, h *codec.MsgpackHandle, refusal error) {
	w := welcome{Version: protoVersion, Cluster: n.cfg.ClusterID, Node: n.cfg.NodeID}
	if refusal != nil {
		w.Err = refusal.Error()
	}
	cw := newConnWriter(conn, h, n.cfg.MaxFrame, n.cfg.WriteTimeout)
	_ = cw.write(frameWelcome, &w)
}

// Send implements Transport.
func (n *memNode) Send(m paxos.Message) { sendToPeer(n.peers, &n.ctr, m, n.ctx.Done()) }

// Messages implements Transport.
func (n *memNode) Messages() <-chan paxos.Message { return n.inbox }

// Stats implements Transport.
func (n *memNode) Stats() Stats { return statsOf(n.peers, &n.ctr) }

// Close implements Transport: the node leaves the network.
func (n *memNode) Close() error {
	n.once.Do(func() {
		n.mn.mu.Lock()
		n.cancel()
		if n.mn.nodes[n.cfg.NodeID] == n {
			delete(n.mn.nodes, n.cfg.NodeID)
			n.mn.changedLocked()
		}
		n.mn.mu.Unlock()
		n.wg.Wait()
		close(n.inbox)
	})
	return nil
}

// runPeer is the writer goroutine for p: it waits while p is down, drops
// on a cut link, and delivers into p's inbox (dropping when it is full).
func (n *memNode) runPeer(p *peer) {
	defer n.wg.Done()
	var last *memNode
	for {
		var m paxos.Message
		select {
		case m = <-p.queue:
		case <-n.ctx.Done():
			return
		}
		if !n.deliver(p, m, &last) {
			return
		}
	}
}

// deliver hands m to p's current incarnation; last is the incarnation the
// previous message went to (a change counts as a reconnect).
func (n *memNode) deliver(p *peer, m paxos.Message, last **memNode) bool {
	for {
		to, cut, changed := n.mn.route(n.cfg.NodeID, p.id)
		if cut {
			p.ctr.writeDrops.Add(1)
			return true
		}
		if to != nil && to.receive(n.cfg.NodeID, m) {
			if *last != nil && *last != to { // a new incarnation: a reconnect
				p.ctr.reconnects.Add(1)
			}
			*last = to
			p.ctr.connected.Store(true)
			p.ctr.framesOut.Add(1)
			return true
		}
		p.ctr.connected.Store(false)
		select {
		case <-changed:
		case <-n.ctx.Done():
			return false
		}
	}
}

// receive puts m into the node's inbox; false when the node is closed.
func (n *memNode) receive(from paxos.NodeID, m paxos.Message) bool {
	if n.ctx.Err() != nil {
		return false
	}
	if p := n.peers[from]; p != nil {
		p.ctr.framesIn.Add(1)
	}
	// The inbox is closed only after n.wg.Wait, and deliveries to n come
	// from other nodes' goroutines, so guard with the network lock.
	n.mn.mu.Lock()
	defer n.mn.mu.Unlock()
	if n.ctx.Err() != nil {
		return false
	}
	select {
	case n.inbox <- m:
	default:
		n.ctr.inboundDrops.Add(1)
	}
	return true
}
