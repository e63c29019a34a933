//go:build paxlogfaults

package log

import (
	"context"
	"testing"
	"time"
)

// TestPlantedSkipDedup shows the planted bug is live: with it, a
// duplicate chosen at a later slot is delivered twice (so the duplicate
// checks of the other tests, and of the chaos harness, can fail).
func TestPlantedSkipDedup(t *testing.T) {
	plantedSkipDedup = true
	t.Cleanup(func() { plantedSkipDedup = false }) // after the cluster's cleanup
	c := newTestCluster(t, clusterOpts{size: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l := c.leader(ctx)
	dup := encodeEntry(header{kind: kindUser, clientID: 42, seq: 1}, []byte("twice"))
	var last uint64
	for range 2 {
		var err error
		l.runInOwner(ctx, func(o *owner) { last, err = o.core.Propose([][]byte{dup}) })
		if err != nil {
			t.Fatal(err)
		}
	}
	got := tailAll(ctx, t, l, 0, last)
	if len(got) != 2 {
		t.Fatalf("planted bug: %v, want the duplicate delivered twice", got)
	}
}
