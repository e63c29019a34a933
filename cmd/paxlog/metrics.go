package main

import (
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// nodeMetrics are the metrics one replica updates as events happen. The
// gauges that mirror the node's state are read at scrape time by
// statusCollector instead.
type nodeMetrics struct {
	fsync       *prometheus.HistogramVec // op: persist (journal, one per Ready) or sync (chosen log)
	commit      prometheus.Histogram     // client append received -> chosen and applied, at the leader
	appends     prometheus.Counter       // entries acknowledged to clients by this replica
	appendBytes prometheus.Counter       // their payload bytes
	tails       prometheus.Gauge         // remote tail streams being served
}

func newNodeMetrics() *nodeMetrics {
	return &nodeMetrics{
		fsync: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "paxlog_fsync_duration_seconds",
			Help:    "Duration of a durable write: op=persist is one journal batch (write+fsync) per Ready, op=sync an fsync of the chosen log.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16)}, []string{"op"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "paxlog_commit_latency_seconds",
			Help:    "Time from a client append request reaching the leader to its entries being chosen and applied.",
			Buckets: prometheus.ExponentialBuckets(100e-6, 2, 16)}),
		appends: prometheus.NewCounter(prometheus.CounterOpts{Name: "paxlog_appends_total",
			Help: "Entries appended through this replica (acknowledged to a client)."}),
		appendBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "paxlog_append_bytes_total",
			Help: "Payload bytes of the entries counted by paxlog_appends_total."}),
		tails: prometheus.NewGauge(prometheus.GaugeOpts{Name: "paxlog_tail_consumers",
			Help: "Remote tail streams this replica is serving now."}),
	}
}

func (m *nodeMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.fsync, m.commit, m.appends, m.appendBytes, m.tails}
}

// register registers the replica's metrics, labelled node="<id>".
func (r *replica) register(reg prometheus.Registerer) error {
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"node": strconv.FormatUint(uint64(r.cfg.ID), 10)}, reg)
	for _, c := range append(r.m.collectors(), &statusCollector{r: r}) {
		if err := wrapped.Register(c); err != nil {
			return err
		}
	}
	return nil
}

var (
	descIsLeader   = prometheus.NewDesc("paxlog_is_leader", "1 if this replica is the leader.", nil, nil)
	descLeaderID   = prometheus.NewDesc("paxlog_leader_id", "Id of the leader as known here (0: unknown).", nil, nil)
	descBallot     = prometheus.NewDesc("paxlog_ballot_round", "Round of the highest ballot this replica knows.", nil, nil)
	descInflight   = prometheus.NewDesc("paxlog_inflight_proposals", "Entries proposed by this leader and not yet chosen.", nil, nil)
	descQueued     = prometheus.NewDesc("paxlog_queued_proposals", "Entries waiting in this replica's group-commit queue.", nil, nil)
	descFirst      = prometheus.NewDesc("paxlog_first_index", "First index held (the trim point).", nil, nil)
	descLast       = prometheus.NewDesc("paxlog_last_index", "Last chosen index held here.", nil, nil)
	descApplied    = prometheus.NewDesc("paxlog_applied_index", "Last index applied here.", nil, nil)
	descDelivered  = prometheus.NewDesc("paxlog_delivered_index", "Last index delivered to consumers here.", nil, nil)
	descPeerLag    = prometheus.NewDesc("paxlog_peer_lag_entries", "Leader only: this replica's last chosen index minus what the peer is known to hold.", []string{"peer"}, nil)
	descPeerDrops  = prometheus.NewDesc("paxlog_peer_drops_total", "Messages to a peer dropped: reason=queue (send queue full) or write (failed write).", []string{"peer", "reason"}, nil)
	descPeerConn   = prometheus.NewDesc("paxlog_peer_connected", "1 if the outbound connection to the peer is up.", []string{"peer"}, nil)
	descPeerBytes  = prometheus.NewDesc("paxlog_peer_sent_bytes_total", "Bytes written to the peer.", []string{"peer"}, nil)
	descInboundDrp = prometheus.NewDesc("paxlog_inbound_drops_total", "Inbound peer messages dropped because the node was behind.", nil, nil)
	descStorage    = prometheus.NewDesc("paxlog_storage_bytes", "Bytes of every file in the data directory.", nil, nil)
	descRebuilding = prometheus.NewDesc("paxlog_rebuilding", "1 while this replica re-learns the log after starting on an empty data directory (it does not vote).", nil, nil)
	descLeaderChg  = prometheus.NewDesc("paxlog_leader_changes_total", "Times this replica saw the leader change.", nil, nil)
	descDedup      = prometheus.NewDesc("paxlog_dedup_clients", "Clients held in the exactly-once dedup table.", nil, nil)
)

// statusCollector reads the replica's Status, transport Stats and data
// directory size at scrape time.
type statusCollector struct{ r *replica }

func (s *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descIsLeader, descLeaderID, descBallot, descInflight, descQueued,
		descFirst, descLast, descApplied, descDelivered, descPeerLag, descPeerDrops, descPeerConn,
		descPeerBytes, descInboundDrp, descStorage, descDedup, descLeaderChg, descRebuilding} {
		ch <- d
	}
}

func (s *statusCollector) Collect(ch chan<- prometheus.Metric) {
	st := s.r.node.Status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	isLeader := 0.0
	if st.LeaderID == st.ID {
		isLeader = 1
	}
	gauge(descIsLeader, isLeader)
	gauge(descLeaderID, float64(st.LeaderID))
	gauge(descBallot, float64(st.Ballot.Round))
	gauge(descInflight, float64(st.Inflight))
	gauge(descQueued, float64(st.Queued))
	gauge(descFirst, float64(st.First))
	gauge(descLast, float64(st.Last))
	gauge(descApplied, float64(st.Applied))
	gauge(descDelivered, float64(st.LastDelivered))
	gauge(descDedup, float64(st.DedupClients))
	counter(descLeaderChg, s.r.node.Metrics().LeaderChanges)
	gauge(descRebuilding, b2f(st.Rebuilding))
	if isLeader == 1 {
		for _, p := range st.Peers {
			if p.ID != st.ID {
				gauge(descPeerLag, float64(p.Lag), peerLabel(uint64(p.ID)))
			}
		}
	}
	if stats, ok := s.r.net.stats(); ok {
		for id, p := range stats.Peers {
			l := peerLabel(uint64(id))
			counter(descPeerDrops, p.QueueDrops, l, "queue")
			counter(descPeerDrops, p.WriteDrops, l, "write")
			counter(descPeerBytes, p.BytesOut, l)
			gauge(descPeerConn, b2f(p.Connected), l)
		}
		counter(descInboundDrp, stats.InboundDrops)
	}
	gauge(descStorage, float64(dirSize(s.r.cfg.Dir)))
}

func peerLabel(id uint64) string { return strconv.FormatUint(id, 10) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// dirSize sums the sizes of the regular files under dir (errors skip).
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
