package net

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/paxlog/paxlog/paxos"
)

// BenchmarkFrameEncode encodes a 64-entry Accept (256-byte entries) into
// a reused buffer.
func BenchmarkFrameEncode(b *testing.B) {
	b.Run("entries=64/size=256", benchFrameEncode)
}

func benchFrameEncode(b *testing.B) {
	m := accept64()
	fe := newFrameEncoder(newHandle(DefaultMaxFrame), DefaultMaxFrame)
	body, _ := fe.encode(framePeer, &m)
	b.SetBytes(int64(frameHeaderLen + len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fe.encode(framePeer, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFrameDecode scans and decodes the same frame with a reused
// decoder into a fresh Message (as a connection reader does).
func BenchmarkFrameDecode(b *testing.B) {
	b.Run("entries=64/size=256", benchFrameDecode)
}

func benchFrameDecode(b *testing.B) {
	m := accept64()
	f := encodeFrame(b, framePeer, &m)
	body := f[frameHeaderLen:]
	dec := codec.NewDecoderBytes(nil, newHandle(DefaultMaxFrame))
	b.SetBytes(int64(len(f)))
	b.ReportAllocs()
	for b.Loop() {
		var got paxos.Message
		if err := decodeBody(dec, body, &got, DefaultMaxFrame); err != nil || len(got.Entries) != 64 {
			b.Fatal(err)
		}
	}
}

// BenchmarkFrameRead reads whole frames (header, body, decode) from a
// stream through a frameReader.
func BenchmarkFrameRead(b *testing.B) {
	b.Run("entries=64/size=256", benchFrameRead)
}

func benchFrameRead(b *testing.B) {
	m := accept64()
	f := encodeFrame(b, framePeer, &m)
	stream := bytes.Repeat(f, 64)
	r := bytes.NewReader(stream)
	fr := newFrameReader(r, newHandle(DefaultMaxFrame), DefaultMaxFrame)
	b.SetBytes(int64(len(f)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%64 == 0 {
			r.Reset(stream)
		}
		_, body, err := fr.next()
		var got paxos.Message
		if err == nil {
			err = fr.decode(body, &got)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoopback sends small messages (heartbeats) from one TCP
// transport to another over loopback, with a window so that queues never
// overflow, and reports delivered messages per second.
func BenchmarkLoopback(b *testing.B) {
	b.Run("msg=heartbeat/window=16384", benchLoopback)
}

func benchLoopback(b *testing.B) {
	const window = 16384
	addr1, addr2 := freeAddr(b), freeAddr(b)
	peers := map[paxos.NodeID]string{1: addr1, 2: addr2}
	s1, err := Listen(Config{ClusterID: testCluster, NodeID: 1, Listen: addr1, Peers: peers, QueueLen: 2 * window}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s1.Close()
	s2, err := Listen(Config{ClusterID: testCluster, NodeID: 2, Listen: addr2, Peers: peers, QueueLen: 2 * window}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s2.Close()
	tokens := make(chan struct{}, window/1024)
	for range cap(tokens) {
		tokens <- struct{}{}
	}
	n := b.N
	var received atomic.Int64
	reached := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range s2.Messages() {
			c := received.Add(1)
			if c%1024 == 0 {
				select {
				case tokens <- struct{}{}:
				default:
				}
			}
			if c == int64(n) {
				close(reached)
			}
		}
	}()
	m := msg(1, 2, 1)
	b.ResetTimer()
	for i := 0; i < n; i++ {
		if i%1024 == 0 {
			<-tokens
		}
		m.Slot = uint64(i)
		s1.Send(m)
	}
	select {
	case <-reached:
	case <-time.After(time.Minute):
		b.Fatalf("received %d of %d; stats %+v %+v", received.Load(), n, s1.Stats().Peers[2], s2.Stats())
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	s2.Close()
	<-done
}

// BenchmarkCall is the client protocol alone: clients ClientConns to one
// Server over loopback TCP, each with one 256-byte OpAppend Call in
// flight, answered at once by a handler that does nothing. One op is one
// Call. Set beside bench's BenchmarkLoopbackFloor (the same round trip
// with bare length-prefixed frames), it is what paxnet's codec, goroutines
// and channels add to the kernel's cost; cpu-us/call is the CPU of the
// whole process, client and server side.
func BenchmarkCall(b *testing.B) {
	for _, clients := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("clients=%d/size=256", clients), func(b *testing.B) { benchCall(b, clients, clients) })
	}
	// etcd's benchmark shape at 256 clients: 256 goroutines share 64
	// connections, so concurrent calls of one connection can share writes.
	b.Run("clients=256/conns=64/size=256", func(b *testing.B) { benchCall(b, 256, 64) })
}

func benchCall(b *testing.B, clients, nconns int) {
	s, err := Listen(Config{ClusterID: testCluster, NodeID: 1, Listen: "127.0.0.1:0"}, &testHandler{node: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	conns := make([]*ClientConn, nconns)
	for i := range conns {
		c, err := Dial(context.Background(), s.Addr(), ClientConfig{ClusterID: testCluster})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	data := [][]byte{bytes.Repeat([]byte{7}, 256)}
	var next atomic.Int64
	errs := make(chan error, clients)
	cpu0 := processCPU()
	b.SetBytes(256)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				req := &Request{Op: OpAppend, ClientID: uint64(w + 1), Seq: 1, Data: data}
				if _, err := conns[w%nconns].Call(context.Background(), req); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/call")
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
