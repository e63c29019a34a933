package net

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/paxlog/paxlog/paxos"
)

// fuzzMaxFrame is the frame limit used by the fuzz targets: large enough
// that a 200k-deep nesting passes the length check and reaches the scanner.
const fuzzMaxFrame = 1 << 20

// accept64 is a 64-entry Accept with 256-byte entries.
func accept64() paxos.Message {
	m := paxos.Message{Type: paxos.MsgAccept, From: 1, To: 2, Ballot: paxos.Ballot{Round: 7, Node: 1},
		Slot: 1000, Commit: 999, CommitBallot: paxos.Ballot{Round: 7, Node: 1}}
	for i := range 64 {
		d := bytes.Repeat([]byte{byte(i)}, 256)
		m.Entries = append(m.Entries, paxos.Entry{Slot: 1000 + uint64(i), Ballot: m.Ballot, Data: d})
	}
	return m
}

func encodeFrame(t testing.TB, typ frameType, v any) []byte {
	t.Helper()
	fe := newFrameEncoder(newHandle(DefaultMaxFrame), DefaultMaxFrame)
	body, err := fe.encode(typ, v)
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte{}, fe.hdr[:]...), body...)
}

// rawFrame wraps an arbitrary body in a frame header.
func rawFrame(typ frameType, body []byte) []byte {
	f := []byte{0, 0, 0, 0, protoVersion<<4 | byte(typ)}
	f[0], f[1], f[2], f[3] = byte(len(body)>>24), byte(len(body)>>16), byte(len(body)>>8), byte(len(body))
	return append(f, body...)
}

func TestFrameRoundTrip(t *testing.T) {
	m := accept64()
	f := encodeFrame(t, framePeer, &m)
	fr := newFrameReader(bytes.NewReader(f), newHandle(DefaultMaxFrame), DefaultMaxFrame)
	typ, body, err := fr.next()
	if err != nil || typ != framePeer {
		t.Fatalf("next: %v %v", typ, err)
	}
	var got paxos.Message
	if err := fr.decode(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.String() != m.String() || len(got.Entries) != 64 || !bytes.Equal(got.Entries[63].Data, m.Entries[63].Data) ||
		got.Entries[5].Ballot != m.Ballot || got.CommitBallot != m.CommitBallot {
		t.Fatalf("round trip: got %v", got)
	}
}

// hostileBodies are msgpack bodies that claim far more than they hold.
func hostileBodies() map[string][]byte {
	ff := []byte{0xff, 0xff, 0xff, 0xff}
	deep := func(open byte, tail []byte) []byte {
		b := bytes.Repeat([]byte{open}, 200_000)
		return append(b, tail...)
	}
	deepMap := bytes.Repeat([]byte{0x81, 0xa1, 'e'}, 70_000)
	return map[string][]byte{
		"bin32-4GiB":       append([]byte{0xc6}, ff...),
		"str32-4GiB":       append([]byte{0xdb}, ff...),
		"array32-4GiB":     append([]byte{0xdd}, ff...),
		"map32-4GiB":       append([]byte{0xdf}, ff...),
		"ext32-4GiB":       append([]byte{0xc9}, append(ff, 1)...),
		"field-bin32-4GiB": append([]byte{0x81, 0xa1, 'e', 0x91, 0x81, 0xa1, 'd', 0xc6}, ff...),
		"field-array-4GiB": append([]byte{0x81, 0xa1, 'e', 0xdd}, ff...),
		"deep-array-200k":  deep(0x91, []byte{0xc0}),
		"deep-map-200k":    append(deepMap, 0xc0),
		"trailing-garbage": {0x80, 0xc1, 0xc1},
		"invalid-byte":     {0xc1},
		"empty":            {},
		"array-budget":     append([]byte{0x81, 0xa1, 'e', 0xdd, 0x00, 0x01, 0x00, 0x00}, bytes.Repeat([]byte{0xc0}, 1<<16)...),
		"array-of-nils":    append([]byte{0x81, 0xa1, 'e', 0xdc, 0xff, 0xff}, bytes.Repeat([]byte{0xc0}, 4096)...),
	}
}

func TestHostileBodiesRejectedWithoutAllocation(t *testing.T) {
	h := newHandle(fuzzMaxFrame)
	dec := codec.NewDecoderBytes(nil, h)
	for name, body := range hostileBodies() {
		var m paxos.Message
		alloc := allocated(func() { _ = decodeBody(dec, body, &m, fuzzMaxFrame) })
		err := decodeBody(dec, body, &m, fuzzMaxFrame)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
		if alloc > 2*fuzzMaxFrame {
			t.Errorf("%s: allocated %d bytes", name, alloc)
		}
	}
}

func TestFrameLengthCheckedBeforeAllocation(t *testing.T) {
	for _, n := range []uint32{fuzzMaxFrame + 1, 1 << 31, 0xffffffff} {
		f := []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), protoVersion<<4 | byte(framePeer)}
		fr := newFrameReader(bytes.NewReader(f), newHandle(fuzzMaxFrame), fuzzMaxFrame)
		var err error
		alloc := allocated(func() { _, _, err = fr.next() })
		if !errors.Is(err, ErrFrameTooLarge) || alloc > 4096 {
			t.Errorf("length %d: err %v, allocated %d", n, err, alloc)
		}
	}
	for name, f := range map[string][]byte{
		"truncated-header": {0, 0, 1},
		"truncated-body":   rawFrame(framePeer, []byte{0x80})[:5],
		"bad-version":      {0, 0, 0, 1, 0x21, 0x80},
		"bad-type":         {0, 0, 0, 1, 0x1f, 0x80},
	} {
		fr := newFrameReader(bytes.NewReader(f), newHandle(fuzzMaxFrame), fuzzMaxFrame)
		if _, _, err := fr.next(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestDecoderInitLenMeasured measures what decoding one genuine 8 MiB bin
// allocates with the library's default MaxInitLen (grown in 256 KiB steps,
// O(n^2)) and with ours (allocated once).
func TestDecoderInitLenMeasured(t *testing.T) {
	m := paxos.Message{Type: paxos.MsgChosen, From: 1, To: 2,
		Entries: []paxos.Entry{{Slot: 1, Data: make([]byte, 8<<20)}}}
	f := encodeFrame(t, framePeer, &m)
	body := f[frameHeaderLen:]
	measure := func(h *codec.MsgpackHandle) uint64 {
		dec := codec.NewDecoderBytes(nil, h)
		return allocated(func() {
			var got paxos.Message
			// The reflection codec is measured (decodeBody would take the
			// fast path of fastmsg.go, which allocates the data once).
			if err := decodeReflect(dec, body, &got); err != nil || len(got.Entries[0].Data) != 8<<20 {
				t.Fatalf("decode: %v", err)
			}
		})
	}
	def := &codec.MsgpackHandle{}
	def.WriteExt = true
	defAlloc, ourAlloc := measure(def), measure(newHandle(DefaultMaxFrame))
	t.Logf("decoding an 8 MiB bin allocates %d MiB with the default MaxInitLen, %d MiB with ours",
		defAlloc>>20, ourAlloc>>20)
	if ourAlloc > 2*uint64(len(body)) {
		t.Fatalf("our handle allocated %d bytes for a %d-byte body", ourAlloc, len(body))
	}
	if defAlloc < 8*ourAlloc {
		t.Fatalf("default handle allocated only %d bytes: measurement premise broken", defAlloc)
	}
}

// allocated returns the bytes allocated while f runs, from the runtime's
// cumulative heap allocation counter (cheaper than ReadMemStats, which
// stops the world; small allocations may be counted up to one span late,
// far below the limits checked here).
func allocated(f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

// decodeStream reads frames from data until an error, decoding each body
// as the type its frame type implies. It is what FuzzFrame exercises.
func decodeStream(data []byte, maxFrame int) error {
	fr := newFrameReader(bytes.NewReader(data), newHandle(maxFrame), maxFrame)
	for {
		typ, body, err := fr.next()
		if err != nil {
			return err
		}
		var v any
		switch typ {
		case framePeer:
			v = new(paxos.Message)
		case frameHello:
			v = new(hello)
		case frameWelcome:
			v = new(welcome)
		case frameRequest:
			v = new(reqEnvelope)
		case frameResponse:
			v = new(respEnvelope)
		case frameTailData:
			v = new(tailDataEnvelope)
		case frameTailOpen:
			v = new(tailOpenEnvelope)
		default:
			v = new(tailEndEnvelope)
		}
		if err := fr.decode(body, v); err != nil {
			return err
		}
	}
}

func FuzzFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var err error
		alloc := allocated(func() { err = decodeStream(data, fuzzMaxFrame) })
		if err == nil {
			t.Fatal("decodeStream returned nil")
		}
		// Allowance: the frame buffer (at most the frame), the bufio reader
		// and the decoded values (bounded by the scanner at 2x).
		if limit := uint64(2*fuzzMaxFrame + 256<<10); alloc > limit {
			t.Fatalf("allocated %d bytes > %d for %d input bytes", alloc, limit, len(data))
		}
	})
}

// fakeConn is a net.Conn that reads from a buffer and discards writes.
type fakeConn struct {
	io.Reader
	nopConn
}

func (c fakeConn) Read(p []byte) (int, error) { return c.Reader.Read(p) }

func FuzzHandshake(f *testing.F) {
	peers := map[paxos.NodeID]string{1: "a", 2: "b", 3: "c"}
	f.Fuzz(func(t *testing.T, data []byte) {
		alloc := allocated(func() {
			// Listener side: the hello and the cluster policy.
			fr := newFrameReader(bytes.NewReader(data), newHandle(fuzzMaxFrame), fuzzMaxFrame)
			if hi, err := readHello(fr); err == nil {
				err = checkHello(hi, testCluster, 1, peers, true, nil)
				if err == nil && (hi.Cluster != testCluster || (hi.Role == rolePeer && (hi.Node < 2 || hi.Node > 3))) {
					t.Fatalf("accepted %+v", hi)
				}
			}
			// Dialer side: the welcome.
			hi := hello{Version: protoVersion, Cluster: testCluster, Role: roleClient}
			node, _, err := clientHandshake(fakeConn{Reader: bytes.NewReader(data)}, newHandle(fuzzMaxFrame), fuzzMaxFrame, hi, deadlineNone)
			if err == nil && node == 0 {
				t.Fatal("welcome accepted with node 0")
			}
		})
		if limit := uint64(4*fuzzMaxFrame + 512<<10); alloc > limit {
			t.Fatalf("allocated %d bytes > %d", alloc, limit)
		}
	})
}

// TestWriteSeedCorpus regenerates testdata/fuzz when PAXNET_WRITE_CORPUS=1.
// Without it, it checks that every seed file exists and parses.
func TestWriteSeedCorpus(t *testing.T) {
	write := os.Getenv("PAXNET_WRITE_CORPUS") == "1"
	for target, seeds := range seedCorpus(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, data := range seeds {
			path := filepath.Join(dir, name)
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if write {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || !strings.HasPrefix(string(got), "go test fuzz v1\n") {
				t.Errorf("seed %s: %v", path, err)
			}
		}
	}
}

func seedCorpus(t *testing.T) map[string]map[string][]byte {
	hb := msg(2, 1, 5)
	acc := accept64()
	good := encodeFrame(t, framePeer, &hb)
	big := encodeFrame(t, framePeer, &acc)
	frames := map[string][]byte{
		"heartbeat":          good,
		"accept64":           big,
		"two-frames":         append(append([]byte{}, good...), good...),
		"truncated-body":     big[:len(big)-10],
		"truncated-header":   good[:3],
		"length-4GiB":        {0xff, 0xff, 0xff, 0xff, 0x13, 0x80},
		"frame-then-garbage": append(append([]byte{}, good...), 0xde, 0xad, 0xbe, 0xef, 0x01),
		"body-trailing":      rawFrame(framePeer, append(good[frameHeaderLen:], 0x00, 0xc0)),
		"request":            encodeFrame(t, frameRequest, &reqEnvelope{ID: 1, Req: &Request{Op: OpAppend, Data: [][]byte{[]byte("x")}}}),
		"tail-data":          encodeFrame(t, frameTailData, &tailDataEnvelope{ID: 1, Entries: []TailEntry{{Index: 1, Data: []byte("y")}}}),
	}
	for name, body := range hostileBodies() {
		frames[name] = rawFrame(framePeer, body)
	}
	goodHello := encodeFrame(t, frameHello, &hello{Version: protoVersion, Cluster: testCluster, Role: rolePeer, Node: 2})
	hs := map[string][]byte{
		"hello-peer":       goodHello,
		"hello-client":     encodeFrame(t, frameHello, &hello{Version: protoVersion, Cluster: testCluster, Role: roleClient}),
		"hello-other":      encodeFrame(t, frameHello, &hello{Version: protoVersion, Cluster: "other", Role: rolePeer, Node: 2}),
		"hello-unknown":    encodeFrame(t, frameHello, &hello{Version: protoVersion, Cluster: testCluster, Role: rolePeer, Node: 9}),
		"welcome":          encodeFrame(t, frameWelcome, &welcome{Version: protoVersion, Cluster: testCluster, Node: 1}),
		"welcome-refused":  encodeFrame(t, frameWelcome, &welcome{Version: protoVersion, Cluster: testCluster, Node: 1, Err: "no"}),
		"hello-truncated":  goodHello[:len(goodHello)-3],
		"hello-trailing":   append(append([]byte{}, goodHello...), 0xff, 0xff),
		"tls-client-hello": {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03},
		"tls-alert":        {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46},
		"cluster-str32":    rawFrame(frameHello, []byte{0x82, 0xa1, 'v', 0x01, 0xa1, 'c', 0xdb, 0xff, 0xff, 0xff, 0xff}),
		"length-4GiB":      {0xff, 0xff, 0xff, 0xff, 0x11},
		"garbage":          []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	}
	for name, body := range hostileBodies() {
		hs[name] = rawFrame(frameHello, body)
	}
	return map[string]map[string][]byte{"FuzzFrame": frames, "FuzzHandshake": hs}
}

var deadlineNone time.Time

// nopConn is the rest of a net.Conn for fakeConn: writes are discarded.
type nopConn struct{}

func (nopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (nopConn) Close() error                     { return nil }
func (nopConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (nopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (nopConn) SetDeadline(time.Time) error      { return nil }
func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }
