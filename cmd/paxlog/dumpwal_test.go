package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDumpWal dumps a replica's directory after appends: identity, acceptor
// state, every appended entry decoded, a summary; the directory is not
// modified.
func TestDumpWal(t *testing.T) {
	tc := startTestCluster(t, 3, "", false)
	if code, _, stderr := runCLI(t, nil, "append", "--addr", tc.addrFlag(), "alpha", "beta"); code != exitOK {
		t.Fatalf("append: %d %s", code, stderr)
	}
	dir := ""
	for i, r := range tc.rs {
		if _, self := r.node.Leader(); self {
			dir = tc.dirs[i] // the leader has chosen and applied both entries
		}
	}
	tc.stop()
	if dir == "" {
		t.Fatal("no leader")
	}
	before := treeSnapshot(t, dir)
	code, out, stderr := runCLI(t, nil, "dump-wal", dir)
	if code != exitOK {
		t.Fatalf("dump-wal: exit %d %s", code, stderr)
	}
	types := map[string]int{}
	var data []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		typ, _ := rec["type"].(string)
		types[typ]++
		if typ == "chosen" && rec["kind"] == "append" {
			data = append(data, rec["data"].(string))
		}
		if typ == "identity" && (rec["cluster"] != defaultCluster || rec["file"] != filepath.Join(dir, "identity")) {
			t.Errorf("identity line %s", line)
		}
		if typ == "summary" && rec["checksums"] != "ok" {
			t.Errorf("summary line %s", line)
		}
	}
	if strings.Join(data, ",") != "alpha,beta" || types["identity"] != 1 || types["acceptor"] != 1 || types["summary"] != 1 {
		t.Errorf("dump: types %v, appended data %v\n%s", types, data, out)
	}
	if after := treeSnapshot(t, dir); after != before {
		t.Errorf("dump-wal modified %s:\nbefore %s\nafter  %s", dir, before, after)
	}
	if code, _, stderr := runCLI(t, nil, "dump-wal", t.TempDir()); code != exitFailure || !strings.Contains(stderr, "no identity file") {
		t.Errorf("dump-wal of an empty dir: exit %d %s", code, stderr)
	}
}

// treeSnapshot lists every file of dir with its size and mtime.
func treeSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + fi.ModTime().String() + " " + strconv.FormatInt(fi.Size(), 10) + ";")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
