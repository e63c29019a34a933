package net

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

// rawPeer dials addr and completes the hello as node id; it returns the
// connection for the test to write raw bytes on.
func rawPeer(t *testing.T, addr string, id paxos.NodeID) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	hi := hello{Version: protoVersion, Cluster: testCluster, Role: rolePeer, Node: id}
	if _, _, err := clientHandshake(c, newHandle(DefaultMaxFrame), DefaultMaxFrame, hi, time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMalformedFrameClosesOnlyThatConnection: a bad frame on one peer
// connection closes it and is counted; other connections keep working.
func TestMalformedFrameClosesOnlyThatConnection(t *testing.T) {
	peers := map[paxos.NodeID]string{2: freeAddr(t), 3: freeAddr(t)}
	s, err := Listen(Config{ClusterID: testCluster, NodeID: 1, Listen: "127.0.0.1:0", Peers: peers}, &testHandler{node: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := rawPeer(t, s.Addr(), 3)
	goodW := bufio.NewWriter(good)
	enc := newFrameEncoder(newHandle(DefaultMaxFrame), DefaultMaxFrame)
	sendGood := func(slot uint64) {
		m := msg(3, 1, slot)
		if _, err := enc.writeFrame(goodW, framePeer, &m); err != nil {
			t.Fatal(err)
		}
		if err := goodW.Flush(); err != nil {
			t.Fatal(err)
		}
		recvUntil(t, s, 5*time.Second, func(m paxos.Message) bool { return m.From == 3 && m.Slot == slot })
	}
	sendGood(1)
	cases := map[string][]byte{
		"too-large":      {0xff, 0xff, 0xff, 0xff, 0x13},
		"bad-body":       rawFrame(framePeer, []byte{0xdd, 0xff, 0xff, 0xff, 0xff}),
		"trailing":       rawFrame(framePeer, []byte{0x80, 0x00}),
		"wrong-type":     rawFrame(frameRequest, []byte{0x80}),
		"forged-sender":  encodeFrame(t, framePeer, ptr(msg(3, 1, 1))), // on node 2's connection
		"bad-version":    {0, 0, 0, 1, 0x23, 0x80},
		"not-a-message":  rawFrame(framePeer, []byte{0xa3, 'a', 'b', 'c'}),
		"truncated-body": rawFrame(framePeer, []byte{0x80})[:5],
	}
	for name, frame := range cases {
		before := s.Stats().MalformedFrames
		bad := rawPeer(t, s.Addr(), 2)
		if _, err := bad.Write(frame); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "truncated-body" {
			bad.(*net.TCPConn).CloseWrite()
		}
		_ = bad.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := bad.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); err == nil || (ok && ne.Timeout()) {
			t.Fatalf("%s: connection not closed by the server: %v", name, err)
		}
		if name != "truncated-body" {
			waitFor(t, 5*time.Second, name+" counted", func() bool { return s.Stats().MalformedFrames > before })
		}
		sendGood(uint64(len(name)))
	}
	checkPlainClient(t, s)
}

func ptr[T any](v T) *T { return &v }

func checkPlainClient(t *testing.T, s *Server) {
	t.Helper()
	c, err := Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: testCluster})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, err := c.Call(dialCtx(t), &Request{Op: OpStatus}); err != nil || r.Status.NodeID != 1 {
		t.Fatalf("client after malformed frames: %v", err)
	}
}
