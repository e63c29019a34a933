package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/paxlog/paxlog/net/nettest"
)

// BenchmarkLoopbackFloor is the client hop with nothing behind it: each
// client goroutine writes a 4-byte length and a 256-byte body on its own
// loopback TCP connection and reads the same bytes back from an echo
// server in this process (a reader goroutine per connection that writes
// each frame back, the shape of paxlog's client server). No codec, no
// consensus, no disk. One op is one round trip.
//
// It bounds BenchmarkAppend from above on the same machine: an append
// through replog.Client makes this round trip plus the replication and
// the fsyncs, so appends/s through the Client cannot exceed round-trips/s
// here, and cpu-us/append cannot go below cpu-us/rt (both are CPU of the
// whole process, client and server side).
func BenchmarkLoopbackFloor(b *testing.B) {
	for _, clients := range []int{1, 16, 256} {
		s := appendShape{clients: clients, batch: 1, size: 256}
		b.Run(name("clients", clients, "size", s.size), func(b *testing.B) { benchFloor(b, s) })
	}
}

func benchFloor(b *testing.B, s appendShape) {
	addr := nettest.Serve(b, echo)
	conns := make([]net.Conn, s.clients)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	cpu0 := processCPU()
	b.SetBytes(int64(s.size))
	b.ResetTimer()
	r := runLoadWith(b, s, int64(b.N), func(_ context.Context, w int, data [][]byte) error {
		return roundTrip(conns[w], data[0])
	})
	b.StopTimer()
	secs := r.elapsed.Seconds()
	b.ReportMetric(float64(r.entries)/secs, "round-trips/s")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(r.entries), "cpu-us/rt")
	b.ReportMetric(quantileMs(r.lat, 0.50), "p50-ms")
	b.ReportMetric(quantileMs(r.lat, 0.99), "p99-ms")
}

// roundTrip writes one length-prefixed frame on c and reads its echo.
func roundTrip(c net.Conn, body []byte) error {
	frame := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(frame, uint32(len(body)))
	copy(frame[4:], body)
	if _, err := c.Write(frame); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, frame); err != nil {
		return err
	}
	if int(binary.BigEndian.Uint32(frame)) != len(body) {
		return errors.New("echo: wrong length")
	}
	return nil
}

// echo writes every length-prefixed frame read from c back to it until c
// fails or closes.
func echo(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	var hdr [4]byte
	var body []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if cap(body) < 4+n {
			body = make([]byte, 4+n)
		}
		body = body[:4+n]
		copy(body, hdr[:])
		if _, err := io.ReadFull(r, body[4:]); err != nil {
			return
		}
		if _, err := c.Write(body); err != nil {
			return
		}
	}
}
