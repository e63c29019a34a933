package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paxlog/paxlog/paxos"
	"github.com/paxlog/paxlog/storage"
)

// dumpLine is what the tests read back from one dump-wal line.
type dumpLine struct {
	File      string `json:"file"`
	Offset    int64  `json:"offset"`
	Length    int64  `json:"length"`
	Kind      string `json:"kind"`
	Index     uint64 `json:"index"`
	Ballot    string `json:"ballot"`
	Slots     []uint64
	Cluster   string `json:"cluster"`
	Node      uint64 `json:"node"`
	Gen, Base uint64
	Records   int    `json:"records"`
	TornTails int    `json:"torn_tails"`
	Checksums string `json:"checksums"`
	Groups    []struct {
		Kind   string   `json:"kind"`
		Ballot string   `json:"ballot"`
		Slots  []uint64 `json:"slots"`
	} `json:"groups"`
	Entries []struct {
		Slot       uint64  `json:"slot"`
		Ballot     string  `json:"ballot"`
		Kind       string  `json:"kind"`
		Client     uint64  `json:"client"`
		Seq        uint64  `json:"seq"`
		Data       *string `json:"data"`
		DataBase64 []byte  `json:"data_base64"`
	} `json:"entries"`
}

// parseDump decodes every line of a dump and checks the layout common to
// all dumps: one JSON object per line, records of one file in order and
// back to back (each starts where the previous one ended), a summary last
// counting the records.
func parseDump(t *testing.T, out string) []dumpLine {
	t.Helper()
	var lines []dumpLine
	end := map[string]int64{}
	for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
		var l dumpLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("not JSON: %q: %v", s, err)
		}
		if l.Kind != "summary" {
			if l.Offset != end[l.File] {
				t.Errorf("record at %s offset %d, previous one ended at %d", l.File, l.Offset, end[l.File])
			}
			end[l.File] = l.Offset + l.Length
		}
		lines = append(lines, l)
	}
	sum := lines[len(lines)-1]
	if sum.Kind != "summary" || sum.Checksums != "ok" || sum.Records != len(lines)-1 {
		t.Fatalf("last line %+v, want a summary of %d records\n%s", sum, len(lines)-1, out)
	}
	return lines
}

// TestDumpWal dumps a replica's directory after appends: one line per
// record (identity, chosen.meta, each journal batch, each chosen entry),
// the appended entries decoded in the chosen log and in the journal's
// accept groups; the directory is not modified.
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
	lines := parseDump(t, out)
	if id := lines[0]; id.Kind != "identity" || id.Cluster != defaultCluster || id.File != filepath.Join(dir, "identity") {
		t.Errorf("first line %+v, want the identity", id)
	}
	kinds := map[string]int{}
	var chosen, accepted []string
	for _, l := range lines {
		kinds[l.Kind]++
		inJournal := strings.HasPrefix(l.File, filepath.Join(dir, "journal")+string(filepath.Separator))
		if l.Kind == "batch" && (!inJournal || l.Index == 0 || len(l.Groups) == 0) {
			t.Errorf("batch line %+v", l)
		}
		for _, e := range l.Entries {
			if e.Kind != "user" || e.Data == nil {
				continue
			}
			switch l.Kind {
			case "chosen":
				chosen = append(chosen, *e.Data)
				if len(l.Slots) != 1 || l.Slots[0] != e.Slot || e.Client == 0 || e.Seq == 0 {
					t.Errorf("chosen line %+v", l)
				}
			case "batch":
				accepted = append(accepted, *e.Data)
			}
		}
	}
	if strings.Join(chosen, ",") != "alpha,beta" || strings.Join(accepted, ",") != "alpha,beta" ||
		kinds["identity"] != 1 || kinds["meta"] != 1 || kinds["batch"] == 0 {
		t.Errorf("dump: kinds %v, chosen data %v, accepted data %v\n%s", kinds, chosen, accepted, out)
	}
	if after := treeSnapshot(t, dir); after != before {
		t.Errorf("dump-wal modified %s:\nbefore %s\nafter  %s", dir, before, after)
	}
	if code, _, stderr := runCLI(t, nil, "dump-wal", t.TempDir()); code != exitFailure || !strings.Contains(stderr, "no identity file") {
		t.Errorf("dump-wal of an empty dir: exit %d %s", code, stderr)
	}
}

// TestDumpWalRecords dumps a store written directly: each batch with its
// groups, ballots and slots, printable data as text and other data as
// base64, then a torn tail (exit 0, nothing cut) and a flipped byte (exit
// 5 naming the segment and the record's offset).
func TestDumpWalRecords(t *testing.T) {
	dir := t.TempDir()
	st, err := storage.Open(storage.Options{Dir: dir, ClusterID: "c", NodeID: 2})
	if err != nil {
		t.Fatal(err)
	}
	b1, b2 := paxos.Ballot{Round: 1, Node: 2}, paxos.Ballot{Round: 3, Node: 1}
	batches := [][]paxos.Record{
		{{Kind: paxos.RecordPromise, Ballot: b1}},
		{{Kind: paxos.RecordPromise, Ballot: b2}, {Kind: paxos.RecordAccept, Ballot: b2, Entries: []paxos.Entry{
			{Slot: 1, Ballot: b2, Data: []byte("hello")},
			{Slot: 2, Ballot: b2, Data: []byte{0xff, 0x00, 0x01}},
		}}},
	}
	for _, b := range batches {
		if err := st.Persist(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, nil, "dump-wal", dir)
	if code != exitOK {
		t.Fatalf("dump-wal: exit %d %s", code, stderr)
	}
	lines := parseDump(t, out)
	seg := filepath.Join(dir, "journal", fmt.Sprintf("%020d", 1))
	var got []string
	for _, l := range lines {
		if l.Kind != "batch" {
			continue
		}
		if l.File != seg {
			t.Errorf("batch in %s, want %s", l.File, seg)
		}
		s := fmt.Sprintf("#%d@%d", l.Index, l.Offset)
		for _, g := range l.Groups {
			s += fmt.Sprintf(" %s %s %v", g.Kind, g.Ballot, g.Slots)
		}
		for _, e := range l.Entries {
			if e.Data != nil {
				s += fmt.Sprintf(" %d@%s %q", e.Slot, e.Ballot, *e.Data)
			} else {
				s += fmt.Sprintf(" %d@%s %x", e.Slot, e.Ballot, e.DataBase64)
			}
		}
		got = append(got, s)
	}
	want := []string{"#1@0 promise 1.2 []", fmt.Sprintf(`#2@%d promise 3.1 [] accept 3.1 [1 2] 1@3.1 "hello" 2@3.1 ff0001`, lines[3].Offset)}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || lines[3].Offset == 0 {
		t.Errorf("batches:\n%s\nwant:\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}

	// A torn tail: half of the last record appended again.
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	last := data[lines[3].Offset:]
	if err := os.WriteFile(seg, append(data, last[:len(last)/2]...), 0o640); err != nil {
		t.Fatal(err)
	}
	before := treeSnapshot(t, dir)
	code, out, stderr = runCLI(t, nil, "dump-wal", dir)
	if code != exitOK {
		t.Fatalf("dump-wal of a torn tail: exit %d %s", code, stderr)
	}
	lines = parseDump(t, out)
	torn := lines[len(lines)-2]
	if torn.Kind != "torn-tail" || torn.File != seg || torn.Offset != int64(len(data)) || torn.Length != int64(len(last)/2) ||
		lines[len(lines)-1].TornTails != 1 {
		t.Errorf("torn tail line %+v, want %s offset %d length %d", torn, seg, len(data), len(last)/2)
	}
	if after := treeSnapshot(t, dir); after != before {
		t.Errorf("dump-wal modified %s:\nbefore %s\nafter  %s", dir, before, after)
	}

	// Corruption: the first record is damaged and valid records follow.
	flipByte(t, seg, 20)
	code, _, stderr = runCLI(t, nil, "dump-wal", dir)
	if last := lastLine(stderr); code != exitCorrupt || !strings.Contains(last, seg+" at offset 0") {
		t.Errorf("dump-wal of a corrupted journal: exit %d, error %q", code, last)
	}
}

// treeSnapshot lists every file of dir with its size, mtime and contents.
func treeSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d", p, fi.ModTime(), fi.Size())
		if !fi.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", data)
		}
		b.WriteString(";")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
