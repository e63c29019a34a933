package net

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/paxlog/paxlog/paxos"
)

// Frame layout (see doc.go):
//
//	+----------------+---------+------------------------+
//	| length uint32  | ver|typ | msgpack body (length)  |
//	| big endian     | 1 byte  |                        |
//	+----------------+---------+------------------------+
//
// length counts the body only. The version is the high nibble of the fifth
// byte, the frame type the low nibble.
const (
	frameHeaderLen = 5
	protoVersion   = 1
	// maxFrameLimit is the largest MaxFrame a config may set (1 GiB).
	maxFrameLimit = 1 << 30
	// maxDepth bounds msgpack nesting (our bodies need 4 levels).
	maxDepth = 16
	// elemCost is the memory a decoded array element may cost, used to
	// bound a body's expansion (see scanBody).
	elemCost = 64
)

// frameType is the low nibble of a frame's fifth byte.
type frameType uint8

const (
	frameInvalid    frameType = iota
	frameHello                // dialer -> listener: hello
	frameWelcome              // listener -> dialer: welcome (or refusal)
	framePeer                 // peer -> peer: paxos.Message
	frameRequest              // client -> server: reqEnvelope
	frameResponse             // server -> client: respEnvelope
	frameCancel               // client -> server: cancelEnvelope (abandon a request)
	frameTailOpen             // client -> server: tailOpenEnvelope
	frameTailData             // server -> client: tailDataEnvelope
	frameTailCredit           // client -> server: tailCreditEnvelope
	frameTailEnd              // either way: tailEndEnvelope (server: stream over; client: cancel)
	frameTypeCount
)

// newHandle returns the msgpack handle of one endpoint. Limits: MaxInitLen
// is the frame limit, which is safe because scanBody has already checked
// that every claimed length fits in the body and that the whole body cannot
// expand beyond 2*maxFrame (so a claimed 4 GiB bin is never allocated and a
// genuine large bin is allocated once, not grown in 256 KiB steps, which
// costs O(n^2) bytes: 8 GiB for a 64 MiB value).
func newHandle(maxFrame int) *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.WriteExt = true // str8 and bin types
	h.MaxInitLen = maxFrame
	h.MaxDepth = maxDepth
	h.ErrorIfNoField = false
	return h
}

// frameReader reads frames from one connection with a reused buffer and a
// reused decoder. It is owned by the connection's reader goroutine.
type frameReader struct {
	r        *bufio.Reader
	maxFrame int
	hdr      [frameHeaderLen]byte
	buf      []byte
	dec      *codec.Decoder
}

func newFrameReader(r io.Reader, h *codec.MsgpackHandle, maxFrame int) *frameReader {
	return &frameReader{
		r:        bufio.NewReaderSize(r, 64<<10),
		maxFrame: maxFrame,
		dec:      codec.NewDecoderBytes(nil, h),
	}
}

// reuseLimit: bodies larger than this are read into a buffer that is
// released afterwards, so an idle connection does not pin a huge buffer.
const reuseLimit = 1 << 20

// next reads one frame header and body. The body is valid until the next
// call. The length is checked against maxFrame before any allocation.
func (fr *frameReader) next() (frameType, []byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return 0, nil, err
	}
	return fr.body()
}

func (fr *frameReader) body() (frameType, []byte, error) {
	n := binary.BigEndian.Uint32(fr.hdr[:4])
	vt := fr.hdr[4]
	if uint64(n) > uint64(fr.maxFrame) {
		return 0, nil, fmt.Errorf("%w: length %d > limit %d", ErrFrameTooLarge, n, fr.maxFrame)
	}
	if vt>>4 != protoVersion {
		return 0, nil, fmt.Errorf("%w: protocol version %d, want %d", ErrMalformed, vt>>4, protoVersion)
	}
	typ := frameType(vt & 0x0f)
	if typ == frameInvalid || typ >= frameTypeCount {
		return 0, nil, fmt.Errorf("%w: frame type %d", ErrMalformed, typ)
	}
	if int(n) > cap(fr.buf) {
		fr.buf = make([]byte, max(int(n), 2*cap(fr.buf), 4096))
	}
	body := fr.buf[:n]
	if _, err := io.ReadFull(fr.r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, fmt.Errorf("%w: truncated body: %w", ErrMalformed, err)
	}
	if cap(fr.buf) > reuseLimit {
		fr.buf = nil
	}
	return typ, body, nil
}

// decode validates body and decodes it into v with the reused decoder.
func (fr *frameReader) decode(body []byte, v any) error {
	return decodeBody(fr.dec, body, v, fr.maxFrame)
}

// decodeBody scans body (see scanBody; the array budget is 2*maxFrame)
// and decodes it into v.
func decodeBody(dec *codec.Decoder, body []byte, v any, maxFrame int) error {
	if err := scanBody(body, 2*uint64(maxFrame)); err != nil {
		return err
	}
	switch v := v.(type) { // fast paths (fastcodec.go); they fall back here
	case *reqEnvelope:
		if decodeReqFast(body, v) {
			return nil
		}
	case *respEnvelope:
		if decodeRespFast(body, v) {
			return nil
		}
	case *paxos.Message:
		if decodeMsgFast(body, v) {
			return nil
		}
	}
	return decodeReflect(dec, body, v)
}

// decodeReflect decodes a scanned body into v with the reflection codec.
func decodeReflect(dec *codec.Decoder, body []byte, v any) error {
	dec.ResetBytes(body)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// frameEncoder encodes frames into a reused buffer with a reused encoder.
// It is owned by one writer goroutine (or used under its owner's lock).
type frameEncoder struct {
	enc      *codec.Encoder
	hdr      [frameHeaderLen]byte
	buf      []byte
	maxFrame int
}

func newFrameEncoder(h *codec.MsgpackHandle, maxFrame int) *frameEncoder {
	fe := &frameEncoder{buf: make([]byte, 0, 4096), maxFrame: maxFrame}
	fe.enc = codec.NewEncoderBytes(&fe.buf, h)
	return fe
}

// encode encodes v and fills fe.hdr; it returns the body, valid until the
// next call. The frame is fe.hdr followed by the body.
func (fe *frameEncoder) encode(typ frameType, v any) ([]byte, error) {
	if cap(fe.buf) > 4*reuseLimit {
		fe.buf = make([]byte, 0, 4096)
	}
	fe.buf = fe.buf[:0]
	if !fe.encodeFast(v) {
		fe.enc.ResetBytes(&fe.buf)
		if err := fe.enc.Encode(v); err != nil {
			return nil, fmt.Errorf("paxnet: encode %T: %w", v, err)
		}
	}
	n := len(fe.buf)
	if n > fe.maxFrame {
		return nil, fmt.Errorf("%w: encoded %T is %d bytes > limit %d", ErrFrameTooLarge, v, n, fe.maxFrame)
	}
	binary.BigEndian.PutUint32(fe.hdr[:4], uint32(n))
	fe.hdr[4] = protoVersion<<4 | byte(typ)
	return fe.buf, nil
}

// encodeFast writes the hottest bodies without reflection (fastcodec.go);
// false leaves fe.buf empty for the reflection codec.
func (fe *frameEncoder) encodeFast(v any) bool {
	switch v := v.(type) {
	case *reqEnvelope:
		fe.buf = encodeReqFast(fe.buf, v)
		return true
	case *respEnvelope:
		var ok bool
		fe.buf, ok = encodeRespFast(fe.buf, v)
		return ok
	case *paxos.Message:
		fe.buf = encodeMsgFast(fe.buf, v)
		return true
	}
	return false
}

// writeFrame encodes v and writes the frame to w (not flushed). It returns
// the frame's size in bytes.
func (fe *frameEncoder) writeFrame(w *bufio.Writer, typ frameType, v any) (int, error) {
	body, err := fe.encode(typ, v)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(fe.hdr[:]); err != nil {
		return 0, err
	}
	if _, err := w.Write(body); err != nil {
		return 0, err
	}
	return frameHeaderLen + len(body), nil
}
