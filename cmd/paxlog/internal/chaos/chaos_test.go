package chaos

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// outDir is where a failing run saves its history and visualizations:
// $PAXLOG_CHAOS_OUT, or the test's temporary directory.
func outDir(t *testing.T) string {
	if d := os.Getenv("PAXLOG_CHAOS_OUT"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// seed is $PAXLOG_CHAOS_SEED, or the clock.
func seed(t *testing.T) int64 {
	if s := os.Getenv("PAXLOG_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("PAXLOG_CHAOS_SEED=%q: %v", s, err)
		}
		return v
	}
	return time.Now().UnixNano() % 1_000_000_007
}

// runChaos runs cfg and reports the counts, recovery times and every
// violation; the caller asserts on the report.
func runChaos(t *testing.T, cfg RunConfig) *Report {
	t.Helper()
	cfg.Cluster.Binary = binary
	if cfg.Cluster.Dir == "" {
		cfg.Cluster.Dir = t.TempDir()
	}
	if cfg.Lin.OutDir == "" {
		cfg.Lin.OutDir = outDir(t)
	}
	cfg.Logf = t.Logf
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rep, err := Run(ctx, cfg)
	t.Logf("chaos: seed %d: %d rounds in %s; injected: %s", rep.Seed, rep.Rounds, rep.Elapsed.Round(time.Millisecond), rep.Counts)
	if len(rep.Missed) > 0 {
		t.Logf("chaos: injections that did not take effect: %s", rep.Missed)
	}
	if err != nil {
		t.Fatalf("chaos: seed %d: harness failure: %v (replica logs in %s)", rep.Seed, err, cfg.Cluster.Dir)
	}
	if rep.Record != nil {
		t.Logf("chaos: %d ops, %d fences, porcupine: %d windows, %d ops checked, %d dropped (no effect)",
			len(rep.Record.Ops), len(rep.Record.Fences), rep.Lin.Windows, rep.Lin.Ops, rep.Lin.Dropped)
	}
	if len(rep.Recovery) > 0 {
		p50, p99, mx := rep.RecoveryStats()
		t.Logf("chaos: recovery after leader SIGKILL (%d samples): p50 %s p99 %s max %s (election timeout %s)",
			len(rep.Recovery), p50.Round(time.Millisecond), p99.Round(time.Millisecond), mx.Round(time.Millisecond),
			cfg.Cluster.withDefaultsOrZero().ElectionTimeout())
	}
	return rep
}

func (c ClusterConfig) withDefaultsOrZero() ClusterConfig {
	d, _ := c.withDefaults()
	return d
}

func TestChaosSmoke(t *testing.T) {
	rep := runChaos(t, RunConfig{Seed: seed(t),
		Plan: Plan{KillMinority: 4, KillAll: 1, Partition: 3, Pause: 2}})
	for _, v := range rep.Violations() {
		t.Errorf("%s", v)
	}
}
