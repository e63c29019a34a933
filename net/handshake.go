package net

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/paxlog/paxlog/paxos"
)

// Roles a dialer declares in its hello.
const (
	rolePeer   uint8 = 1
	roleClient uint8 = 2
)

// hello is the first frame on every connection, sent by the dialer.
type hello struct {
	Version uint8        `codec:"v"`
	Cluster string       `codec:"c"`
	Role    uint8        `codec:"r"`
	Node    paxos.NodeID `codec:"n,omitempty"` // the sender's node id (rolePeer only)
}

// welcome answers a hello. A non-empty Err means refused; the listener
// closes the connection after sending it.
type welcome struct {
	Version uint8        `codec:"v"`
	Cluster string       `codec:"c"`
	Node    paxos.NodeID `codec:"n"`
	Err     string       `codec:"e,omitempty"`
}

// tlsRecordHandshake is the first byte of a TLS ClientHello record, and
// tlsRecordAlert the first byte of an alert record.
const (
	tlsRecordAlert     = 0x15
	tlsRecordHandshake = 0x16
)

// plaintextRefusal is what a plaintext listener writes to a TLS dialer
// before closing; the dialer's TLS stack reports it as not TLS.
const plaintextRefusal = "paxnet: this server speaks plaintext, not TLS\n"

// msgTLSRequired is the refusal a TLS listener sends, in plaintext
// framing, to a plaintext dialer.
const msgTLSRequired = "this server requires TLS"

// clientHandshake sends hello on conn (already TLS-wrapped when
// configured) and reads the welcome. It returns the listener's node id.
func clientHandshake(conn net.Conn, h *codec.MsgpackHandle, maxFrame int, hi hello, deadline time.Time) (paxos.NodeID, *frameReader, error) {
	_ = conn.SetDeadline(deadline)
	defer conn.SetDeadline(time.Time{})
	enc := newFrameEncoder(h, maxFrame)
	bw := bufio.NewWriterSize(conn, 512)
	if _, err := enc.writeFrame(bw, frameHello, &hi); err != nil {
		return 0, nil, err
	}
	if err := bw.Flush(); err != nil {
		return 0, nil, fmt.Errorf("paxnet: send hello: %w", err)
	}
	fr := newFrameReader(conn, h, maxFrame)
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("%w: no welcome: %w", ErrHandshake, err)
	}
	if fr.hdr[0] == tlsRecordAlert && fr.hdr[1] == 3 {
		return 0, nil, fmt.Errorf("%w: the server speaks TLS; configure TLS", ErrTLSMismatch)
	}
	typ, body, err := fr.body()
	if err != nil {
		return 0, nil, fmt.Errorf("%w: bad welcome: %w", ErrHandshake, err)
	}
	if typ != frameWelcome {
		return 0, nil, fmt.Errorf("%w: got frame type %d, want welcome", ErrHandshake, typ)
	}
	var w welcome
	if err := fr.decode(body, &w); err != nil {
		return 0, nil, fmt.Errorf("%w: bad welcome: %w", ErrHandshake, err)
	}
	if w.Err == msgTLSRequired {
		return 0, nil, fmt.Errorf("%w: the server requires TLS; configure TLS", ErrTLSMismatch)
	}
	if w.Err != "" {
		return 0, nil, fmt.Errorf("%w: %s", ErrHandshake, w.Err)
	}
	if w.Version != protoVersion || w.Cluster != hi.Cluster || w.Node == 0 {
		return 0, nil, fmt.Errorf("%w: welcome from cluster %q node %d version %d", ErrHandshake, w.Cluster, w.Node, w.Version)
	}
	return w.Node, fr, nil
}

// readHello reads and validates the syntax of the first frame on an
// accepted connection.
func readHello(fr *frameReader) (hello, error) {
	var hi hello
	typ, body, err := fr.next()
	if err != nil {
		return hi, fmt.Errorf("%w: reading hello: %w", ErrHandshake, err)
	}
	if typ != frameHello {
		return hi, fmt.Errorf("%w: first frame has type %d, want hello", ErrHandshake, typ)
	}
	if err := fr.decode(body, &hi); err != nil {
		return hi, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if hi.Version != protoVersion {
		return hi, fmt.Errorf("%w: version %d, want %d", ErrHandshake, hi.Version, protoVersion)
	}
	if hi.Role != rolePeer && hi.Role != roleClient {
		return hi, fmt.Errorf("%w: role %d", ErrHandshake, hi.Role)
	}
	return hi, nil
}

// checkHello applies the cluster policy to a syntactically valid hello:
// the cluster must match, a peer must be a known member whose TLS
// certificate (when TLS is on) names it, and clients need a handler.
func checkHello(hi hello, cluster string, self paxos.NodeID, peers map[paxos.NodeID]string, clients bool, state *tls.ConnectionState) error {
	if hi.Cluster != cluster {
		return fmt.Errorf("%w: cluster %q, this is %q", ErrHandshake, hi.Cluster, cluster)
	}
	if hi.Role == roleClient {
		if !clients {
			return fmt.Errorf("%w: this endpoint does not serve clients", ErrHandshake)
		}
		return nil
	}
	if _, ok := peers[hi.Node]; !ok || hi.Node == self {
		return fmt.Errorf("%w: unknown node id %d", ErrHandshake, hi.Node)
	}
	if state != nil {
		if err := certNamesNode(state, hi.Node, cluster); err != nil {
			return err
		}
	}
	return nil
}

// sniffTLS reports whether the connection's first byte looks like a TLS
// handshake record, without consuming it.
func sniffTLS(br *bufio.Reader) bool {
	b, err := br.Peek(3)
	return err == nil && b[0] == tlsRecordHandshake && b[1] == 3
}

// isTLSRecordHeader reports whether b starts like a TLS record.
func isTLSRecordHeader(b []byte) bool {
	return len(b) >= 2 && (b[0] == tlsRecordHandshake || b[0] == tlsRecordAlert) && b[1] == 3
}

// tlsMismatchError turns crypto/tls's "not a TLS handshake" into ErrTLSMismatch.
func tlsMismatchError(addr string, err error) error {
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		if bytes.HasPrefix([]byte(plaintextRefusal), rh.RecordHeader[:]) || !isTLSRecordHeader(rh.RecordHeader[:]) {
			return fmt.Errorf("%w: %s answered in plaintext; it is not configured for TLS: %w", ErrTLSMismatch, addr, err)
		}
	}
	return fmt.Errorf("paxnet: TLS handshake with %s: %w", addr, err)
}

func errHandshakeNode(want, got paxos.NodeID) error {
	return fmt.Errorf("%w: dialed node %d but node %d answered", ErrHandshake, want, got)
}
