package net

import (
	"encoding/binary"
	"math"

	"github.com/paxlog/paxlog/paxos"
)

// A hand-written msgpack codec for the two hottest client-protocol bodies,
// reqEnvelope and respEnvelope: one of each per append, on both ends. It
// produces exactly the bytes the reflection codec (go-msgpack, the handle
// from newHandle) produces for them (TestFastCodecMatchesReflection), so
// the wire format is unchanged; it only avoids reflection and per-field
// allocations. The decoder accepts only the shapes the encoder writes
// (smallest integer forms; keys in any order); for anything else it
// reports false and the caller decodes with the reflection codec, which
// remains the reference. A Response carrying a StatusInfo always goes
// through the reflection codec.

// appendMapHdr appends a msgpack map header for n entries.
func appendMapHdr(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xde, byte(n>>8), byte(n))
	default:
		return append(b, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func appendArrayHdr(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xdc, byte(n>>8), byte(n))
	default:
		return append(b, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// appendStr appends a string the way the handle does (WriteExt: str8).
func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, s...)
}

func appendBin(b []byte, p []byte) []byte {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xc5, byte(n>>8), byte(n))
	default:
		b = append(b, 0xc6, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, p...)
}

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return append(b, 0xcd, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append(b, 0xce, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
	}
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// encodeReqFast appends the body of env.
func encodeReqFast(b []byte, env *reqEnvelope) []byte {
	b = appendMapHdr(b, 2)
	b = appendUint(appendStr(b, "id"), env.ID)
	b = appendStr(b, "r")
	r := env.Req
	if r == nil {
		return append(b, 0xc0)
	}
	n := 1 // op is always written
	for _, set := range [...]bool{r.ClientID != 0, r.Seq != 0, len(r.Data) != 0, r.Conditional, r.ExpectLast != 0, r.Index != 0} {
		if set {
			n++
		}
	}
	// The reflection codec writes struct fields sorted by their names.
	b = appendMapHdr(b, n)
	if r.ClientID != 0 {
		b = appendUint(appendStr(b, "c"), r.ClientID)
	}
	if len(r.Data) != 0 {
		b = appendArrayHdr(appendStr(b, "d"), len(r.Data))
		for _, d := range r.Data {
			if d == nil {
				b = append(b, 0xc0)
				continue
			}
			b = appendBin(b, d)
		}
	}
	if r.Index != 0 {
		b = appendUint(appendStr(b, "i"), r.Index)
	}
	if r.Conditional {
		b = appendBool(appendStr(b, "k"), true)
	}
	b = appendUint(appendStr(b, "op"), uint64(r.Op))
	if r.Seq != 0 {
		b = appendUint(appendStr(b, "q"), r.Seq)
	}
	if r.ExpectLast != 0 {
		b = appendUint(appendStr(b, "x"), r.ExpectLast)
	}
	return b
}

// encodeRespFast appends the body of env; false when it must go through
// the reflection codec (a StatusInfo).
func encodeRespFast(b []byte, env *respEnvelope) ([]byte, bool) {
	r := env.Resp
	if r != nil && r.Status != nil {
		return b, false
	}
	b = appendMapHdr(b, 2)
	b = appendUint(appendStr(b, "id"), env.ID)
	b = appendStr(b, "r")
	if r == nil {
		return append(b, 0xc0), true
	}
	n := 0
	for _, set := range [...]bool{r.Err != 0, r.Msg != "", r.Leader != "", r.LeaderID != 0, len(r.Indexes) != 0,
		r.Index != 0, len(r.Data) != 0, r.First != 0} {
		if set {
			n++
		}
	}
	b = appendMapHdr(b, n) // fields sorted by name, as the reflection codec does
	if len(r.Data) != 0 {
		b = appendBin(appendStr(b, "d"), r.Data)
	}
	if r.Err != 0 {
		b = appendUint(appendStr(b, "e"), uint64(r.Err))
	}
	if r.First != 0 {
		b = appendUint(appendStr(b, "f"), r.First)
	}
	if r.Index != 0 {
		b = appendUint(appendStr(b, "i"), r.Index)
	}
	if len(r.Indexes) != 0 {
		b = appendArrayHdr(appendStr(b, "is"), len(r.Indexes))
		for _, x := range r.Indexes {
			b = appendUint(b, x)
		}
	}
	if r.Leader != "" {
		b = appendStr(appendStr(b, "l"), r.Leader)
	}
	if r.LeaderID != 0 {
		b = appendUint(appendStr(b, "li"), uint64(r.LeaderID))
	}
	if r.Msg != "" {
		b = appendStr(appendStr(b, "m"), r.Msg)
	}
	return b, true
}

// fastDec reads msgpack from b; any unexpected byte sets bad, after which
// every read returns zero values.
type fastDec struct {
	b   []byte
	bad bool
}

func (d *fastDec) need(n int) []byte {
	if d.bad || n < 0 || len(d.b) < n {
		d.bad = true
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *fastDec) byte1() byte {
	p := d.need(1)
	if p == nil {
		return 0
	}
	return p[0]
}

// length reads a header of the family with fix range [fixLo, fixLo+fixN)
// and 8/16/32-bit forms at codes c8, c16, c32 (0: form not used).
func (d *fastDec) length(fixLo, fixN, c8, c16, c32 byte) int {
	c := d.byte1()
	switch {
	case d.bad:
		return 0
	case c >= fixLo && int(c) < int(fixLo)+int(fixN):
		return int(c - fixLo)
	case c8 != 0 && c == c8:
		return int(d.byte1())
	case c == c16:
		p := d.need(2)
		if p == nil {
			return 0
		}
		return int(binary.BigEndian.Uint16(p))
	case c == c32:
		p := d.need(4)
		if p == nil {
			return 0
		}
		return int(binary.BigEndian.Uint32(p))
	}
	d.bad = true
	return 0
}

func (d *fastDec) mapLen() int   { return d.length(0x80, 16, 0, 0xde, 0xdf) }
func (d *fastDec) arrayLen() int { return d.length(0x90, 16, 0, 0xdc, 0xdd) }

// key reads a map key (a short string) without allocating.
func (d *fastDec) key() []byte { return d.need(d.length(0xa0, 32, 0xd9, 0xda, 0xdb)) }

func (d *fastDec) str() string { return string(d.need(d.length(0xa0, 32, 0xd9, 0xda, 0xdb))) }

func (d *fastDec) uint() uint64 {
	c := d.byte1()
	switch {
	case d.bad:
		return 0
	case c <= 0x7f:
		return uint64(c)
	case c == 0xcc:
		return uint64(d.byte1())
	case c == 0xcd:
		if p := d.need(2); p != nil {
			return uint64(binary.BigEndian.Uint16(p))
		}
	case c == 0xce:
		if p := d.need(4); p != nil {
			return uint64(binary.BigEndian.Uint32(p))
		}
	case c == 0xcf:
		if p := d.need(8); p != nil {
			return binary.BigEndian.Uint64(p)
		}
	default:
		d.bad = true
	}
	return 0
}

// uint8 reads a uint that must fit a byte (Op, ErrCode).
func (d *fastDec) uint8() uint8 {
	v := d.uint()
	if v > math.MaxUint8 {
		d.bad = true
	}
	return uint8(v)
}

// bin reads a bin header and returns the aliased bytes.
func (d *fastDec) bin() []byte { return d.need(d.length(0xff, 0, 0xc4, 0xc5, 0xc6)) }

func (d *fastDec) isNil() bool {
	if !d.bad && len(d.b) > 0 && d.b[0] == 0xc0 {
		d.b = d.b[1:]
		return true
	}
	return false
}

// envelope reads the common {"id": uint, "r": ...} head; it returns the id
// and whether the body is nil.
func (d *fastDec) envelope() (id uint64, isNil bool) {
	if d.mapLen() != 2 || string(d.key()) != "id" {
		d.bad = true
		return 0, false
	}
	id = d.uint()
	if string(d.key()) != "r" {
		d.bad = true
	}
	return id, d.isNil()
}

// decodeReqFast decodes body into env; false means "use the reflection
// codec" (env is then reset).
func decodeReqFast(body []byte, env *reqEnvelope) bool {
	d := fastDec{b: body}
	id, isNil := d.envelope()
	*env = reqEnvelope{ID: id}
	if !isNil {
		env.Req = &Request{}
		d.request(env.Req)
	}
	if d.bad || len(d.b) != 0 {
		*env = reqEnvelope{}
		return false
	}
	return true
}

func (d *fastDec) request(r *Request) {
	n := d.mapLen()
	for i := 0; i < n && !d.bad; i++ {
		switch string(d.key()) {
		case "op":
			r.Op = Op(d.uint8())
		case "c":
			r.ClientID = d.uint()
		case "q":
			r.Seq = d.uint()
		case "d":
			r.Data = d.binArray()
		case "k":
			switch d.byte1() {
			case 0xc3:
				r.Conditional = true
			case 0xc2:
			default:
				d.bad = true
			}
		case "x":
			r.ExpectLast = d.uint()
		case "i":
			r.Index = d.uint()
		default:
			d.bad = true
		}
	}
}

// binArray reads an array of bins into copies that share one allocation
// (each capped to its length).
func (d *fastDec) binArray() [][]byte {
	n := d.arrayLen()
	if d.bad || n > len(d.b) { // every element takes at least one byte
		d.bad = true
		return nil
	}
	out := make([][]byte, n)
	total := 0
	for i := range out {
		if d.isNil() {
			continue
		}
		p := d.bin()
		total += len(p)
		out[i] = p
	}
	if d.bad {
		return nil
	}
	buf := make([]byte, total)
	for i, p := range out {
		if p == nil {
			continue
		}
		k := copy(buf, p)
		out[i] = buf[:k:k]
		buf = buf[k:]
	}
	return out
}

// decodeRespFast decodes body into env; false means "use the reflection
// codec" (env is then reset).
func decodeRespFast(body []byte, env *respEnvelope) bool {
	d := fastDec{b: body}
	id, isNil := d.envelope()
	*env = respEnvelope{ID: id}
	if !isNil {
		env.Resp = &Response{}
		d.response(env.Resp)
	}
	if d.bad || len(d.b) != 0 {
		*env = respEnvelope{}
		return false
	}
	return true
}

func (d *fastDec) response(r *Response) {
	n := d.mapLen()
	for i := 0; i < n && !d.bad; i++ {
		switch string(d.key()) {
		case "e":
			r.Err = ErrCode(d.uint8())
		case "m":
			r.Msg = d.str()
		case "l":
			r.Leader = d.str()
		case "li":
			r.LeaderID = paxos.NodeID(d.uint())
		case "is":
			k := d.arrayLen()
			if d.bad || k > len(d.b) {
				d.bad = true
				return
			}
			r.Indexes = make([]uint64, k)
			for j := range r.Indexes {
				r.Indexes[j] = d.uint()
			}
		case "i":
			r.Index = d.uint()
		case "d":
			r.Data = append([]byte(nil), d.bin()...)
		case "f":
			r.First = d.uint()
		default: // "s" (StatusInfo) and anything unknown
			d.bad = true
		}
	}
}
