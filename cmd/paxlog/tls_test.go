package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
)

// certs writes a CA and certificates named as paxnet requires into dir.
type certs struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

func newCerts(t *testing.T) *certs {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "paxlog test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	c := &certs{dir: t.TempDir(), caCert: ca, caKey: key, serial: 1}
	writePEM(t, filepath.Join(c.dir, "ca.pem"), "CERTIFICATE", der)
	return c
}

// issue writes name.pem and name.key; dns empty means a client certificate.
func (c *certs) issue(t *testing.T, name, dns string) *paxnet.TLSConfig {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(c.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if dns != "" {
		tmpl.DNSNames = []string{dns}
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.caCert, &key.PublicKey, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tc := &paxnet.TLSConfig{CertFile: filepath.Join(c.dir, name+".pem"), KeyFile: filepath.Join(c.dir, name+".key"),
		CAFile: filepath.Join(c.dir, "ca.pem")}
	writePEM(t, tc.CertFile, "CERTIFICATE", der)
	writePEM(t, tc.KeyFile, "EC PRIVATE KEY", kb)
	return tc
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTLSDeployment runs three replicas with mutual TLS, as the README's
// deployment example does, and uses them through the TLS flags (given as
// PAXLOG_* variables); a plaintext client is refused.
func TestTLSDeployment(t *testing.T) {
	const cluster = "prod"
	c := newCerts(t)
	ports := freePorts(t, 3)
	peers := map[paxos.NodeID]string{}
	var addrs []string
	for i, p := range ports {
		peers[paxos.NodeID(i+1)] = fmt.Sprintf("127.0.0.1:%d", p)
		addrs = append(addrs, peers[paxos.NodeID(i+1)])
	}
	var rcs []replicaConfig
	for id := paxos.NodeID(1); id <= 3; id++ {
		rcs = append(rcs, replicaConfig{ID: id, Cluster: cluster, Dir: t.TempDir(), Peers: peers, Logger: nullLogger(),
			TLS: c.issue(t, fmt.Sprintf("node-%d", id), paxnet.NodeCertName(id, cluster))})
	}
	rs, _, err := startAll(nullLogger(), rcs, "")
	if err != nil {
		t.Fatal(err)
	}
	defer stopAll(nullLogger(), rs, nil)
	client := c.issue(t, "client", "")
	env := map[string]string{"PAXLOG_CLUSTER": cluster, "PAXLOG_ADDR": strings.Join(addrs, ","),
		"PAXLOG_TLS_CERT": client.CertFile, "PAXLOG_TLS_KEY": client.KeyFile, "PAXLOG_TLS_CA": client.CAFile}
	code, out, stderr := runCLI(t, env, "append", "secret")
	if code != exitOK {
		t.Fatalf("append over TLS: exit %d %s", code, stderr)
	}
	idx := strings.TrimSpace(out)
	code, out, stderr = runCLI(t, env, "tail")
	if code != exitOK || out != idx+"\tsecret\n" {
		t.Errorf("tail over TLS: exit %d %q %s", code, out, stderr)
	}
	code, _, stderr = runCLI(t, nil, "status", "--cluster", cluster, "--addr", addrs[0], "--timeout", "2s")
	t.Logf("plaintext client: %s", strings.TrimSpace(stderr))
	if code != exitNoReplica || !strings.Contains(stderr, "TLS") {
		t.Errorf("plaintext status against TLS replicas: exit %d, want %d\n%s", code, exitNoReplica, stderr)
	}
}
