package net

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/paxlog/paxlog/paxos"
)

// NodeCertName is the DNS SAN a replica's certificate must carry:
// "node-<id>.<cluster>". A listener checks it against the node id a peer
// claims in its hello; a dialing peer uses it as the TLS server name of the
// peer it dials. Client certificates must not carry such a name.
func NodeCertName(id paxos.NodeID, cluster string) string {
	return fmt.Sprintf("node-%d.%s", id, cluster)
}

// tlsMaterial is a loaded TLSConfig.
type tlsMaterial struct {
	cert tls.Certificate
	pool *x509.CertPool
}

func loadTLS(c *TLSConfig) (*tlsMaterial, error) {
	if c == nil {
		return nil, nil
	}
	m := &tlsMaterial{pool: c.CAPool}
	if c.Certificate != nil {
		m.cert = *c.Certificate
	} else {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS key pair %s, %s: %w", ErrInvalidConfig, c.CertFile, c.KeyFile, err)
		}
		m.cert = cert
	}
	if m.pool == nil {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS CA file: %w", ErrInvalidConfig, err)
		}
		m.pool = x509.NewCertPool()
		if !m.pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: TLS CA file %s holds no certificate", ErrInvalidConfig, c.CAFile)
		}
	}
	return m, nil
}

// server is the listener's tls.Config: TLS 1.3, a verified client
// certificate required from every dialer (peer or client).
func (m *tlsMaterial) server() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{m.cert},
		ClientCAs:    m.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

// peer is the tls.Config to dial replica id: its certificate must name it.
func (m *tlsMaterial) peer(id paxos.NodeID, cluster string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{m.cert},
		RootCAs:      m.pool,
		ServerName:   NodeCertName(id, cluster),
	}
}

// client is the tls.Config of a client dialing an address: the server's
// certificate must chain to the CA and name some node of the cluster (the
// node id is checked against the welcome afterwards).
func (m *tlsMaterial) client(cluster string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{m.cert},
		RootCAs:            m.pool,
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: server sent no certificate", ErrHandshake)
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			leaf := cs.PeerCertificates[0]
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: m.pool, Intermediates: inter,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				return fmt.Errorf("%w: server certificate: %w", ErrHandshake, err)
			}
			if !slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return isNodeName(n, cluster) }) {
				return fmt.Errorf("%w: server certificate names no node of cluster %q (%v)", ErrHandshake, cluster, leaf.DNSNames)
			}
			return nil
		},
	}
}

func isNodeName(name, cluster string) bool {
	rest, ok := strings.CutPrefix(name, "node-")
	if !ok {
		return false
	}
	id, ok := strings.CutSuffix(rest, "."+cluster)
	return ok && id != "" && strings.Trim(id, "0123456789") == ""
}

// certNamesNode checks that the verified peer certificate names node id.
func certNamesNode(cs *tls.ConnectionState, id paxos.NodeID, cluster string) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: no client certificate", ErrHandshake)
	}
	leaf := cs.PeerCertificates[0]
	want := NodeCertName(id, cluster)
	if !slices.Contains(leaf.DNSNames, want) {
		return fmt.Errorf("%w: certificate (names %v) does not name %s", ErrHandshake, leaf.DNSNames, want)
	}
	return nil
}

// welcomeNamesNode checks, on a client's TLS connection, that the server's
// certificate names the node id its welcome claims.
func welcomeNamesNode(cs tls.ConnectionState, id paxos.NodeID, cluster string) error {
	return certNamesNode(&cs, id, cluster)
}
