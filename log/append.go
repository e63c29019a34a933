package log

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Append appends data and returns its index once the entry is chosen
// (durable on a majority) and applied here. Only the leader accepts
// appends: on a follower it fails at once with *NotLeaderError naming the
// leader (redirect; the Client follows it).
//
// Appends made through a Node carry a node-unique identity that is not
// deduplicated (so any number of concurrent callers is fine): the node
// re-proposes an entry whose slot was taken by another leader's value
// (that copy can never be chosen), but an append that fails with
// ErrNotLeader, ErrClosed or a context error has an unknown outcome and
// calling Append again may deliver a second copy. Use a Client for
// exactly-once retries.
func (n *Node) Append(ctx context.Context, data []byte) (uint64, error) {
	idx, err := n.AppendBatch(ctx, [][]byte{data})
	if err != nil {
		return 0, err
	}
	return idx[0], nil
}

// AppendBatch appends every element of data as its own entry, in order,
// and returns their indexes. Large batches are split into several
// proposals; the indexes are increasing.
func (n *Node) AppendBatch(ctx context.Context, data [][]byte) ([]uint64, error) {
	seq := n.seq.Add(uint64(len(data))) - uint64(len(data)) + 1
	return n.appendAs(ctx, n.localID, seq, data, false, 0, true)
}

// AppendIf appends data only if the last delivered index, when the entry
// is applied, equals expectedLast (0 for an empty log). Otherwise it fails
// with *ConditionError (errors.Is ErrConditionFailed), on every replica
// alike: the check runs deterministically in slot order.
func (n *Node) AppendIf(ctx context.Context, data []byte, expectedLast uint64) (uint64, error) {
	idx, err := n.appendAs(ctx, n.localID, n.seq.Add(1), [][]byte{data}, true, expectedLast, true)
	if err != nil {
		return 0, err
	}
	return idx[0], nil
}

// appendAs appends data as (client, seq), (client, seq+1), ... It retries
// entries whose slot was lost to a leader change while this node stays the
// leader and ctx lasts.
func (n *Node) appendAs(ctx context.Context, client, seq uint64, data [][]byte, cond bool, expect uint64, noDedup bool) ([]uint64, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty append", ErrInvalid)
	}
	if cond && len(data) != 1 {
		return nil, fmt.Errorf("%w: a conditional append holds one entry, not %d", ErrInvalid, len(data))
	}
	hdrs := make([]header, len(data))
	payloads := make([][]byte, len(data))
	for i, d := range data {
		if len(d) > n.cfg.MaxEntryBytes {
			return nil, fmt.Errorf("%w: entry %d is %d bytes, limit %d", ErrInvalid, i, len(d), n.cfg.MaxEntryBytes)
		}
		hdrs[i] = header{kind: kindUser, clientID: client, seq: seq + uint64(i), cond: cond, expect: expect, noDedup: noDedup}
		payloads[i] = d
	}
	res, err := n.submit(ctx, hdrs, payloads)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(res))
	for i, r := range res {
		if r.err != nil {
			return nil, r.err
		}
		out[i] = r.index
	}
	return out, nil
}

// submit proposes entries (in chunks of MaxBatchEntries), waits for all
// results and resubmits dropped ones with the same identity.
func (n *Node) submit(ctx context.Context, hdrs []header, payloads [][]byte) ([]result, error) {
	res := make([]result, len(hdrs))
	todo := make([]int, len(hdrs))
	for i := range todo {
		todo[i] = i
	}
	for round := 0; len(todo) > 0; round++ {
		if err := n.errIfStopped(); err != nil {
			return nil, err
		}
		if _, leader := n.Leader(); !leader {
			return nil, n.notLeader()
		}
		got, err := n.submitOnce(ctx, hdrs, payloads, todo)
		if err != nil && round > 0 && len(todo) < len(hdrs) {
			// Part of the call was appended in an earlier round.
			return nil, fmt.Errorf("replog: append partly confirmed (outcome unknown): %w", err)
		}
		if err != nil {
			return nil, err
		}
		var again []int
		for j, i := range todo {
			res[i] = got[j]
			if errors.Is(got[j].err, ErrDropped) && ctx.Err() == nil {
				again = append(again, i)
			}
		}
		todo = again
	}
	return res, nil
}

func (n *Node) submitOnce(ctx context.Context, hdrs []header, payloads [][]byte, todo []int) ([]result, error) {
	var props []*proposal
	for start := 0; start < len(todo); start += n.cfg.MaxBatchEntries {
		idx := todo[start:min(start+n.cfg.MaxBatchEntries, len(todo))]
		hs := make([]header, len(idx))
		data := make([][]byte, len(idx))
		for j, i := range idx {
			hs[j] = hdrs[i]
			data[j] = encodeEntry(hdrs[i], payloads[i])
		}
		p := newProposal(hs, data)
		p.start, p.onDone = time.Now(), n.countCommit
		if err := n.queue.push(ctx, p); err != nil {
			return nil, err
		}
		props = append(props, p)
	}
	out := make([]result, 0, len(todo))
	for i, p := range props {
		select {
		case <-p.done:
			out = append(out, p.res...)
		case <-ctx.Done():
			return nil, n.giveUp(ctx, props[i:], i == 0)
		}
	}
	return out, nil
}

// internal proposes one barrier or trim entry and waits for its result.
func (n *Node) internal(ctx context.Context, h header) (uint64, error) {
	h.clientID, h.seq = n.internalID, n.seq.Add(1)
	res, err := n.submit(ctx, []header{h}, [][]byte{nil})
	if err != nil {
		return 0, err
	}
	return res[0].index, res[0].err
}

// countCommit records a completed proposal's latency.
func (n *Node) countCommit(p *proposal) {
	for _, r := range p.res {
		if r.err != nil {
			return
		}
	}
	n.counters.commits.Add(uint64(len(p.res)))
	n.counters.commitNano.Add(uint64(time.Since(p.start)) * uint64(len(p.res)))
}

// giveUp withdraws the proposals not yet taken into a Propose. If none of
// them was taken, nothing of this call was appended: the window stayed full
// until the deadline (*BackpressureError). Otherwise the outcome is unknown.
func (n *Node) giveUp(ctx context.Context, props []*proposal, none bool) error {
	withdrawn := true
	for _, p := range props {
		if !p.withdraw() {
			withdrawn = false
		}
	}
	if withdrawn && none {
		return fmt.Errorf("%w (%w)", &BackpressureError{Queued: n.queue.queued()}, ctx.Err())
	}
	return fmt.Errorf("replog: append not confirmed (outcome unknown): %w", ctx.Err())
}
