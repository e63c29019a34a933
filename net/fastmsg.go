package net

import "github.com/paxlog/paxlog/paxos"

// The msgpack fast path (see fastcodec.go) for paxos.Message, the body of
// every peer frame: Accepts carry the entries of a whole batch, so the
// reflection decoder's per-field work and per-entry allocation show up in
// the followers' CPU profile. Same rule: exactly the reflection codec's
// bytes (fields sorted by name), and anything unexpected is decoded by the
// reflection codec instead.

func appendBallot(b []byte, bal paxos.Ballot) []byte {
	b = appendMapHdr(b, 2)
	b = appendUint(appendStr(b, "n"), uint64(bal.Node))
	return appendUint(appendStr(b, "r"), bal.Round)
}

// encodeMsgFast appends the body of m.
func encodeMsgFast(b []byte, m *paxos.Message) []byte {
	n := 6 // b, cb, f, h, o, t are always written
	for _, set := range [...]bool{m.Count != 0, len(m.Entries) != 0, m.Commit != 0, m.Slot != 0} {
		if set {
			n++
		}
	}
	b = appendMapHdr(b, n)
	b = appendBallot(appendStr(b, "b"), m.Ballot)
	if m.Count != 0 {
		b = appendUint(appendStr(b, "c"), m.Count)
	}
	b = appendBallot(appendStr(b, "cb"), m.CommitBallot)
	if len(m.Entries) != 0 {
		b = appendArrayHdr(appendStr(b, "e"), len(m.Entries))
		for i := range m.Entries {
			b = appendEntry(b, &m.Entries[i])
		}
	}
	b = appendUint(appendStr(b, "f"), uint64(m.From))
	b = appendBallot(appendStr(b, "h"), m.Hint)
	if m.Commit != 0 {
		b = appendUint(appendStr(b, "m"), m.Commit)
	}
	b = appendUint(appendStr(b, "o"), uint64(m.To))
	if m.Slot != 0 {
		b = appendUint(appendStr(b, "s"), m.Slot)
	}
	return appendUint(appendStr(b, "t"), uint64(m.Type))
}

func appendEntry(b []byte, e *paxos.Entry) []byte {
	n := 2 // b, s
	if len(e.Data) != 0 {
		n++
	}
	if e.Noop {
		n++
	}
	b = appendMapHdr(b, n)
	b = appendBallot(appendStr(b, "b"), e.Ballot)
	if len(e.Data) != 0 {
		b = appendBin(appendStr(b, "d"), e.Data)
	}
	if e.Noop {
		b = appendBool(appendStr(b, "o"), true)
	}
	return appendUint(appendStr(b, "s"), e.Slot)
}

// decodeMsgFast decodes body into m; false means "use the reflection
// codec" (m is then reset).
func decodeMsgFast(body []byte, m *paxos.Message) bool {
	d := fastDec{b: body}
	*m = paxos.Message{}
	n := d.mapLen()
	for i := 0; i < n && !d.bad; i++ {
		switch string(d.key()) {
		case "b":
			m.Ballot = d.ballot()
		case "c":
			m.Count = d.uint()
		case "cb":
			m.CommitBallot = d.ballot()
		case "e":
			m.Entries = d.entries()
		case "f":
			m.From = paxos.NodeID(d.uint())
		case "h":
			m.Hint = d.ballot()
		case "m":
			m.Commit = d.uint()
		case "o":
			m.To = paxos.NodeID(d.uint())
		case "s":
			m.Slot = d.uint()
		case "t":
			m.Type = paxos.MsgType(d.uint8())
		default:
			d.bad = true
		}
	}
	if d.bad || len(d.b) != 0 {
		*m = paxos.Message{}
		return false
	}
	return true
}

func (d *fastDec) ballot() (bal paxos.Ballot) {
	n := d.mapLen()
	for i := 0; i < n && !d.bad; i++ {
		switch string(d.key()) {
		case "n":
			bal.Node = paxos.NodeID(d.uint())
		case "r":
			bal.Round = d.uint()
		default:
			d.bad = true
		}
	}
	return bal
}

// entries reads an array of entries; their data are copies sharing one
// allocation (each capped to its length).
func (d *fastDec) entries() []paxos.Entry {
	n := d.arrayLen()
	if d.bad || n > len(d.b) { // every entry takes at least one byte
		d.bad = true
		return nil
	}
	out := make([]paxos.Entry, n)
	total := 0
	for i := range out {
		d.entry(&out[i])
		total += len(out[i].Data)
	}
	if d.bad {
		return nil
	}
	buf := make([]byte, total)
	for i := range out {
		if out[i].Data == nil {
			continue
		}
		k := copy(buf, out[i].Data)
		out[i].Data = buf[:k:k]
		buf = buf[k:]
	}
	return out
}

// entry reads one entry; Data aliases the body until entries copies it.
func (d *fastDec) entry(e *paxos.Entry) {
	n := d.mapLen()
	for i := 0; i < n && !d.bad; i++ {
		switch string(d.key()) {
		case "b":
			e.Ballot = d.ballot()
		case "d":
			e.Data = d.bin()
		case "o":
			switch d.byte1() {
			case 0xc3:
				e.Noop = true
			case 0xc2:
			default:
				d.bad = true
			}
		case "s":
			e.Slot = d.uint()
		default:
			d.bad = true
		}
	}
}
