package log

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	paxnet "github.com/paxlog/paxlog/net"
)

// handler serves the client protocol (paxnet.ClientHandler) on a Node.
// Appends, trims and barriers that reach a follower are redirected
// (ErrNotLeader with the leader's address), not forwarded; CheckTail is
// answered anywhere.
type handler struct{ n *Node }

var _ paxnet.ClientHandler = (*handler)(nil)

// HandleRequest implements paxnet.ClientHandler. A batch append uses the
// sequence numbers Seq, Seq+1, ... for its entries.
func (h *handler) HandleRequest(ctx context.Context, req *paxnet.Request) *paxnet.Response {
	n := h.n
	switch req.Op {
	case paxnet.OpAppend:
		idx, err := n.appendAs(ctx, req.ClientID, req.Seq, req.Data, req.Conditional, req.ExpectLast, false)
		if err != nil {
			return errorResponse(n, err)
		}
		return &paxnet.Response{Indexes: idx}
	case paxnet.OpRead:
		if req.Index == 0 {
			return n.checkpointResponse() // a replica restoring from a peer (restore.go)
		}
		data, err := n.Read(ctx, req.Index)
		if err != nil {
			return errorResponse(n, err)
		}
		return &paxnet.Response{Index: req.Index, Data: data}
	case paxnet.OpCheckTail:
		idx, err := n.CheckTail(ctx)
		if err != nil {
			return errorResponse(n, err)
		}
		return &paxnet.Response{Index: idx}
	case paxnet.OpTrim:
		first, err := n.Trim(ctx, req.Index)
		if err != nil {
			return errorResponse(n, err)
		}
		return &paxnet.Response{Index: first, First: first}
	case paxnet.OpStatus:
		return &paxnet.Response{Status: n.Status().info(n.cfg.ClusterID)}
	}
	return &paxnet.Response{Err: paxnet.ErrInvalid, Msg: fmt.Sprintf("unknown op %s", req.Op)}
}

// tailBatch bounds one Send of a remote tail.
const (
	tailBatchEntries = 256
	tailBatchBytes   = 256 << 10
)

// HandleTail implements paxnet.ClientHandler: it streams delivered entries
// from req.From in batches. Send blocks while the client grants no credit,
// so a stalled consumer holds at most one batch here plus what the
// transport buffers within the credit.
func (h *handler) HandleTail(ctx context.Context, req *paxnet.TailRequest, out paxnet.TailSink) error {
	n := h.n
	first := n.first.Load()
	from := req.From
	if from == 0 {
		from = first
	}
	if from < first {
		return tailError(&TrimmedError{Index: from, First: first})
	}
	t := &localTail{n: n, next: from}
	n.counters.tails.Add(1)
	defer n.counters.tails.Add(-1)
	for {
		batch, err := t.nextBatch(ctx, tailBatchEntries, tailBatchBytes)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return tailError(err)
		}
		if err := out.Send(ctx, batch); err != nil {
			return nil
		}
	}
}

// nextBatch returns at least one delivered entry (blocking for it) and
// then whatever more is applied already, within the bounds.
func (t *localTail) nextBatch(ctx context.Context, maxEntries, maxBytes int) ([]paxnet.TailEntry, error) {
	idx, data, err := t.next1(ctx)
	if err != nil {
		return nil, err
	}
	batch := []paxnet.TailEntry{{Index: idx, Data: data}}
	size := len(data)
	for len(batch) < maxEntries && size < maxBytes {
		if len(t.buf) == 0 {
			if err := t.fill(ctx, false); err != nil || len(t.buf) == 0 {
				break
			}
		}
		e := t.buf[0]
		t.buf = t.buf[1:]
		d, ok, err := t.n.deliverable(&e)
		if err != nil {
			return batch, nil // the next call reports the trim
		}
		if ok {
			batch = append(batch, paxnet.TailEntry{Index: e.Slot, Data: d})
			size += len(d)
		}
	}
	return batch, nil
}

func tailError(err error) error {
	r := errorResponse(nil, err)
	return &paxnet.TailError{Code: r.Err, Msg: r.Msg, First: r.First}
}

// errorResponse maps an error to its wire form.
func errorResponse(n *Node, err error) *paxnet.Response {
	r := &paxnet.Response{Msg: err.Error()}
	var nl *NotLeaderError
	var tr *TrimmedError
	var ce *ConditionError
	switch {
	case errors.As(err, &nl):
		r.Err, r.LeaderID, r.Leader = paxnet.ErrNotLeader, nl.LeaderID, nl.Leader
	case errors.As(err, &tr):
		r.Err, r.First = paxnet.ErrTrimmed, tr.First
	case errors.As(err, &ce):
		r.Err, r.Index = paxnet.ErrConditionFailed, ce.Last
	case errors.Is(err, ErrNotLeader): // no leader known, or this replica is restoring
		r.Err = paxnet.ErrNotLeader
	case errors.Is(err, ErrBackpressure):
		r.Err = paxnet.ErrBackpressure
	case errors.Is(err, ErrNotFound):
		r.Err = paxnet.ErrNotFound
	case errors.Is(err, ErrNotApplied):
		r.Err = paxnet.ErrNotApplied
	case errors.Is(err, ErrStopped):
		r.Err = paxnet.ErrInternal
	case errors.Is(err, ErrClosed):
		r.Err = paxnet.ErrShutdown
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrSeqTooOld):
		r.Err = paxnet.ErrInvalid
	case errors.Is(err, ErrDropped), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		r.Err = paxnet.ErrTimeout
	default:
		r.Err = paxnet.ErrInternal
	}
	return r
}

// errRemoteTimeout: the replica gave up waiting; the outcome of an append is
// unknown and the Client retries it with the same identity.
var errRemoteTimeout = errors.New("replog: replica timed out (outcome unknown)")

// responseError maps a Response back to this package's errors.
func responseError(r *paxnet.Response) error {
	switch r.Err {
	case paxnet.ErrNone:
		return nil
	case paxnet.ErrNotLeader:
		return &NotLeaderError{LeaderID: r.LeaderID, Leader: r.Leader}
	case paxnet.ErrBackpressure:
		return &BackpressureError{}
	case paxnet.ErrTrimmed:
		return &TrimmedError{First: r.First}
	case paxnet.ErrConditionFailed:
		return &ConditionError{Last: r.Index}
	case paxnet.ErrNotFound:
		return fmt.Errorf("%w: %s", ErrNotFound, r.Msg)
	case paxnet.ErrNotApplied:
		return fmt.Errorf("%w: %s", ErrNotApplied, r.Msg)
	case paxnet.ErrShutdown:
		return fmt.Errorf("%w: %s", ErrClosed, r.Msg)
	case paxnet.ErrInvalid:
		return fmt.Errorf("%w: %s", ErrInvalid, r.Msg)
	case paxnet.ErrTimeout:
		return fmt.Errorf("%w: %s", errRemoteTimeout, r.Msg)
	}
	return fmt.Errorf("%w: %s: %s", errInternal, r.Err, r.Msg)
}

// info converts a Status to its wire form.
func (s Status) info(cluster string) *paxnet.StatusInfo {
	si := &paxnet.StatusInfo{NodeID: s.ID, ClusterID: cluster, Role: s.Role.String(), LeaderID: s.LeaderID,
		LeaderAddr: s.Leader, Ballot: s.Ballot, First: s.First, Last: s.Last, Commit: s.Last, Applied: s.Applied,
		Rebuilding: s.Rebuilding, Restoring: s.Restoring}
	for _, p := range s.Peers {
		si.Peers = append(si.Peers, paxnet.PeerProgress{NodeID: p.ID, Addr: p.Addr, Match: p.Match, LastHeard: p.LastHeard})
	}
	return si
}

func sortPeers(ps []PeerStatus) {
	slices.SortFunc(ps, func(a, b PeerStatus) int { return cmp.Compare(a.ID, b.ID) })
}
