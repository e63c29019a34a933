package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	paxnet "github.com/paxlog/paxlog/net"
	"github.com/paxlog/paxlog/paxos"
	"github.com/paxlog/paxlog/storage"
)

func TestHelpListsEveryCommandFlagAndExitCode(t *testing.T) {
	code, out, _ := runCLI(t, nil, "help")
	if code != exitOK {
		t.Fatalf("help: exit %d", code)
	}
	for _, cmd := range commands {
		if !strings.Contains(out, "paxlog "+cmd.name) {
			t.Errorf("help does not list command %s", cmd.name)
		}
		fs := newFlagSet(cmd, cmd.newRunner())
		fs.VisitAll(func(f *pflag.Flag) {
			if !strings.Contains(out, "--"+f.Name) {
				t.Errorf("help does not list %s --%s", cmd.name, f.Name)
			}
		})
	}
	for _, e := range exitCodes {
		if !strings.Contains(out, fmt.Sprintf("  %-4d %s", e.code, e.what)) {
			t.Errorf("help does not list exit code %d", e.code)
		}
	}
	code, out, _ = runCLI(t, nil, "bench", "--help")
	if code != exitOK || !strings.Contains(out, "--clients int") || !strings.Contains(out, "(default 64)") {
		t.Errorf("bench --help: exit %d\n%s", code, out)
	}
}

// envRunner records the value of --addr it ran with.
type envRunner struct{ addr string }

func (e *envRunner) flags(fs *pflag.FlagSet)        { fs.StringVar(&e.addr, "addr", "default", "") }
func (e *envRunner) run(*cli, *pflag.FlagSet) error { return nil }

func TestFlagBeatsEnvironmentBeatsDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{nil, "", "default"},
		{nil, "from-env", "from-env"},
		{[]string{"--addr", "from-flag"}, "from-env", "from-flag"},
	} {
		r := &envRunner{}
		cmd := &command{name: "x", newRunner: func() runner { return r }}
		c := &cli{stdout: os.Stdout, stderr: os.Stderr, getenv: func(k string) string {
			if k == "PAXLOG_ADDR" {
				return tc.env
			}
			return ""
		}}
		if err := c.runCommand(cmd, tc.args); err != nil {
			t.Fatal(err)
		}
		if r.addr != tc.want {
			t.Errorf("args %v env %q: --addr = %q, want %q", tc.args, tc.env, r.addr, tc.want)
		}
	}
}

// Each error a person can act on: its exit code and its message.
func TestErrorsExitCodesAndMessages(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	busy := held.Addr().String()
	dead := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])

	otherCluster := t.TempDir()
	makeStore(t, otherCluster, "another", 1, 1)
	corrupt := t.TempDir()
	segment := makeStore(t, corrupt, "c", 1, 5)
	flipByte(t, segment, 20) // inside the first of five records: invalid data followed by valid

	locked := t.TempDir()
	lockedStore, err := storage.Open(storage.Options{Dir: locked, ClusterID: "c", NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer lockedStore.Close()

	devDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(devDir, "dev.json"), []byte(`{"cluster":"paxlog","nodes":3}`), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		msg  []string
	}{
		{"unknown flag", nil, []string{"append", "--nope"}, exitUsage, []string{"unknown flag: --nope"}},
		{"bad flag value", nil, []string{"tail", "--from", "x"}, exitUsage, []string{"--from"}},
		{"missing required flag", nil, []string{"serve", "--cluster", "c", "--peers", "1=127.0.0.1:1", "--data", t.TempDir()},
			exitUsage, []string{"missing required flag --id"}},
		{"bad environment value", map[string]string{"PAXLOG_TIMEOUT": "soon"}, []string{"status"},
			exitUsage, []string{`PAXLOG_TIMEOUT="soon"`}},
		{"partial TLS flags", nil, append(serveArgs(t.TempDir(), "c", dead), "--tls-cert", "x.pem"), exitUsage,
			[]string{"--tls-cert, --tls-key and --tls-ca go together"}},
		{"dev rerun with another shape", nil, []string{"dev", "--data", devDir, "--nodes", "5"}, exitUsage,
			[]string{devDir, "3-replica cluster"}},
		{"unknown command", nil, []string{"frobnicate"}, exitUsage, []string{`unknown command "frobnicate"`}},
		{"address in use", nil, serveArgs(t.TempDir(), "c", busy), exitAddrInUse,
			[]string{busy, "address already in use"}},
		{"metrics address in use", nil, append(serveArgs(t.TempDir(), "c", dead), "--metrics", busy), exitAddrInUse,
			[]string{"--metrics " + busy, "address already in use"}},
		{"data dir of another cluster", nil, serveArgs(otherCluster, "mine", dead), exitIdentity,
			[]string{otherCluster, "identity mismatch"}},
		{"corrupted data dir", nil, serveArgs(corrupt, "c", dead), exitCorrupt,
			[]string{segment, "offset", "corrupt"}},
		{"corrupted data dir, dump-wal", nil, []string{"dump-wal", corrupt}, exitCorrupt,
			[]string{segment, "offset", "corrupt"}},
		{"data dir in use", nil, serveArgs(locked, "c", dead), exitLocked,
			[]string{locked, "in use"}},
		{"no replica reachable", nil, []string{"append", "--addr", dead, "--timeout", "1s", "x"}, exitNoReplica,
			[]string{"no replica reachable", dead, "connection refused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.env, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			last := lastLine(stderr)
			if tc.code == exitUsage && strings.HasPrefix(last, "run 'paxlog") {
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				last = lines[len(lines)-2]
			}
			for _, m := range tc.msg {
				if !strings.Contains(last, m) {
					t.Errorf("error line %q does not contain %q", last, m)
				}
			}
		})
	}
}

// A lone replica of a three-replica cluster answers but never elects a
// leader: exit 7, not 6.
func TestNoLeaderWithinTimeout(t *testing.T) {
	ports := freePorts(t, 3)
	peers := map[paxos.NodeID]string{}
	for i, p := range ports {
		peers[paxos.NodeID(i+1)] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	rs, ops, err := startAll(nullLogger(), []replicaConfig{{ID: 1, Cluster: defaultCluster, Dir: t.TempDir(), Peers: peers,
		Logger: nullLogger()}}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stopAll(nullLogger(), rs, ops)
	if code, body := httpStatus(t, "http://"+ops.Addr()+"/readyz"); code != 503 || !strings.Contains(body, "no leader known") {
		t.Errorf("/readyz without a leader: %d %q, want 503", code, body)
	}
	code, _, stderr := runCLI(t, nil, "append", "--addr", peers[1], "--timeout", "1500ms", "x")
	if code != exitNoLeader || !strings.Contains(stderr, "no leader within the timeout") || !strings.Contains(stderr, peers[1]) {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitNoLeader, stderr)
	}
	code, out, stderr := runCLI(t, nil, "status", "--addr", peers[1], "--timeout", "2s")
	if code != exitNoLeader || !strings.Contains(out, "no leader known") {
		t.Errorf("status: exit %d, want %d\n%s%s", code, exitNoLeader, out, stderr)
	}
}

func serveArgs(dir, cluster, addr string) []string {
	return []string{"serve", "--id", "1", "--cluster", cluster, "--peers", "1=" + addr, "--data", dir, "--log-level", "off"}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// makeStore creates a data directory with records promise records in its
// journal and returns the journal's segment file.
func makeStore(t *testing.T, dir, cluster string, node uint64, records int) string {
	t.Helper()
	st, err := storage.Open(storage.Options{Dir: dir, ClusterID: cluster, NodeID: node})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= records; i++ {
		if err := st.Persist([]paxos.Record{{Kind: paxos.RecordPromise, Ballot: paxos.Ballot{Round: uint64(i), Node: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(dir, "journal", "*"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("journal segments %v: %v", segs, err)
	}
	return segs[0]
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) <= off {
		t.Fatalf("%s has %d bytes, want more than %d", path, len(b), off)
	}
	b[off] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStatusShowsRebuildingAndRestoring: a replica that does not vote yet
// (rebuilding) or waits for a checkpoint (restoring) says so in the table
// and in the JSON; a full member shows its role alone.
func TestStatusShowsRebuildingAndRestoring(t *testing.T) {
	addrs := []string{"a:1", "b:2", "c:3"}
	infos := []*paxnet.StatusInfo{
		{NodeID: 1, Role: "leader", LeaderID: 1, LeaderAddr: "a:1", Last: 9},
		{NodeID: 2, Role: "follower", LeaderID: 1, Last: 3, Rebuilding: true},
		{NodeID: 3, Role: "follower", LeaderID: 1, Last: 0, Restoring: true},
	}
	cs := summarize("c1", addrs, infos, make([]error, 3))
	var out strings.Builder
	printStatus(&cli{stdout: &out}, cs)
	for _, want := range []string{" leader ", " follower,rebuilding ", " follower,restoring "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	b, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(b), `"rebuilding":true`); got != 1 {
		t.Errorf("JSON has %d rebuilding replicas, want 1: %s", got, b)
	}
	if got := strings.Count(string(b), `"restoring":true`); got != 1 {
		t.Errorf("JSON has %d restoring replicas, want 1: %s", got, b)
	}
}
