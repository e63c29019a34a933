package net

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

// tlsServer starts node 1 of a 3-node cluster with TLS and a client handler.
func tlsServer(t *testing.T, ca *testCA) *Server {
	t.Helper()
	s, err := Listen(Config{ClusterID: testCluster, NodeID: 1, Listen: "127.0.0.1:0",
		Peers: map[paxos.NodeID]string{2: freeAddr(t), 3: freeAddr(t)},
		TLS:   ca.node(t, 1, testCluster)}, &testHandler{node: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dialCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// expectRefused checks that err is non-nil and that the server counted
// a handshake failure, and that the server still serves a good client.
func expectRefused(t *testing.T, s *Server, ca *testCA, before uint64, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("connection accepted")
	}
	t.Logf("refused: %v", err)
	waitFor(t, 5*time.Second, "handshake failure counted", func() bool { return s.Stats().HandshakeFailures > before })
	checkGoodClient(t, s, ca)
}

func checkGoodClient(t *testing.T, s *Server, ca *testCA) {
	t.Helper()
	c, err := Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: testCluster, TLS: ca.client(t)})
	if err != nil {
		t.Fatalf("good client refused: %v", err)
	}
	defer c.Close()
	r, err := c.Call(dialCtx(t), &Request{Op: OpStatus})
	if err != nil || r.Status == nil || r.Status.NodeID != 1 {
		t.Fatalf("status: %v %+v", err, r)
	}
}

// peerDialsServer starts a peer node with tlsCfg that sends to node 1 of
// s, and returns its stats once it has failed to connect at least once.
func peerDialsServer(t *testing.T, s *Server, id paxos.NodeID, cluster string, tlsCfg *TLSConfig) PeerStats {
	t.Helper()
	p, err := Listen(Config{ClusterID: cluster, NodeID: id, Listen: "127.0.0.1:0",
		Peers: map[paxos.NodeID]string{1: s.Addr()}, TLS: tlsCfg, DialTimeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Send(msg(id, 1, 1))
	waitFor(t, 10*time.Second, "dial failure", func() bool { return p.Stats().Peers[1].DialFailures > 0 })
	select {
	case m := <-s.Messages():
		t.Fatalf("message delivered from refused peer: %v", m)
	default:
	}
	return p.Stats().Peers[1]
}

func TestTLSPeersAndClients(t *testing.T) {
	ca := newCA(t)
	a1, a2 := freeAddr(t), freeAddr(t)
	peers := map[paxos.NodeID]string{1: a1, 2: a2}
	s1, err := Listen(Config{ClusterID: testCluster, NodeID: 1, Listen: a1, Peers: peers, TLS: ca.node(t, 1, testCluster)}, &testHandler{node: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := Listen(Config{ClusterID: testCluster, NodeID: 2, Listen: a2, Peers: peers, TLS: ca.node(t, 2, testCluster)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s1.Send(msg(1, 2, 1))
	s2.Send(msg(2, 1, 1))
	recvUntil(t, s2, 10*time.Second, func(m paxos.Message) bool { return m.From == 1 })
	recvUntil(t, s1, 10*time.Second, func(m paxos.Message) bool { return m.From == 2 })
	checkGoodClient(t, s1, ca)
	// A replica certificate may also be used by a client.
	c, err := Dial(dialCtx(t), s1.Addr(), ClientConfig{ClusterID: testCluster, TLS: ca.node(t, 2, testCluster)})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestTLSRejectsNoClientCertificate(t *testing.T) {
	ca := newCA(t)
	s := tlsServer(t, ca)
	before := s.Stats().HandshakeFailures
	_, err := Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: testCluster, TLS: &TLSConfig{Certificate: &tls.Certificate{}, CAPool: ca.pool}})
	expectRefused(t, s, ca, before, err)
}

func TestTLSRejectsWrongCA(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	s := tlsServer(t, ca)
	before := s.Stats().HandshakeFailures
	cfg := other.client(t)
	cfg.CAPool = ca.pool // trusts the server, but its own cert is from another CA
	_, err := Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: testCluster, TLS: cfg})
	expectRefused(t, s, ca, before, err)
}

func TestTLSRejectsExpiredCertificate(t *testing.T) {
	ca := newCA(t)
	s := tlsServer(t, ca)
	before := s.Stats().HandshakeFailures
	c := ca.issue(t, certOpts{dns: []string{"client." + testCluster}, ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
	_, err := Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: testCluster, TLS: &TLSConfig{Certificate: c, CAPool: ca.pool}})
	expectRefused(t, s, ca, before, err)
}

func TestTLSRejectsCertificateForAnotherNode(t *testing.T) {
	ca := newCA(t)
	s := tlsServer(t, ca)
	before := s.Stats().HandshakeFailures
	// Node 2 presents node 3's certificate.
	peerDialsServer(t, s, 2, testCluster, ca.node(t, 3, testCluster))
	expectRefused(t, s, ca, before, errors.New("peer refused"))
}

func TestTLSRejectsClientCertificateOnPeerSession(t *testing.T) {
	ca := newCA(t)
	s := tlsServer(t, ca)
	before := s.Stats().HandshakeFailures
	peerDialsServer(t, s, 2, testCluster, ca.client(t))
	expectRefused(t, s, ca, before, errors.New("peer refused"))
}

func TestTLSRejectsUnknownNode(t *testing.T) {
	ca := newCA(t)
	s := tlsServer(t, ca)
	before := s.Stats().HandshakeFailures
	peerDialsServer(t, s, 9, testCluster, ca.node(t, 9, testCluster))
	expectRefused(t, s, ca, before, errors.New("peer refused"))
}

func TestTLSRejectsWrongCluster(t *testing.T) {
	ca := newCA(t)
	s := tlsServer(t, ca)
	// The client's check of the server certificate fails first: it names
	// node-1.test-cluster, not a node of "other".
	_, err := Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: "other", TLS: ca.client(t)})
	if err == nil || !strings.Contains(err.Error(), "names no node of cluster") {
		t.Fatalf("err = %v", err)
	}
	// A peer of another cluster whose certificate names it properly.
	before := s.Stats().HandshakeFailures
	peerDialsServer(t, s, 2, "other", ca.node(t, 2, "other"))
	expectRefused(t, s, ca, before, errors.New("peer refused"))
}

func TestTLSRejectsServerNamingAnotherNode(t *testing.T) {
	ca := newCA(t)
	// The listener at node 1's address presents node 3's certificate.
	s, err := Listen(Config{ClusterID: testCluster, NodeID: 1, Listen: "127.0.0.1:0",
		Peers: map[paxos.NodeID]string{2: freeAddr(t)}, TLS: ca.node(t, 3, testCluster)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := peerDialsServer(t, s, 2, testCluster, ca.node(t, 2, testCluster))
	if st.Connected {
		t.Fatal("connected to an impostor")
	}
}

func TestTLSRejectsPlaintextClient(t *testing.T) {
	ca := newCA(t)
	s := tlsServer(t, ca)
	before := s.Stats().HandshakeFailures
	_, err := Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: testCluster})
	if !errors.Is(err, ErrTLSMismatch) {
		t.Fatalf("err = %v, want ErrTLSMismatch", err)
	}
	expectRefused(t, s, ca, before, err)
}

func TestTLSClientAgainstPlaintextServer(t *testing.T) {
	s, err := Listen(Config{ClusterID: testCluster, NodeID: 1, Listen: "127.0.0.1:0"}, &testHandler{node: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: testCluster, TLS: newCA(t).client(t)})
	if !errors.Is(err, ErrTLSMismatch) {
		t.Fatalf("err = %v, want ErrTLSMismatch", err)
	}
	t.Logf("clear error: %v", err)
	if s.Stats().HandshakeFailures != 1 {
		t.Fatalf("handshake failures %d", s.Stats().HandshakeFailures)
	}
}

func TestTLSRejectsHandshakeGarbage(t *testing.T) {
	ca := newCA(t)
	s := tlsServer(t, ca)
	before := s.Stats().HandshakeFailures
	cfg := ca.client(t)
	conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{Certificates: []tls.Certificate{*cfg.Certificate},
		RootCAs: ca.pool, ServerName: NodeCertName(1, testCluster), MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("\x00\x00\x00\x05\x11garbage-not-msgpack")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	expectRefused(t, s, ca, before, errOr(err))
}

func TestTLSRejectsTLS12(t *testing.T) {
	ca := newCA(t)
	s := tlsServer(t, ca)
	before := s.Stats().HandshakeFailures
	cfg := ca.client(t)
	conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{Certificates: []tls.Certificate{*cfg.Certificate},
		RootCAs: ca.pool, ServerName: NodeCertName(1, testCluster), MaxVersion: tls.VersionTLS12})
	if conn != nil {
		conn.Close()
	}
	expectRefused(t, s, ca, before, err)
}

// TestPlaintextRefusals covers the hello checks without TLS.
func TestPlaintextRefusals(t *testing.T) {
	s, err := Listen(Config{ClusterID: testCluster, NodeID: 1, Listen: "127.0.0.1:0",
		Peers: map[paxos.NodeID]string{2: freeAddr(t)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: "other"})
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "cluster") {
		t.Fatalf("wrong cluster: %v", err)
	}
	_, err = Dial(dialCtx(t), s.Addr(), ClientConfig{ClusterID: testCluster})
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "clients") {
		t.Fatalf("clients refused: %v", err)
	}
	raw, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, _ = raw.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := raw.Read(make([]byte, 1)); err == nil {
		t.Fatal("garbage not refused")
	}
	waitFor(t, 5*time.Second, "3 refusals", func() bool { return s.Stats().HandshakeFailures == 3 })
}

func errOr(err error) error {
	if err == nil {
		return errors.New("connection stayed open")
	}
	return err
}
