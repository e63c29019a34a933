package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	replog "github.com/paxlog/paxlog/log"
)

// sample is one scraped series: name{labels} value.
type sample struct {
	name   string
	labels string
	value  float64
}

// scrape fetches url and parses the Prometheus text format.
func scrape(t *testing.T, url string) []sample {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var out []sample
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("bad metric line %q", line)
		}
		series, labels := line[:sp], ""
		if i := strings.IndexByte(series, '{'); i >= 0 {
			series, labels = series[:i], series[i:]
		}
		out = append(out, sample{series, labels, v})
	}
	return out
}

// sum adds the values of name whose labels contain every part of match.
func sum(ss []sample, name string, match ...string) (float64, int) {
	var total float64
	n := 0
	for _, s := range ss {
		if s.name != name {
			continue
		}
		ok := true
		for _, m := range match {
			ok = ok && strings.Contains(s.labels, m)
		}
		if ok {
			total += s.value
			n++
		}
	}
	return total, n
}

func httpStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsAfterAppends scrapes /metrics of a three-replica cluster after
// 20 appends (10 requests of 2 entries) with one remote tail open.
func TestMetricsAfterAppends(t *testing.T) {
	tc := startTestCluster(t, 3, "", true)
	base := "http://" + tc.ops.Addr()
	if code, body := httpStatus(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	waitFor(t, 10*time.Second, "/readyz 200", func() bool {
		code, _ := httpStatus(t, base+"/readyz")
		return code == http.StatusOK
	})
	code, _, stderr := runCLI(t, nil, append([]string{"append", "--addr", tc.addrFlag(), "--batch", "2"},
		strings.Fields("a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 b0 b1 b2 b3 b4 b5 b6 b7 b8 b9")...)...)
	if code != exitOK {
		t.Fatalf("append: exit %d\n%s", code, stderr)
	}
	cl, err := replog.NewClient(replog.ClientConfig{ClusterID: defaultCluster, Addrs: tc.addrs[:1]})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := cl.Tail(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if _, _, err := stream.Next(); err != nil {
		t.Fatal(err)
	}

	ss := scrape(t, base+"/metrics")
	check := func(name string, ok func(v float64, n int) bool, match ...string) {
		t.Helper()
		v, n := sum(ss, name, match...)
		if n == 0 || !ok(v, n) {
			t.Errorf("%s%v = %v over %d series: implausible", name, match, v, n)
		}
	}
	eq := func(want float64) func(float64, int) bool { return func(v float64, _ int) bool { return v == want } }
	atLeast := func(min float64) func(float64, int) bool { return func(v float64, _ int) bool { return v >= min } }
	perNode := func(v float64, n int) bool { return n == 3 }

	check("paxlog_appends_total", eq(20))
	check("paxlog_append_bytes_total", eq(40))
	check("paxlog_commit_latency_seconds_count", eq(10))
	check("paxlog_commit_latency_seconds_sum", func(v float64, _ int) bool { return v > 0 && v < 10*10 })
	for _, node := range []string{`node="1"`, `node="2"`, `node="3"`} {
		check("paxlog_fsync_duration_seconds_count", atLeast(1), `op="persist"`, node) // group commit may batch
		check("paxlog_fsync_duration_seconds_sum", func(v float64, _ int) bool { return v > 0 && v < 100 }, `op="persist"`, node)
		check("paxlog_last_index", atLeast(1), node) // followers may still be learning the last slots
		check("paxlog_storage_bytes", atLeast(20*2), node)
	}
	check("paxlog_is_leader", eq(1))
	check("paxlog_is_leader", perNode)
	check("paxlog_leader_changes_total", atLeast(1)) // the watchers poll every 50 ms: a follower may not have counted it yet
	check("paxlog_ballot_round", atLeast(3))
	check("paxlog_inflight_proposals", perNode)
	check("paxlog_queued_proposals", perNode)
	check("paxlog_peer_lag_entries", func(v float64, n int) bool { return n == 2 && v < 1000 })
	check("paxlog_peer_drops_total", func(_ float64, n int) bool { return n == 3*2*2 }) // 3 nodes x 2 peers x 2 reasons
	check("paxlog_last_index", atLeast(20), `node="`+leaderOf(ss)+`"`)
	check("paxlog_peer_connected", atLeast(2)) // the leader's links at least
	check("paxlog_tail_consumers", eq(1))
	check("paxlog_rebuilding", perNode)
	check("paxlog_rebuilding", eq(0), `node="`+leaderOf(ss)+`"`)         // a leader votes, so it has left rebuilding
	check("paxlog_dedup_clients", atLeast(1), `node="`+leaderOf(ss)+`"`) // the append command's client id
	check("go_goroutines", atLeast(1))
}

// TestClientCommands exercises append (args and stdin), tail formats,
// status --json and trim against an in-process cluster.
func TestClientCommands(t *testing.T) {
	tc := startTestCluster(t, 3, "", false)
	addr := tc.addrFlag()
	code, out, stderr := runCLI(t, nil, "append", "--addr", addr, "x", "y")
	if code != exitOK || len(strings.Fields(out)) != 2 {
		t.Fatalf("append: exit %d %q %s", code, out, stderr)
	}
	idx := strings.Fields(out)
	a := &appendCmd{stdin: strings.NewReader("l1\n\nl2\r\nl3\n")}
	c := &cli{stdout: &syncBuffer{}, stderr: &syncBuffer{}, getenv: func(string) string { return "" }}
	if err := c.runCommand(&command{name: "append", newRunner: func() runner { return a }},
		[]string{"--addr", addr, "--batch", "2"}); err != nil {
		t.Fatal(err)
	}
	idx = append(idx, strings.Fields(c.stdout.(*syncBuffer).String())...)
	if len(idx) != 5 {
		t.Fatalf("indexes %v, want 5", idx)
	}
	for _, f := range []struct{ format, want string }{
		{"text", fmt.Sprintf("%s\tx\n%s\ty\n%s\tl1\n%s\tl2\n%s\tl3\n", idx[0], idx[1], idx[2], idx[3], idx[4])},
		{"raw", "x\ny\nl1\nl2\nl3\n"},
		{"json", fmt.Sprintf(`{"data":"l3","index":%s}`+"\n", idx[4])},
	} {
		args := []string{"tail", "--addr", addr, "--format", f.format}
		if f.format == "json" {
			args = append(args, "--from", idx[4])
		}
		code, out, stderr := runCLI(t, nil, args...)
		if code != exitOK || out != f.want {
			t.Errorf("tail --format %s: exit %d\n%q\nwant\n%q\n%s", f.format, code, out, f.want, stderr)
		}
	}
	code, out, stderr = runCLI(t, nil, "status", "--addr", addr, "--json")
	if code != exitOK || !strings.Contains(out, `"leader_id"`) || strings.Count(out, `"role"`) != 3 {
		t.Errorf("status --json: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runCLI(t, nil, "trim", "--addr", addr, "--before", idx[2])
	if code != exitOK || out != "first index now "+idx[2]+"\n" {
		t.Errorf("trim: exit %d %q %s", code, out, stderr)
	}
	// A follower may apply the trim later, so tail from the new first index.
	code, out, stderr = runCLI(t, nil, "tail", "--addr", addr, "--format", "raw", "--from", idx[2])
	if code != exitOK || out != "l1\nl2\nl3\n" {
		t.Errorf("tail after trim: exit %d %q %s", code, out, stderr)
	}
}

// TestBench runs a short counted bench and checks the report.
func TestBench(t *testing.T) {
	tc := startTestCluster(t, 3, "", false)
	code, out, stderr := runCLI(t, nil, "bench", "--addr", tc.addrFlag(), "--count", "300", "--clients", "4",
		"--size", "64", "--batch", "3", "--interval", "50ms")
	if code != exitOK {
		t.Fatalf("bench: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"appended 300 entries", "ops/s", "MB/s", "p50", "p90", "p99 ", "p99.9", "max", "histogram:"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
}

// leaderOf returns the node label value of the replica reporting is_leader 1.
func leaderOf(ss []sample) string {
	for _, s := range ss {
		if s.name == "paxlog_is_leader" && s.value == 1 {
			return strings.TrimSuffix(strings.TrimPrefix(s.labels, `{node="`), `"}`)
		}
	}
	return "?"
}
