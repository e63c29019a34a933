package log

import (
	"context"
	"errors"
	"fmt"
	"time"

	paxnet "github.com/paxlog/paxlog/net"
)

// A replica whose chosen log starts at a trim point it has no checkpoint
// for (paxos reset it there because every peer it reached had trimmed
// past its log, or it restarted in that state) cannot judge verdicts: its
// dedup table and last delivered index depend on the history it lacks.
// It then stops applying (tails and reads see nothing new, appends are
// refused) while it keeps storing chosen entries, fetches a peer's
// checkpoint over the client protocol (OpRead of index 0, see handler.go),
// and resumes from it. It never delivers a verdict it is unsure of.

// errRestoring refuses appends on a replica that waits for a checkpoint.
var errRestoring = fmt.Errorf("replog: replica is restoring its state from a peer: %w", ErrNotLeader)

// checkpoint is a fetched (or local) checkpoint.
type checkpoint struct {
	slot uint64
	data []byte
}

// awaitCheckpoint stops applying and starts fetching a checkpoint that
// covers the log from first on.
func (o *owner) awaitCheckpoint(first uint64) {
	o.awaiting, o.pendingCP = true, nil
	o.n.log.Warn("no checkpoint for the trim point: fetching one from a peer before applying", "first", first)
	o.n.bg.Go(func() { o.n.fetchCheckpoint(first, o.cpCh) })
}

// tryRestore installs a fetched checkpoint.
func (o *owner) tryRestore(cp *checkpoint) error { return o.restore(cp, false) }

// restore installs cp (local: this replica's own) if the store holds every
// slot up to cp.slot, and keeps it pending otherwise. An unusable
// checkpoint (older than the log, or malformed) restarts the fetch.
func (o *owner) restore(cp *checkpoint, local bool) error {
	first, last := o.n.store.FirstIndex(), o.n.store.LastIndex()
	switch {
	case cp.slot+1 < first:
		o.awaitCheckpoint(first)
		return nil
	case cp.slot > last:
		o.awaiting, o.pendingCP = true, cp // wait for the chosen log to reach it
		return nil
	}
	ap := newApplier(o.n.filtered)
	validFrom, err := ap.restoreCheckpoint(cp.data)
	if err != nil && local {
		return fmt.Errorf("replog: node %d checkpoint at slot %d: %w", o.n.cfg.ID, cp.slot, err)
	}
	if err != nil {
		o.n.log.Error("bad checkpoint from a peer", "slot", cp.slot, "error", err)
		o.awaitCheckpoint(first)
		return nil
	}
	if !local {
		if err := o.n.store.Sync(); err != nil {
			return fmt.Errorf("replog: node %d sync before checkpoint: %w", o.n.cfg.ID, err)
		}
		if err := o.n.store.SetCheckpoint(cp.slot, cp.data); err != nil {
			return fmt.Errorf("replog: node %d store checkpoint at %d: %w", o.n.cfg.ID, cp.slot, err)
		}
	}
	if validFrom > first {
		if err := o.n.store.TrimChosen(validFrom); err != nil {
			return fmt.Errorf("replog: node %d trim to %d: %w", o.n.cfg.ID, validFrom, err)
		}
		first = validFrom
	}
	if err := replayInto(o.n.store, ap, last); err != nil {
		return err
	}
	o.ap, o.awaiting, o.pendingCP = ap, false, nil
	o.n.publish(ap, first)
	if !local {
		o.n.log.Info("state restored from a peer's checkpoint", "slot", cp.slot, "first", first, "applied", ap.applied)
	}
	return nil
}

// replayInto applies the stored chosen log after ap.applied through last.
func replayInto(st Store, ap *applier, last uint64) error {
	for from := ap.applied + 1; from <= last; {
		es, err := st.Entries(from, 4<<20)
		if err != nil {
			return fmt.Errorf("replog: replay from slot %d: %w", from, err)
		}
		if len(es) == 0 {
			break
		}
		for i := range es {
			ap.apply(&es[i])
		}
		from = es[len(es)-1].Slot + 1
	}
	return nil
}

// fetchCheckpoint asks the peers in turn for a checkpoint covering first
// until one answers or the node stops.
func (n *Node) fetchCheckpoint(first uint64, out chan<- *checkpoint) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.stop:
		case <-n.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	backoff := 20 * time.Millisecond
	for {
		for id, addr := range n.cfg.Peers {
			if id == n.cfg.ID {
				continue
			}
			cp, err := n.askCheckpoint(ctx, addr)
			if err == nil && cp.slot+1 >= first {
				select {
				case out <- cp:
				case <-ctx.Done():
				}
				return
			}
			n.log.Debug("checkpoint fetch", "peer", id, "error", err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (n *Node) askCheckpoint(ctx context.Context, addr string) (*checkpoint, error) {
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := n.cfg.Network.Dial(actx, addr, paxnet.ClientConfig{ClusterID: n.cfg.ClusterID, TLS: n.cfg.TLS, Logger: n.log})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	resp, err := conn.Call(actx, &paxnet.Request{Op: paxnet.OpRead, Index: 0})
	if err != nil {
		return nil, err
	}
	if err := responseError(resp); err != nil {
		return nil, err
	}
	if len(resp.Data) == 0 {
		return nil, errors.New("replog: empty checkpoint")
	}
	return &checkpoint{slot: resp.Index, data: resp.Data}, nil
}

// checkpointResponse answers OpRead of index 0 with this replica's
// checkpoint.
func (n *Node) checkpointResponse() *paxnet.Response {
	slot, data := n.store.Checkpoint()
	if data == nil {
		return &paxnet.Response{Err: paxnet.ErrNotFound, Msg: "no checkpoint"}
	}
	return &paxnet.Response{Index: slot, Data: data}
}
