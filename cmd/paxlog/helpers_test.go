package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paxlog/paxlog/net/nettest"

	"github.com/hashicorp/go-hclog"

	"github.com/paxlog/paxlog/paxos"
)

// runCLI runs the command line in-process with env as the environment and
// returns the exit code, stdout and stderr.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	c := &cli{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] },
		exit: func(code int) { t.Errorf("exit(%d) called", code) }}
	code := c.main(args)
	return code, out.String(), errb.String()
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePorts returns n distinct loopback ports outside the ephemeral range.
func freePorts(t testing.TB, n int) []int { return nettest.FreePorts(t, n) }

// consecutivePorts finds a base port such that base..base+n-1 are free.
func consecutivePorts(t testing.TB, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 20000 + int(time.Now().UnixNano()%30000)
		ok := true
		var ls []net.Listener
		for i := 0; i < n && ok; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free consecutive ports found")
	return 0
}

// testCluster is an in-process cluster of replicas as dev runs them.
type testCluster struct {
	rs    []*replica
	ops   *opsServer
	addrs []string
	dirs  []string
}

// startTestCluster starts n replicas on free loopback ports under dir
// (t.TempDir() when empty); metrics on a free port when withMetrics.
func startTestCluster(t *testing.T, n int, dir string, withMetrics bool) *testCluster {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ports := freePorts(t, n)
	peers := map[paxos.NodeID]string{}
	tc := &testCluster{}
	for i, p := range ports {
		a := fmt.Sprintf("127.0.0.1:%d", p)
		peers[paxos.NodeID(i+1)] = a
		tc.addrs = append(tc.addrs, a)
	}
	logger := hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off})
	var rcs []replicaConfig
	for i := range ports {
		d := filepath.Join(dir, fmt.Sprintf("node-%d", i+1))
		tc.dirs = append(tc.dirs, d)
		rcs = append(rcs, replicaConfig{ID: paxos.NodeID(i + 1), Cluster: defaultCluster, Dir: d, Peers: peers, Logger: logger})
	}
	metrics := ""
	if withMetrics {
		metrics = "127.0.0.1:0"
	}
	rs, ops, err := startAll(logger, rcs, metrics)
	if err != nil {
		t.Fatal(err)
	}
	tc.rs, tc.ops = rs, ops
	t.Cleanup(func() { tc.stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := waitLeader(ctx, rs); err != nil {
		t.Fatal(err)
	}
	return tc
}

func (tc *testCluster) stop() {
	if tc.rs != nil {
		stopAll(hclog.NewNullLogger(), tc.rs, tc.ops)
		tc.rs, tc.ops = nil, nil
	}
}

func (tc *testCluster) addrFlag() string { return strings.Join(tc.addrs, ",") }

// The binary, built once per test run (go build into a temporary dir).
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary builds cmd/paxlog and returns its path.
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "paxlog-bin-*")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "paxlog")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// waitFor polls cond every 20 ms until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", d, what)
		case <-tick.C:
		}
	}
}

func nullLogger() hclog.Logger { return hclog.NewNullLogger() }
