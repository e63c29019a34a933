package net

import (
	"context"
	"fmt"

	"github.com/paxlog/paxlog/paxos"
)

// Op is a client request's operation.
type Op uint8

// Client operations.
const (
	OpInvalid   Op = iota
	OpAppend       // append Data (one entry per element) with (ClientID, Seq); Response.Indexes
	OpRead         // read the entry at Index; Response.Data and Response.Index
	OpCheckTail    // linearizable tail index; Response.Index
	OpTrim         // drop every entry below Index; Response.Index is the new first index
	OpStatus       // Response.Status
	opCount
)

var opNames = [...]string{"Invalid", "Append", "Read", "CheckTail", "Trim", "Status"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Valid reports whether o is a known operation.
func (o Op) Valid() bool { return o > OpInvalid && o < opCount }

// ErrCode is a Response's error class. The Msg field carries the details.
type ErrCode uint8

// Response error codes.
const (
	ErrNone            ErrCode = iota // success
	ErrNotLeader                      // this replica is not the leader: retry at Leader/LeaderID (empty/0 when unknown)
	ErrBackpressure                   // the leader's in-flight window is full: retry later with the same (ClientID, Seq)
	ErrTrimmed                        // Index is below the trim point; First is the first index held
	ErrConditionFailed                // a Conditional append found the last index != ExpectLast; Index is the actual last
	ErrNotFound                       // Read: no entry at Index (a no-op or filtered duplicate slot, or beyond the tail)
	ErrShutdown                       // the replica is shutting down; retry elsewhere
	ErrInternal                       // the replica failed (storage error, bug); Msg says what
	ErrInvalid                        // the request is malformed (bad Op, empty append, bad index)
	ErrTimeout                        // the replica gave up waiting (its own deadline); the outcome of an append is unknown, retry with the same (ClientID, Seq)
	ErrNotApplied                     // Read: Index is above what this replica has applied (it is behind, or the index is not chosen yet); retry
	errCodeCount
)

var errCodeNames = [...]string{"None", "NotLeader", "Backpressure", "Trimmed", "ConditionFailed",
	"NotFound", "Shutdown", "Internal", "Invalid", "Timeout", "NotApplied"}

func (c ErrCode) String() string {
	if int(c) < len(errCodeNames) {
		return errCodeNames[c]
	}
	return fmt.Sprintf("ErrCode(%d)", uint8(c))
}

// Request is one client call. Which fields matter depends on Op.
type Request struct {
	Op          Op       `codec:"op"`
	ClientID    uint64   `codec:"c,omitempty"` // exactly-once identity of the client (OpAppend)
	Seq         uint64   `codec:"q,omitempty"` // sequence number of this append within ClientID
	Data        [][]byte `codec:"d,omitempty"` // OpAppend: one element per entry
	Conditional bool     `codec:"k,omitempty"` // OpAppend: append only if the last index is ExpectLast
	ExpectLast  uint64   `codec:"x,omitempty"`
	Index       uint64   `codec:"i,omitempty"` // OpRead: the index; OpTrim: trim every entry before it
}

// Response answers a Request. Err is ErrNone on success.
type Response struct {
	Err      ErrCode      `codec:"e,omitempty"`
	Msg      string       `codec:"m,omitempty"`
	Leader   string       `codec:"l,omitempty"`  // redirect hint: the leader's client address
	LeaderID paxos.NodeID `codec:"li,omitempty"` // the leader's id, 0 when unknown
	Indexes  []uint64     `codec:"is,omitempty"` // OpAppend: the index of each appended entry
	Index    uint64       `codec:"i,omitempty"`
	Data     []byte       `codec:"d,omitempty"`
	First    uint64       `codec:"f,omitempty"` // ErrTrimmed: the first index held
	Status   *StatusInfo  `codec:"s,omitempty"`
}

// StatusInfo describes a replica for operators (OpStatus). The replicated
// log fills it; it is a plain struct so it encodes as msgpack.
type StatusInfo struct {
	NodeID     paxos.NodeID   `codec:"id"`
	ClusterID  string         `codec:"cl"`
	Role       string         `codec:"ro"`
	LeaderID   paxos.NodeID   `codec:"li"`
	LeaderAddr string         `codec:"la"`
	Ballot     paxos.Ballot   `codec:"b"`
	First      uint64         `codec:"f"` // first index held (trim point)
	Last       uint64         `codec:"l"` // last chosen index
	Commit     uint64         `codec:"c"` // last index of the contiguous chosen prefix
	Applied    uint64         `codec:"a"` // last index delivered to tailers/state machine
	Peers      []PeerProgress `codec:"p"`
	// Rebuilding: the replica started on an empty data directory and does
	// not vote until it has re-learned the chosen log. Restoring: it waits
	// for a peer's checkpoint. Older replicas never set them.
	Rebuilding bool `codec:"rb,omitempty"`
	Restoring  bool `codec:"rs,omitempty"`
}

// PeerProgress is what a replica knows of one peer.
type PeerProgress struct {
	NodeID    paxos.NodeID `codec:"id"`
	Addr      string       `codec:"a"`
	Match     uint64       `codec:"m"` // highest index known accepted or chosen there
	LastHeard int          `codec:"h"` // ticks since last heard
	Connected bool         `codec:"c"`
}

// TailRequest starts a tail stream at index From. Credit is the number of
// entries the client is ready to buffer (default 1024 when zero); the server
// never has more than the granted credit in flight.
type TailRequest struct {
	From   uint64 `codec:"f"`
	Credit int    `codec:"c"`
}

// TailEntry is one entry of a tail stream.
type TailEntry struct {
	Index uint64 `codec:"i"`
	Data  []byte `codec:"d"`
}

// ClientHandler serves client connections on a Server. Both methods are
// called concurrently from connection goroutines (one goroutine per
// in-flight request and per tail stream).
type ClientHandler interface {
	// HandleRequest answers one request. ctx ends when the client cancels,
	// the connection drops or the server closes. It must not return nil.
	HandleRequest(ctx context.Context, req *Request) *Response
	// HandleTail streams entries from req.From onward into out until ctx is
	// done or an error occurs. The returned error (nil when ctx ended) is
	// reported to the client as the end of the stream; return
	// *TailError to give it a code (ErrTrimmed with First, for example).
	HandleTail(ctx context.Context, req *TailRequest, out TailSink) error
}

// TailSink is the server side of a tail stream.
type TailSink interface {
	// Send delivers entries in order. It blocks until the client has granted
	// credit for all of them (it sends as many as the credit allows, then
	// waits), or until ctx ends or the stream is closed (then an error).
	// The entries' Data may be retained until Send returns only.
	Send(ctx context.Context, entries []TailEntry) error
}

// TailError is an error with a code that a ClientHandler's HandleTail may
// return, and that TailStream.Recv returns (wrapping ErrStreamClosed) when
// the server ends the stream.
type TailError struct {
	Code  ErrCode
	Msg   string
	First uint64 // ErrTrimmed: first index held
}

func (e *TailError) Error() string {
	if e.Code == ErrTrimmed {
		return fmt.Sprintf("paxnet: tail %s (first index %d): %s", e.Code, e.First, e.Msg)
	}
	return fmt.Sprintf("paxnet: tail %s: %s", e.Code, e.Msg)
}

// Unwrap makes errors.Is(err, ErrStreamClosed) true.
func (e *TailError) Unwrap() error { return ErrStreamClosed }
