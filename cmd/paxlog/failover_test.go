package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeFailover runs three `paxlog serve` processes on 127.0.0.1,
// SIGKILLs the leader, and requires `paxlog append` against the survivors
// to succeed within three election timeouts (the longest randomized one)
// of the kill.
func TestServeFailover(t *testing.T) {
	bin := buildBinary(t)
	const tick, electionTicks = 50 * time.Millisecond, 10 // election timeout 0.5-1 s
	electionTimeout := replicaConfig{Tick: tick, ElectionTicks: electionTicks}.electionTimeout()
	ports := freePorts(t, 3)
	var addrs, peers []string
	for i, p := range ports {
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", p))
		peers = append(peers, fmt.Sprintf("%d=%s", i+1, addrs[i]))
	}
	addrFlag := strings.Join(addrs, ",")
	procs := make([]*proc, 3)
	logs := make([]*syncBuffer, 3)
	t.Cleanup(func() {
		for _, p := range procs {
			if p != nil {
				p.cmd.Process.Kill()
				<-p.done
			}
		}
	})
	for i := range procs {
		logs[i] = &syncBuffer{}
		p := &proc{cmd: exec.Command(bin, "serve", "--id", fmt.Sprint(i+1), "--cluster", "failover",
			"--peers", strings.Join(peers, ","), "--data", t.TempDir(), "--tick", tick.String(),
			"--election-ticks", fmt.Sprint(electionTicks), "--log-json"), out: logs[i], done: make(chan error, 1)}
		p.cmd.Stdout, p.cmd.Stderr = logs[i], logs[i]
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.done <- p.cmd.Wait() }()
		procs[i] = p
	}
	dump := func() string {
		var b strings.Builder
		for i, l := range logs {
			fmt.Fprintf(&b, "--- replica %d ---\n%s", i+1, l.String())
		}
		return b.String()
	}
	cli := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append(args, "--cluster", "failover")...).Output()
		if err != nil {
			return string(out), fmt.Errorf("paxlog %s: %v: %s", strings.Join(args, " "), err, stderrOf(err))
		}
		return string(out), nil
	}
	t0 := time.Now()
	if out, err := cli("append", "--addr", addrFlag, "--timeout", "20s", "before"); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, dump())
	}
	t.Logf("first append took %s", time.Since(t0))
	out, err := cli("status", "--addr", addrFlag, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, dump())
	}
	var st clusterStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.LeaderID < 1 || st.LeaderID > 3 {
		t.Fatalf("status --json: leader %d, %v\n%s", st.LeaderID, err, out)
	}
	leader := st.LeaderID
	if err := procs[leader-1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-procs[leader-1].done
	procs[leader-1] = nil
	var survivors []string
	for i, a := range addrs {
		if uint64(i+1) != leader {
			survivors = append(survivors, a)
		}
	}
	out, err = cli("append", "--addr", strings.Join(survivors, ","), "--timeout", "20s", "after")
	took := time.Since(killed)
	if err != nil {
		t.Fatalf("append after killing leader %d: %v\n%s", leader, err, dump())
	}
	t.Logf("append after SIGKILL of leader %d succeeded in %s (election timeout up to %s)", leader, took, electionTimeout)
	if limit := 3 * electionTimeout; took > limit {
		t.Errorf("append took %s after the kill, want under 3 election timeouts (%s)", took, limit)
	}
	t1 := time.Now()
	out, err = cli("tail", "--addr", strings.Join(survivors, ","), "--format", "raw")
	t.Logf("tail took %s", time.Since(t1))
	if err != nil || out != "before\nafter\n" {
		t.Errorf("tail on the survivors: %q, %v", out, err)
	}
	checkServeLogs(t, logs[2].String(), "failover")
}

// checkServeLogs checks that a replica logged JSON lines (--log-json), one
// configuration summary at start and at least one leader change.
func checkServeLogs(t *testing.T, logs, cluster string) {
	t.Helper()
	starts, leaders := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("--log-json line is not JSON: %q", line)
			continue
		}
		switch rec["@message"] {
		case "starting replica":
			starts++
			for _, k := range []string{"id", "cluster", "peers", "data", "listen", "tls", "metrics", "election_timeout"} {
				if _, ok := rec[k]; !ok {
					t.Errorf("start line lacks %q: %s", k, line)
				}
			}
			if rec["cluster"] != cluster {
				t.Errorf("start line: cluster %v, want %s", rec["cluster"], cluster)
			}
		case "leader changed":
			leaders++
		}
	}
	if starts != 1 || leaders < 1 {
		t.Errorf("replica logged %d start lines and %d leader changes\n%s", starts, leaders, logs)
	}
}
