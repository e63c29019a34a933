package bench

import (
	"os"
	"testing"
)

// logMetrics prints every node's counters when PAXLOG_BENCH_DEBUG is set.
func (c *cluster) logMetrics(b *testing.B) {
	if os.Getenv("PAXLOG_BENCH_DEBUG") == "" {
		return
	}
	for _, n := range c.nodes {
		m := n.Metrics()
		_, lead := n.Leader()
		per := 0.0
		if m.Persists > 0 {
			per = float64(m.PersistTime.Microseconds()) / float64(m.Persists) / 1000
		}
		b.Logf("node %d leader=%v persists=%d records=%d persist-ms=%.3f proposes=%d proposed=%d commits=%d commit-ms=%.2f",
			n.ID(), lead, m.Persists, m.PersistRecords, per, m.ProposeCalls, m.Proposed, m.Commits,
			float64(m.CommitTime.Microseconds())/float64(max(1, m.Commits))/1000)
	}
}
