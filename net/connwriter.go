package net

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// connWriter serializes frame writes on a client-protocol connection from
// many goroutines. Writers that arrive while another holds the lock leave
// the flush to the last one, so concurrent responses share a syscall. A
// failed write is sticky and closes the connection.
type connWriter struct {
	conn    net.Conn
	timeout time.Duration
	waiting atomic.Int32
	mu      sync.Mutex
	bw      *bufio.Writer
	enc     *frameEncoder
	err     error
}

func newConnWriter(conn net.Conn, h *codec.MsgpackHandle, maxFrame int, timeout time.Duration) *connWriter {
	return &connWriter{conn: conn, timeout: timeout, bw: bufio.NewWriterSize(conn, writeBufSize),
		enc: newFrameEncoder(h, maxFrame)}
}

// write encodes v as a frame of type typ and writes it. An encoding error
// (too large) is returned without harming the connection.
func (w *connWriter) write(typ frameType, v any) error {
	w.waiting.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	last := w.waiting.Add(-1) == 0
	if w.err != nil {
		return w.err
	}
	_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	body, encErr := w.enc.encode(typ, v)
	var err error
	if encErr == nil {
		err = writeHdrBody(w.bw, w.enc.hdr[:], body)
	}
	if err == nil && last {
		err = w.bw.Flush()
	}
	if err != nil {
		w.err = err
		_ = w.conn.Close()
		return err
	}
	return encErr
}
