package net

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

// stalledPeer accepts connections, answers the hello as node id, and then
// never reads again, so the sender's socket buffers fill.
func stalledPeer(t *testing.T, id paxos.NodeID) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	conns := make(chan net.Conn, 16)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			h := newHandle(DefaultMaxFrame)
			if _, err := readHello(newFrameReader(c, h, DefaultMaxFrame)); err != nil {
				continue
			}
			bw := bufio.NewWriter(c)
			_, _ = newFrameEncoder(h, DefaultMaxFrame).writeFrame(bw, frameWelcome,
				&welcome{Version: protoVersion, Cluster: testCluster, Node: id})
			_ = bw.Flush()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestStalledPeerDoesNotBlockOthers: node 3 stops reading; Send to it
// never blocks (its queue fills and drops) and node 2 gets all its traffic.
func TestStalledPeerDoesNotBlockOthers(t *testing.T) {
	addr2 := freeAddr(t)
	peers := map[paxos.NodeID]string{1: freeAddr(t), 2: addr2, 3: stalledPeer(t, 3)}
	s2, err := Listen(Config{ClusterID: testCluster, NodeID: 2, Listen: addr2, Peers: peers}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s1, err := Listen(Config{ClusterID: testCluster, NodeID: 1, Listen: peers[1], Peers: peers,
		QueueLen: 64, WriteTimeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()

	big := msg(1, 3, 0)
	big.Entries = []paxos.Entry{{Slot: 1, Data: make([]byte, 256<<10)}}
	var slowest time.Duration
	send := func(m paxos.Message) {
		start := time.Now()
		s1.Send(m)
		slowest = max(slowest, time.Since(start))
	}
	// Fill node 3's socket buffers and then its queue.
	waitFor(t, 30*time.Second, "node 3's queue to overflow", func() bool {
		send(big)
		return s1.Stats().Peers[3].QueueDrops > 0
	})
	// Node 3 is stalled; node 2's traffic must flow, in order. Sends to 2
	// are paced by receipts (window of 32) so that 2's own queue of 64
	// never overflows.
	const n, window = 5000, 32
	next := uint64(1)
	for i := 1; i <= n; i++ {
		send(msg(1, 2, uint64(i)))
		if i%100 == 0 {
			send(big)
		}
		for next+window <= uint64(i)+1 || (i == n && next <= n) {
			recvUntil(t, s2, 10*time.Second, func(m paxos.Message) bool {
				if m.Slot != next {
					t.Fatalf("node 2 got slot %d, want %d", m.Slot, next)
				}
				next++
				return true
			})
		}
	}
	st := s1.Stats()
	t.Logf("slowest Send %v; peer 3: %+v", slowest, st.Peers[3])
	// A Send that waited for the stalled writer would wait for its
	// WriteTimeout (a minute); anything far below is scheduling noise on a
	// loaded machine.
	if slowest > 2*time.Second {
		t.Fatalf("a Send took %v", slowest)
	}
	if st.Peers[3].QueueDrops == 0 || st.Peers[2].QueueDrops != 0 {
		t.Fatalf("drops: peer 3 %d, peer 2 %d", st.Peers[3].QueueDrops, st.Peers[2].QueueDrops)
	}
}
