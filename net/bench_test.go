package net

import (
	"bytes"
	"sync/atomic"
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
