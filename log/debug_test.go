package log

import (
	"fmt"
	"testing"

	paxnet "github.com/paxlog/paxlog/net"
)

// dumpStats logs every node's transport counters (debugging aid).
func (c *testCluster) dumpStats(t testing.TB) {
	for id, n := range c.nodes {
		if tr, ok := n.trans.(paxnet.Transport); ok {
			st := tr.Stats()
			s := fmt.Sprintf("node %d: inboundDrops=%d", id, st.InboundDrops)
			for p, ps := range st.Peers {
				s += fmt.Sprintf(" peer%d{out=%d/%dB qdrop=%d wdrop=%d}", p, ps.FramesOut, ps.BytesOut, ps.QueueDrops, ps.WriteDrops)
			}
			t.Log(s, n.Status())
		}
	}
}
