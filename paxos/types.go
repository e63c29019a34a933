package paxos

import (
	"errors"
	"fmt"
)

// NodeID names a replica. Zero is never a valid node id.
type NodeID uint64

// Ballot is a proposal number: (Round, Node), compared lexicographically, so
// two nodes never use the same ballot. The zero Ballot is lower than every
// ballot a node can use.
type Ballot struct {
	Round uint64 `codec:"r"`
	Node  NodeID `codec:"n"`
}

// Less reports whether b orders before o.
func (b Ballot) Less(o Ballot) bool {
	if b.Round != o.Round {
		return b.Round < o.Round
	}
	return b.Node < o.Node
}

// IsZero reports whether b is the zero ballot (no promise, nothing accepted).
func (b Ballot) IsZero() bool { return b == Ballot{} }

func (b Ballot) String() string { return fmt.Sprintf("%d.%d", b.Round, b.Node) }

// Entry is the value of one log slot. One slot holds exactly one entry; a
// no-op entry fills a hole left by a previous leader. Data is opaque to the
// core: the replicated log encodes its own header (client id, sequence,
// conditions) inside it.
//
// Slot and Ballot say where and at which ballot the entry was accepted. In an
// Accept message every entry carries the message's ballot; in a Promise each
// carries the ballot it was accepted at; in the chosen log, Ballot is the
// ballot the entry was accepted at when this replica learned it chosen.
type Entry struct {
	Slot   uint64 `codec:"s"`
	Ballot Ballot `codec:"b"`
	Noop   bool   `codec:"o,omitempty"`
	Data   []byte `codec:"d,omitempty"`
}

// Size is the number of payload bytes the entry costs in windows and limits.
func (e *Entry) Size() int { return len(e.Data) + 32 }

// MsgType is the kind of a protocol message.
type MsgType uint8

// Message types. The paper's names are in the comments.
const (
	MsgInvalid      MsgType = iota
	MsgPrepare              // 1a: leader asks acceptors to promise Ballot for slots >= Slot
	MsgPromise              // 1b: acceptor promises; Entries holds everything it accepted at slots >= Slot above Commit (its durable chosen index), in parts covering [Slot, Slot+Count), Count 0 for the last
	MsgAccept               // 2a: leader asks acceptors to accept Entries (consecutive slots) at Ballot
	MsgAccepted             // 2b: acceptor accepted slots [Slot, Slot+Count) at Ballot
	MsgNack                 // an acceptor refuses Ballot because it promised Hint (a higher ballot) or heard a live leader
	MsgHeartbeat            // leader liveness; carries Commit
	MsgHeartbeatAck         // follower answers a heartbeat (check-quorum for the leader)
	MsgCatchUp              // ask a peer for chosen entries in [Slot, Slot+Count)
	MsgChosen               // chosen entries (answer to CatchUp or Prepare); receivers may mark them chosen directly; Commit: the sender's chosen index
	MsgTrimmed              // answer to CatchUp when the sender's log starts above Slot: restart at Slot
	MsgProbe                // a rebuilding replica asks a peer for its state; Slot: a nonce echoed back
	MsgProbeAck             // answer to Probe: Slot the nonce, Ballot the sender's promised ballot, Commit its chosen index, Count 1 while it is rebuilding itself
	msgTypeCount
)

var msgTypeNames = [...]string{"Invalid", "Prepare", "Promise", "Accept", "Accepted", "Nack",
	"Heartbeat", "HeartbeatAck", "CatchUp", "Chosen", "Trimmed", "Probe", "ProbeAck"}

func (t MsgType) String() string {
	if int(t) < len(msgTypeNames) {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// Valid reports whether t is a known message type.
func (t MsgType) Valid() bool { return t > MsgInvalid && t < msgTypeCount }

// Message is one protocol message. It is a flat struct so that it encodes
// cheaply; which fields matter depends on Type (see the MsgType constants).
//
// Commit and CommitBallot travel on Accept and Heartbeat: every slot up to and
// including Commit is chosen, and the slots this leader chose were chosen at
// CommitBallot. A follower marks slot s chosen only if it accepted s at
// exactly CommitBallot; otherwise it asks for the value with a CatchUp. A
// Heartbeat's Slot is the leader's next unassigned slot: nothing at or above
// it was chosen before the leader's ballot (a rebuilding replica's target).
type Message struct {
	Type         MsgType `codec:"t"`
	From         NodeID  `codec:"f"`
	To           NodeID  `codec:"o"`
	Ballot       Ballot  `codec:"b"`
	Slot         uint64  `codec:"s,omitempty"`
	Count        uint64  `codec:"c,omitempty"`
	Commit       uint64  `codec:"m,omitempty"`
	CommitBallot Ballot  `codec:"cb"`
	Hint         Ballot  `codec:"h"`
	Entries      []Entry `codec:"e,omitempty"`
}

func (m Message) String() string {
	return fmt.Sprintf("%s %d->%d ballot=%s slot=%d count=%d commit=%d entries=%d",
		m.Type, m.From, m.To, m.Ballot, m.Slot, m.Count, m.Commit, len(m.Entries))
}

// RecordKind is the kind of a record that must be made durable.
type RecordKind uint8

const (
	// RecordPromise: the acceptor promised Ballot (and will refuse lower ones).
	RecordPromise RecordKind = iota + 1
	// RecordAccept: the acceptor accepted Entries (each with its slot) at Ballot.
	RecordAccept
)

// Record is acceptor state that must be durable (fsynced) before any message
// in the same Ready leaves the process.
type Record struct {
	Kind    RecordKind
	Ballot  Ballot
	Entries []Entry // RecordAccept only; each entry's Ballot equals Record.Ballot
}

// HardState is what a node restarts from: exactly what was persisted.
//
//   - Promised: the highest ballot ever promised or accepted.
//   - Accepted: every entry accepted at a slot above Chosen, highest ballot
//     per slot, in slot order.
//   - First: the first slot held in the chosen log (1 for a fresh log, or the
//     trim point); Chosen: the last slot of the contiguous chosen log (First-1
//     when it is empty).
type HardState struct {
	Promised Ballot
	Accepted []Entry
	First    uint64
	Chosen   uint64
}

// Ready is what the node needs done, handed out by Node.Ready and returned
// with Node.Advance. For each Ready the driver MUST, in this order:
//
//  1. make every record in Persist durable (fsync); if that fails, stop the
//     node: never retry and never send Messages; Eager may be sent at once,
//     concurrently with the fsync;
//  2. send Messages (only now: a promise or accept must never leave the
//     process before the state it reports is durable);
//  3. append Committed to the chosen log and hand it to consumers;
//  4. call Advance(rd). Advance tells the node that Persist is durable: a
//     leader counts its own accept as a vote only then.
//
// Pipelining. The driver may call Ready again before it has called Advance
// for the previous Ready, and may call Step, Tick and Propose in between
// (for example, hand each Ready to a persister goroutine and keep driving
// the node on its own goroutine, which also calls Advance). The Readys in
// flight are then handled strictly in the order they were taken (FIFO):
//
//   - Ready k+1's Persist becomes durable only after Ready k's (one fsync
//     may cover both);
//   - Ready k+1's Messages leave only after Ready k+1's Persist, hence every
//     earlier Persist, is durable;
//   - Committed is appended in Ready order;
//   - Advance is called once per Ready, in Ready order.
//
// Eager may be sent as soon as its Ready is taken, even while earlier
// Readys are not yet durable: the node puts nothing in Eager that depends
// on a record not yet durable (a candidate leads, and sends Accepts at its
// ballot, only after Advance for the Ready holding its own promise).
// Committed may also be appended as soon as its Ready is taken (its entries
// are chosen: a majority made them durable), still in Ready order, except
// for a Ready with ResetTo or Rebuilt: that one is handled in the order of
// steps 1-4, and no later Ready is taken until it is advanced. A crash
// loses every Ready in flight, that is everything not yet made durable;
// the node restarts from what was. If an fsync fails, no later Ready's
// Messages may leave either: stop the node.
type Ready struct {
	Persist []Record
	// Eager messages report no acceptor state (a leader's Prepare, Accept,
	// Heartbeat; CatchUp; Chosen) and may leave before Persist is durable,
	// so a leader's fsync overlaps its followers'.
	Eager []Message
	// Messages report acceptor state (Promise, Accepted, Nack) and leave
	// only after Persist is durable.
	Messages  []Message
	Committed []Entry // newly chosen, contiguous, in slot order, starting right after the previous Ready's
	// ResetTo, when nonzero, says the chosen log must restart at this slot
	// (everything below it was trimmed on every peer this node could reach);
	// the driver discards its chosen log and starts it at ResetTo before
	// appending Committed.
	ResetTo uint64
	// SoftState is the node's role and leader as of this Ready.
	SoftState SoftState
	// Rebuilt says a node started with Config.Rebuilding has re-learned the
	// chosen log and votes from now on. The driver makes Persist durable as
	// usual (it holds the node's first promise), then clears its durable
	// rebuilding flag (storage: Store.MarkRebuilt), then calls Advance. A
	// crash before the flag is cleared restarts the node rebuilding again,
	// which is safe.
	Rebuilt bool
}

// Empty reports whether rd holds no work.
func (rd *Ready) Empty() bool {
	return len(rd.Persist) == 0 && len(rd.Eager) == 0 && len(rd.Messages) == 0 &&
		len(rd.Committed) == 0 && rd.ResetTo == 0 && !rd.Rebuilt
}

// Role is the node's current role.
type Role uint8

const (
	Follower  Role = iota // accepts what a leader proposes
	Candidate             // running phase 1
	Leader                // phase 1 done; proposes in phase 2
)

func (r Role) String() string {
	switch r {
	case Follower:
		return "follower"
	case Candidate:
		return "candidate"
	case Leader:
		return "leader"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// SoftState is volatile: it is not persisted and may be stale a moment later.
type SoftState struct {
	Role   Role
	Leader NodeID // 0 when unknown
	Ballot Ballot // the ballot this node last promised or leads with
}

// LogReader reads the durable chosen log. The node calls it to answer
// catch-up requests for slots it no longer holds in memory. Implementations
// must be cheap and must not block on writers.
type LogReader interface {
	// Entries returns chosen entries from slot from onward, in slot order, at
	// most maxBytes in total (at least one entry if any exists).
	// ErrCompacted when from is below the first slot held.
	Entries(from uint64, maxBytes int) ([]Entry, error)
	// FirstIndex is the first slot held (the trim point).
	FirstIndex() uint64
}

// Errors returned by the node.
var (
	// ErrNotLeader: Propose on a node that is not the leader. Errors wrap it
	// in *NotLeaderError, which names the known leader.
	ErrNotLeader = errors.New("paxos: not the leader")
	// ErrBackpressure: the in-flight window (slots or bytes) is full; retry
	// after some entries are chosen.
	ErrBackpressure = errors.New("paxos: in-flight window full")
	// ErrCompacted: the requested slot is below the chosen log's first slot.
	ErrCompacted = errors.New("paxos: slot compacted")
	// ErrInvalidConfig: the configuration cannot be used; the error says why.
	ErrInvalidConfig = errors.New("paxos: invalid config")
)

// NotLeaderError carries the leader a proposer should be sent to.
type NotLeaderError struct {
	Leader NodeID // 0 when unknown
}

func (e *NotLeaderError) Error() string {
	if e.Leader == 0 {
		return "paxos: not the leader (leader unknown)"
	}
	return fmt.Sprintf("paxos: not the leader (leader is %d)", e.Leader)
}

func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// Status is a snapshot of a node for operators and tests.
type Status struct {
	ID        NodeID
	SoftState SoftState
	Promised  Ballot // highest ballot promised (durable once the Ready holding it was persisted)
	// Rebuilding: the node lost its durable state and does not vote yet
	// (Config.Rebuilding); it turns false in the Ready that says Rebuilt.
	Rebuilding bool
	First      uint64 // first slot held in the chosen log
	Commit     uint64 // last slot of the contiguous chosen prefix
	Inflight   int    // leader: proposed slots not yet chosen
	InflightB  int    // leader: payload bytes of those slots
	Progress   map[NodeID]Progress
}

// Progress is what a leader knows of a peer.
type Progress struct {
	Match     uint64 // highest slot the peer is known to have accepted or chosen, contiguously
	LastHeard int    // ticks since the leader last heard from the peer
}
