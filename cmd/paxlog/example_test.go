package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	replog "github.com/paxlog/paxlog/log"
	"github.com/paxlog/paxlog/paxos"
)

// appendAndTail is the README's Go example, verbatim (TestREADMEGoExample
// checks that they match).
//
// README:begin
// appendAndTail appends "hello" to the cluster at addrs and prints the
// log from index 1 up to that entry.
func appendAndTail(ctx context.Context, addrs []string) error {
	c, err := replog.NewClient(replog.ClientConfig{ClusterID: "paxlog", Addrs: addrs})
	if err != nil {
		return err
	}
	defer c.Close()
	last, err := c.Append(ctx, []byte("hello")) // retried with the same identity: never delivered twice
	if err != nil {
		return err
	}
	stream, err := c.Tail(ctx, 1)
	if err != nil {
		return err
	}
	defer stream.Close()
	for index, data := range stream.All() {
		fmt.Println(index, string(data))
		if index == last {
			break
		}
	}
	return stream.Err()
}

// README:end

// Example_appendAndTail runs the README example against a fresh
// three-replica cluster started the way `paxlog dev` starts one.
func Example_appendAndTail() {
	dir, err := os.MkdirTemp("", "paxlog-example-*")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	addrs, stop := exampleCluster(dir)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := appendAndTail(ctx, addrs); err != nil {
		panic(err)
	}
	// Output:
	// 1 hello
}

// exampleCluster starts three replicas on free loopback ports.
func exampleCluster(dir string) ([]string, func()) {
	peers := map[paxos.NodeID]string{}
	var addrs []string
	for i, p := range freePorts(panicTB{}, 3) {
		a := fmt.Sprintf("127.0.0.1:%d", p)
		peers[paxos.NodeID(i+1)], addrs = a, append(addrs, a)
	}
	logger := hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off})
	var rcs []replicaConfig
	for id := range paxos.NodeID(3) {
		rcs = append(rcs, replicaConfig{ID: id + 1, Cluster: "paxlog", Dir: filepath.Join(dir, fmt.Sprint(id+1)), Peers: peers, Logger: logger})
	}
	rs, _, err := startAll(logger, rcs, "")
	if err != nil {
		panic(err)
	}
	return addrs, func() { stopAll(logger, rs, nil) }
}

// panicTB lets freePorts run outside a test.
type panicTB struct{ testing.TB }

func (panicTB) Helper()                      {}
func (panicTB) Fatal(args ...any)            { panic(fmt.Sprint(args...)) }
func (panicTB) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

// TestREADMEGoExample checks that the README's Go example is appendAndTail.
func TestREADMEGoExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## From Go.*?```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no Go block under ## From Go")
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile("(?s)// README:begin\n(.*?)\n// README:end").FindSubmatch(src)
	if body == nil {
		t.Fatal("example_test.go lost its README markers")
	}
	want := normalize(string(body[1]))
	got := normalize(strings.Replace(string(m[1]), `import replog "github.com/paxlog/paxlog/log"`, "", 1))
	if got != want {
		t.Errorf("README Go example differs from appendAndTail in example_test.go:\nREADME:\n%s\nexample_test.go:\n%s", got, want)
	}
}

func normalize(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}
