package net

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paxlog/paxlog/paxos"
)

// testCA is a certificate authority made in the test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

var serial atomic.Int64

func newCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: "paxlog test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

type certOpts struct {
	dns       []string
	ekus      []x509.ExtKeyUsage
	notBefore time.Time
	notAfter  time.Time
}

func (ca *testCA) issue(t testing.TB, o certOpts) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: "paxlog test"},
		NotBefore: o.notBefore, NotAfter: o.notAfter, DNSNames: o.dns,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: o.ekus,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// node issues a replica certificate naming node id of cluster.
func (ca *testCA) node(t testing.TB, id paxos.NodeID, cluster string) *TLSConfig {
	c := ca.issue(t, certOpts{dns: []string{NodeCertName(id, cluster)},
		ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	return &TLSConfig{Certificate: c, CAPool: ca.pool}
}

// client issues a client certificate (ClientAuth only, no node name).
func (ca *testCA) client(t testing.TB) *TLSConfig {
	c := ca.issue(t, certOpts{dns: []string{"client." + testCluster},
		ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return &TLSConfig{Certificate: c, CAPool: ca.pool}
}

// testHandler is a ClientHandler for tests.
type testHandler struct {
	node     paxos.NodeID
	tailSent atomic.Int64 // entries handed to TailSink.Send and accepted
	tailErr  *TailError   // when set, HandleTail returns it at once
}

func (h *testHandler) HandleRequest(ctx context.Context, req *Request) *Response {
	switch req.Op {
	case OpAppend:
		idx := make([]uint64, len(req.Data))
		for i := range idx {
			idx[i] = req.Seq*100 + uint64(i)
		}
		return &Response{Indexes: idx}
	case OpRead:
		if req.Index == 0 { // block until the client gives up
			<-ctx.Done()
			return &Response{Err: ErrShutdown, Msg: ctx.Err().Error()}
		}
		return &Response{Index: req.Index, Data: []byte("entry")}
	case OpStatus:
		return &Response{Status: &StatusInfo{NodeID: h.node, Peers: []PeerProgress{{NodeID: 2, Match: 5}}, Rebuilding: true}}
	}
	return &Response{Err: ErrNotLeader, LeaderID: 3, Leader: "127.0.0.1:1"}
}

func (h *testHandler) HandleTail(ctx context.Context, req *TailRequest, out TailSink) error {
	if h.tailErr != nil {
		return h.tailErr
	}
	for i := req.From; ; i++ {
		if err := out.Send(ctx, []TailEntry{{Index: i, Data: []byte("tail")}}); err != nil {
			return err
		}
		h.tailSent.Add(1)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
