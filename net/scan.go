package net

import (
	"encoding/binary"
	"fmt"
)

// scanBody checks a msgpack body before the codec sees it, without
// allocating: it must hold exactly one well-formed value (no trailing
// bytes), nested at most maxDepth deep, every bin/str/ext length must fit in
// the bytes that remain, every array or map count must be coverable by the
// remaining bytes (one byte per element at least), and the memory the
// decoded arrays may take (elemCost bytes per element) must stay within
// budget (2*MaxFrame); bin/str payloads are bounded by len(body) itself,
// which is at most MaxFrame. This is what lets the decoder run with
// MaxInitLen set to the frame limit.
func scanBody(b []byte, budget uint64) error {
	var stack [maxDepth + 1]uint64 // items still expected at each level
	depth := 0
	stack[0] = 1
	var expand uint64
	i := 0
	for {
		for depth >= 0 && stack[depth] == 0 {
			depth--
		}
		if depth < 0 {
			break
		}
		stack[depth]--
		if i >= len(b) {
			return fmt.Errorf("%w: body truncated at byte %d", ErrMalformed, i)
		}
		n, items, err := scanItem(b[i:])
		if err != nil {
			return fmt.Errorf("%w at byte %d", err, i)
		}
		i += n
		if items > 0 {
			if items > uint64(len(b)-i) {
				return fmt.Errorf("%w: container of %d items at byte %d exceeds the %d bytes left", ErrMalformed, items, i, len(b)-i)
			}
			if isArray(b[i-n]) {
				expand += items * elemCost
			}
			if expand > budget {
				return fmt.Errorf("%w: arrays would take %d bytes decoded, over the budget of %d", ErrMalformed, expand, budget)
			}
			if depth+1 > maxDepth {
				return fmt.Errorf("%w: nesting deeper than %d at byte %d", ErrMalformed, maxDepth, i)
			}
			depth++
			stack[depth] = items
		}
	}
	if i != len(b) {
		return fmt.Errorf("%w: %d trailing bytes after the value", ErrMalformed, len(b)-i)
	}
	return nil
}

// isArray reports whether c is an array head. Only arrays count towards
// expansion: map pairs decode into struct fields (no Go maps appear in
// this package's wire types).
func isArray(c byte) bool { return (c >= 0x90 && c <= 0x9f) || c == 0xdc || c == 0xdd }

// scanItem parses the head of one msgpack value at b[0]. It returns the
// bytes the head and any inline payload take, and for arrays and maps the
// number of nested items that follow.
func scanItem(b []byte) (n int, items uint64, err error) {
	c := b[0]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return 1, 0, nil
	case c >= 0x80 && c <= 0x8f: // fixmap
		return 1, 2 * uint64(c&0x0f), nil
	case c >= 0x90 && c <= 0x9f: // fixarray
		return 1, uint64(c & 0x0f), nil
	case c >= 0xa0 && c <= 0xbf: // fixstr
		return payload(b, 1, uint64(c&0x1f))
	}
	switch c {
	case 0xc4, 0xd9: // bin8, str8
		return sized(b, 1, 0)
	case 0xc5, 0xda: // bin16, str16
		return sized(b, 2, 0)
	case 0xc6, 0xdb: // bin32, str32
		return sized(b, 4, 0)
	case 0xc7: // ext8
		return sized(b, 1, 1)
	case 0xc8: // ext16
		return sized(b, 2, 1)
	case 0xc9: // ext32
		return sized(b, 4, 1)
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return payload(b, 1, 4)
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return payload(b, 1, 8)
	case 0xcc, 0xd0: // uint8, int8
		return payload(b, 1, 1)
	case 0xcd, 0xd1: // uint16, int16
		return payload(b, 1, 2)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		return payload(b, 1, 1+(1<<(c-0xd4)))
	case 0xdc: // array16
		k, err := count(b, 2)
		return 3, k, err
	case 0xdd: // array32
		k, err := count(b, 4)
		return 5, k, err
	case 0xde: // map16
		k, err := count(b, 2)
		return 3, 2 * k, err
	case 0xdf: // map32
		k, err := count(b, 4)
		return 5, 2 * k, err
	}
	return 0, 0, fmt.Errorf("%w: invalid msgpack byte 0x%02x", ErrMalformed, c)
}

// count reads a big-endian count of w bytes after the type byte.
func count(b []byte, w int) (uint64, error) {
	if len(b) < 1+w {
		return 0, fmt.Errorf("%w: truncated length", ErrMalformed)
	}
	if w == 2 {
		return uint64(binary.BigEndian.Uint16(b[1:])), nil
	}
	return uint64(binary.BigEndian.Uint32(b[1:])), nil
}

// sized handles bin/str/ext: a w-byte length, extra bytes (the ext type),
// then that many payload bytes.
func sized(b []byte, w int, extra uint64) (int, uint64, error) {
	var l uint64
	if w == 1 {
		if len(b) < 2 {
			return 0, 0, fmt.Errorf("%w: truncated length", ErrMalformed)
		}
		l = uint64(b[1])
	} else {
		var err error
		if l, err = count(b, w); err != nil {
			return 0, 0, err
		}
	}
	return payload(b, 1+w, l+extra)
}

// payload checks that head+l bytes are present.
func payload(b []byte, head int, l uint64) (int, uint64, error) {
	if l > uint64(len(b)-head) {
		return 0, 0, fmt.Errorf("%w: claimed length %d exceeds the %d bytes left", ErrMalformed, l, len(b)-head)
	}
	return head + int(l), 0, nil
}
