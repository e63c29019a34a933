package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quickstartLines returns the commands of README.md's Quickstart block,
// without comments.
func quickstartLines(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Quickstart.*?```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no sh block under ## Quickstart")
	}
	var lines []string
	for _, l := range strings.Split(string(m[1]), "\n") {
		l = strings.TrimSpace(regexp.MustCompile(`\s+#\s.*$`).ReplaceAllString(l, ""))
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

// proc is a background process started from a README line.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// TestQuickstart runs the README quickstart exactly as written, with the
// built binary standing in for `go run ./cmd/paxlog` (a `go` shim first on
// PATH execs it). Only the ports move, through the documented environment
// variables PAXLOG_PORT (dev) and PAXLOG_ADDR (clients), so the test never
// collides with whatever holds 7001-7003.
func TestQuickstart(t *testing.T) {
	bin := buildBinary(t)
	lines := quickstartLines(t)
	work := t.TempDir()
	shim := filepath.Join(t.TempDir(), "go")
	script := "#!/bin/sh\nif [ \"$1\" = run ] && [ \"$2\" = ./cmd/paxlog ]; then shift 2; exec " + strconv.Quote(bin) +
		" \"$@\"; fi\necho \"unexpected: go $*\" >&2; exit 99\n"
	if err := os.WriteFile(shim, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	base := consecutivePorts(t, 3)
	addrs := strings.Join(devAddrs("127.0.0.1", base, 3), ",")
	env := append(os.Environ(), "PATH="+filepath.Dir(shim)+":"+os.Getenv("PATH"),
		"PAXLOG_PORT="+strconv.Itoa(base), "PAXLOG_ADDR="+addrs)

	var dev *proc
	t.Cleanup(func() {
		if dev != nil {
			dev.cmd.Process.Kill()
			<-dev.done
		}
	})
	var indexes []string
	devRuns, tails := 0, 0
	for _, line := range lines {
		if !strings.HasPrefix(line, "go run ./cmd/paxlog ") && !strings.Contains(line, "| go run ./cmd/paxlog ") {
			t.Fatalf("README quickstart line %q does not run paxlog", line)
		}
		sub := strings.Fields(line[strings.Index(line, "./cmd/paxlog")+len("./cmd/paxlog"):])[0]
		if sub == "dev" {
			if dev != nil {
				stopDev(t, dev)
			}
			dev = startDev(t, line, work, env)
			devRuns++
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "sh", "-c", line)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", line, err, out, stderrOf(err))
		}
		got := strings.TrimSpace(string(out))
		switch sub {
		case "append":
			indexes = strings.Fields(got)
			if len(indexes) != 3 {
				t.Fatalf("%s printed %q, want three indexes", line, got)
			}
			for _, s := range indexes {
				if _, err := strconv.ParseUint(s, 10, 64); err != nil {
					t.Fatalf("%s printed %q: not an index", line, got)
				}
			}
		case "tail":
			want := fmt.Sprintf("%s\tone\n%s\ttwo\n%s\tthree", indexes[0], indexes[1], indexes[2])
			if got != want {
				t.Fatalf("%s (dev run %d) printed\n%s\nwant\n%s", line, devRuns, got, want)
			}
			tails++
		case "status":
			if !regexp.MustCompile(`leader replica [123] at 127\.0\.0\.1:\d+`).MatchString(got) {
				t.Fatalf("%s shows no leader:\n%s", line, got)
			}
		default:
			t.Fatalf("quickstart line %q: the test does not know how to check %q", line, sub)
		}
	}
	if devRuns != 2 || tails != 2 {
		t.Fatalf("quickstart ran dev %d times and tail %d times; want a restart followed by a tail", devRuns, tails)
	}
	stopDev(t, dev)
	dev = nil
}

// startDev starts a dev line in the background and waits for its leader.
func startDev(t *testing.T, line, dir string, env []string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command("sh", "-c", "exec "+line), out: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Dir, p.cmd.Env, p.cmd.Stdout = dir, env, p.out
	var stderr syncBuffer
	p.cmd.Stderr = &stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !regexp.MustCompile(`(?m)^leader: replica \d`).MatchString(p.out.String()) {
		select {
		case err := <-p.done:
			t.Fatalf("%s exited: %v\n%s\n%s", line, err, p.out.String(), stderr.String())
		case <-deadline.C:
			t.Fatalf("%s: no leader printed in 30s\n%s\n%s", line, p.out.String(), stderr.String())
		case <-tick.C:
		}
	}
	return p
}

// stopDev sends SIGTERM and expects a clean exit.
func stopDev(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("dev after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("dev did not exit within 20s of SIGTERM")
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
