package net

import (
	"bytes"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/paxlog/paxlog/paxos"
)

// reflectEncode encodes v with the reflection codec (the reference).
func reflectEncode(t *testing.T, v any) []byte {
	t.Helper()
	var b []byte
	if err := codec.NewEncoderBytes(&b, newHandle(DefaultMaxFrame)).Encode(v); err != nil {
		t.Fatal(err)
	}
	return b
}

func reflectDecode(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := codec.NewDecoderBytes(body, newHandle(DefaultMaxFrame)).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// fuzzUint spreads values over every msgpack integer width.
func fuzzUint(r *rand.Rand) uint64 {
	switch r.Intn(6) {
	case 0:
		return 0
	case 1:
		return uint64(r.Intn(0x80))
	case 2:
		return uint64(0x80 + r.Intn(0x80))
	case 3:
		return uint64(0x100 + r.Intn(0xff00))
	case 4:
		return uint64(0x10000 + r.Int63n(0xffff0000))
	}
	return r.Uint64() | 1<<32
}

func fuzzBytes(r *rand.Rand) []byte {
	sizes := []int{0, 1, 255, 256, 300, 65535, 65536, 70000}
	b := make([]byte, sizes[r.Intn(len(sizes))])
	r.Read(b)
	return b
}

func fuzzString(r *rand.Rand) string {
	return strings.Repeat("x", []int{0, 5, 31, 32, 255, 256, 70000}[r.Intn(7)])
}

func fuzzRequest(r *rand.Rand) *reqEnvelope {
	env := &reqEnvelope{ID: fuzzUint(r)}
	if r.Intn(8) == 0 {
		return env
	}
	req := &Request{Op: Op(r.Intn(256)), ClientID: fuzzUint(r), Seq: fuzzUint(r), Conditional: r.Intn(2) == 0,
		ExpectLast: fuzzUint(r), Index: fuzzUint(r)}
	for range []int{0, 1, 2, 15, 16, 300}[r.Intn(6)] {
		req.Data = append(req.Data, fuzzBytes(r))
	}
	env.Req = req
	return env
}

func fuzzResponse(r *rand.Rand) *respEnvelope {
	env := &respEnvelope{ID: fuzzUint(r)}
	if r.Intn(8) == 0 {
		return env
	}
	resp := &Response{Err: ErrCode(r.Intn(256)), Msg: fuzzString(r), Leader: fuzzString(r),
		LeaderID: paxos.NodeID(fuzzUint(r)), Index: fuzzUint(r), Data: fuzzBytes(r), First: fuzzUint(r)}
	for range []int{0, 1, 15, 16, 70000}[r.Intn(5)] {
		resp.Indexes = append(resp.Indexes, fuzzUint(r))
	}
	if len(resp.Data) == 0 {
		resp.Data = nil
	}
	env.Resp = resp
	return env
}

// TestFastCodecMatchesReflection: the fast encoder writes the reflection
// codec's exact bytes, and the fast decoder reads them into what the
// reflection decoder produces.
func TestFastCodecMatchesReflection(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 400; i++ {
		req := fuzzRequest(r)
		want := reflectEncode(t, req)
		if got := encodeReqFast(nil, req); !bytes.Equal(got, want) {
			t.Fatalf("request %d: fast encoding differs\nfast %x\nrefl %x", i, head(got), head(want))
		}
		var ref, fast reqEnvelope
		reflectDecode(t, want, &ref)
		if !decodeReqFast(want, &fast) {
			t.Fatalf("request %d: fast decoder refused its own encoding", i)
		}
		if !reflect.DeepEqual(normReq(ref), normReq(fast)) {
			t.Fatalf("request %d: decoded %+v, reflection %+v", i, fast.Req, ref.Req)
		}

		resp := fuzzResponse(r)
		want = reflectEncode(t, resp)
		got, ok := encodeRespFast(nil, resp)
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("response %d: fast encoding differs (ok %v)\nfast %x\nrefl %x", i, ok, head(got), head(want))
		}
		var rref, rfast respEnvelope
		reflectDecode(t, want, &rref)
		if !decodeRespFast(want, &rfast) {
			t.Fatalf("response %d: fast decoder refused its own encoding", i)
		}
		if !reflect.DeepEqual(rref, rfast) {
			t.Fatalf("response %d: decoded %+v, reflection %+v", i, rfast.Resp, rref.Resp)
		}
	}
}

// normReq maps empty data elements to nil (the reflection decoder and the
// fast one may differ only there).
func normReq(env reqEnvelope) reqEnvelope {
	if env.Req == nil {
		return env
	}
	r := *env.Req
	r.Data = append([][]byte(nil), r.Data...)
	for i, d := range r.Data {
		if len(d) == 0 {
			r.Data[i] = nil
		}
	}
	env.Req = &r
	return env
}

func head(b []byte) []byte { return b[:min(len(b), 64)] }

// TestFastCodecFallsBack: shapes the fast codec does not handle (a status,
// an unknown key, a negative integer, a truncated body) are refused by it
// and still decoded, or rejected, by decodeBody through the reflection
// codec.
func TestFastCodecFallsBack(t *testing.T) {
	st := &respEnvelope{ID: 7, Resp: &Response{Status: &StatusInfo{NodeID: 2, Role: "leader"}}}
	if _, ok := encodeRespFast(nil, st); ok {
		t.Fatal("fast encoder took a StatusInfo")
	}
	fe := newFrameEncoder(newHandle(DefaultMaxFrame), DefaultMaxFrame)
	body, err := fe.encode(frameResponse, st)
	if err != nil {
		t.Fatal(err)
	}
	var fast respEnvelope
	if decodeRespFast(body, &fast) {
		t.Fatal("fast decoder took a StatusInfo")
	}
	if fast != (respEnvelope{}) {
		t.Fatalf("refused decode left %+v", fast)
	}
	var got respEnvelope
	dec := codec.NewDecoderBytes(nil, newHandle(DefaultMaxFrame))
	if err := decodeBody(dec, body, &got, DefaultMaxFrame); err != nil || got.Resp.Status.Role != "leader" {
		t.Fatalf("status response: %+v, %v", got.Resp, err)
	}

	type extraReq struct {
		Op    Op     `codec:"op"`
		Extra string `codec:"zz"`
	}
	extra := reflectEncode(t, &struct {
		ID  uint64    `codec:"id"`
		Req *extraReq `codec:"r"`
	}{ID: 3, Req: &extraReq{Op: OpAppend, Extra: "new field"}})
	var req reqEnvelope
	if decodeReqFast(extra, &req) {
		t.Fatal("fast decoder took an unknown key")
	}
	if err := decodeBody(dec, extra, &req, DefaultMaxFrame); err != nil || req.ID != 3 || req.Req.Op != OpAppend {
		t.Fatalf("unknown key: %+v, %v", req, err)
	}

	neg := reflectEncode(t, &struct {
		ID int64 `codec:"id"`
	}{ID: -1})
	if decodeReqFast(neg, &req) {
		t.Fatal("fast decoder took a negative id")
	}

	good := encodeReqFast(nil, &reqEnvelope{ID: 9, Req: &Request{Op: OpAppend, Data: [][]byte{[]byte("abc")}}})
	for cut := 0; cut < len(good); cut++ {
		if decodeReqFast(good[:cut], &req) {
			t.Fatalf("fast decoder took a body cut at %d of %d", cut, len(good))
		}
		if err := decodeBody(dec, good[:cut], &req, DefaultMaxFrame); err == nil {
			t.Fatalf("a body cut at %d of %d decoded", cut, len(good))
		}
	}
}

// TestFastDecodeCopies: decoded request data does not alias the frame
// buffer, which the reader reuses.
func TestFastDecodeCopies(t *testing.T) {
	body := encodeReqFast(nil, &reqEnvelope{ID: 1, Req: &Request{Op: OpAppend, Data: [][]byte{[]byte("ab"), []byte("cd")}}})
	var env reqEnvelope
	if !decodeReqFast(body, &env) {
		t.Fatal("refused")
	}
	for i := range body {
		body[i] = 0
	}
	if string(env.Req.Data[0]) != "ab" || string(env.Req.Data[1]) != "cd" {
		t.Fatalf("data aliases the body: %q", env.Req.Data)
	}
	if cap(env.Req.Data[0]) != 2 {
		t.Fatalf("element capacity %d: an append could overwrite its neighbour", cap(env.Req.Data[0]))
	}
}

// BenchmarkClientCodec: encode and decode one append request (one 256-byte
// entry) and its response, as both ends of a Client.Append do.
func BenchmarkClientCodec(b *testing.B) {
	req := &reqEnvelope{ID: 12345, Req: &Request{Op: OpAppend, ClientID: 1 << 60, Seq: 77, Data: [][]byte{make([]byte, 256)}}}
	resp := &respEnvelope{ID: 12345, Resp: &Response{Indexes: []uint64{1 << 20}}}
	fe := newFrameEncoder(newHandle(DefaultMaxFrame), DefaultMaxFrame)
	dec := codec.NewDecoderBytes(nil, newHandle(DefaultMaxFrame))
	b.ReportAllocs()
	for b.Loop() {
		body, _ := fe.encode(frameRequest, req)
		var r reqEnvelope
		if err := decodeBody(dec, body, &r, DefaultMaxFrame); err != nil {
			b.Fatal(err)
		}
		body, _ = fe.encode(frameResponse, resp)
		var p respEnvelope
		if err := decodeBody(dec, body, &p, DefaultMaxFrame); err != nil {
			b.Fatal(err)
		}
	}
}

func fuzzBallot(r *rand.Rand) paxos.Ballot {
	return paxos.Ballot{Round: fuzzUint(r), Node: paxos.NodeID(fuzzUint(r))}
}

func fuzzMessage(r *rand.Rand) *paxos.Message {
	m := &paxos.Message{Type: paxos.MsgType(r.Intn(256)), From: paxos.NodeID(fuzzUint(r)), To: paxos.NodeID(fuzzUint(r)),
		Ballot: fuzzBallot(r), Slot: fuzzUint(r), Count: fuzzUint(r), Commit: fuzzUint(r),
		CommitBallot: fuzzBallot(r), Hint: fuzzBallot(r)}
	for range []int{0, 1, 15, 16, 300}[r.Intn(5)] {
		e := paxos.Entry{Slot: fuzzUint(r), Ballot: fuzzBallot(r), Noop: r.Intn(4) == 0}
		if d := fuzzBytes(r); len(d) > 0 && len(d) < 1000 {
			e.Data = d
		}
		m.Entries = append(m.Entries, e)
	}
	return m
}

// TestFastMessageMatchesReflection: the same property for paxos.Message,
// the body of every peer frame.
func TestFastMessageMatchesReflection(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 300; i++ {
		m := fuzzMessage(r)
		want := reflectEncode(t, m)
		if got := encodeMsgFast(nil, m); !bytes.Equal(got, want) {
			t.Fatalf("message %d: fast encoding differs\nfast %x\nrefl %x", i, head(got), head(want))
		}
		var ref, fast paxos.Message
		reflectDecode(t, want, &ref)
		if !decodeMsgFast(want, &fast) {
			t.Fatalf("message %d: fast decoder refused its own encoding", i)
		}
		if !reflect.DeepEqual(ref, fast) {
			t.Fatalf("message %d: decoded %v, reflection %v", i, fast, ref)
		}
	}
	// Cut bodies are refused by the fast decoder and rejected by decodeBody.
	good := encodeMsgFast(nil, fuzzMessage(rand.New(rand.NewSource(3))))
	dec := codec.NewDecoderBytes(nil, newHandle(DefaultMaxFrame))
	for cut := 0; cut < len(good); cut += 1 + cut/8 {
		var m paxos.Message
		if decodeMsgFast(good[:cut], &m) {
			t.Fatalf("fast decoder took a body cut at %d of %d", cut, len(good))
		}
		if err := decodeBody(dec, good[:cut], &m, DefaultMaxFrame); err == nil {
			t.Fatalf("a body cut at %d of %d decoded", cut, len(good))
		}
	}
}
