package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/pflag"

	replog "github.com/paxlog/paxlog/log"
	"github.com/paxlog/paxlog/paxos"
	"github.com/paxlog/paxlog/storage"
)

// dumpCmd prints every record of a data directory as one JSON line, in
// file order (storage.Inspect): the identity, chosen.meta and checkpoint
// files, each journal record, each chosen log record, then a summary.
// Inspect verifies every record's CRC and never writes: DIR is only read
// and its LOCK is not taken, so dump a stopped replica (a running one's
// files change while they are read). A torn tail is printed as a
// "torn-tail" record (the bytes Open would cut) and is not an error;
// corruption is (exit 5, naming file and offset).
type dumpCmd struct {
	data bool
}

func (d *dumpCmd) flags(fs *pflag.FlagSet) {
	fs.BoolVar(&d.data, "data", true, "include entry payloads")
}

// recordJSON is one dump line; only the fields of its kind are set.
type recordJSON struct {
	File       string      `json:"file"`
	Offset     int64       `json:"offset"`
	Length     int64       `json:"length"` // bytes on disk (tidwall frame included)
	Kind       string      `json:"kind"`
	Index      uint64      `json:"index,omitempty"` // WAL index
	Ballot     string      `json:"ballot,omitempty"`
	Slots      []uint64    `json:"slots,omitempty"`
	Groups     []groupJSON `json:"groups,omitempty"`
	Entries    []entryJSON `json:"entries,omitempty"`
	Cluster    string      `json:"cluster,omitempty"`
	Node       uint64      `json:"node,omitempty"`
	Rebuilding *bool       `json:"rebuilding,omitempty"`
	Gen        uint64      `json:"gen,omitempty"`
	Base       uint64      `json:"base,omitempty"`
	Slot       *uint64     `json:"slot,omitempty"`
	BlobBytes  *int        `json:"blob_bytes,omitempty"`
	Replaced   []string    `json:"replaced,omitempty"`
}

type groupJSON struct {
	Kind   string   `json:"kind"`
	Ballot string   `json:"ballot"`
	Slots  []uint64 `json:"slots,omitempty"`
}

// entryJSON is an entry with its payload decoded by replog.DescribeEntry.
type entryJSON struct {
	Slot       uint64  `json:"slot"`
	Ballot     string  `json:"ballot"`
	Noop       bool    `json:"noop,omitempty"`
	Bytes      int     `json:"bytes"`
	Kind       string  `json:"kind,omitempty"` // user, barrier, trim; empty when not a log entry
	Client     uint64  `json:"client,omitempty"`
	Seq        uint64  `json:"seq,omitempty"`
	NoDedup    bool    `json:"no_dedup,omitempty"`
	Expect     *uint64 `json:"expect,omitempty"`
	Before     uint64  `json:"before,omitempty"`
	Data       *string `json:"data,omitempty"`
	DataBase64 []byte  `json:"data_base64,omitempty"`
}

type summaryJSON struct {
	Kind      string `json:"kind"`
	Dir       string `json:"dir"`
	Records   int    `json:"records"`
	TornTails int    `json:"torn_tails"`
	Checksums string `json:"checksums"`
}

func (d *dumpCmd) run(c *cli, fs *pflag.FlagSet) error {
	if fs.NArg() != 1 {
		return usagef("want exactly one argument, the data directory (got %d)", fs.NArg())
	}
	dir := fs.Arg(0)
	if err := hasIdentity(dir); err != nil {
		return err
	}
	out := json.NewEncoder(c.stdout)
	sum := summaryJSON{Kind: "summary", Dir: dir, Checksums: "ok"}
	err := storage.Inspect(dir, func(it storage.Item) error {
		sum.Records++
		if it.Kind == storage.ItemTornTail {
			sum.TornTails++
		}
		if err := out.Encode(d.record(it)); err != nil {
			return fmt.Errorf("writing the dump: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return out.Encode(sum)
}

// hasIdentity refuses a directory that is not a paxlog data directory
// (Inspect would find nothing there).
func hasIdentity(dir string) error {
	path := filepath.Join(dir, "identity")
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no identity file; is this a paxlog data directory?", path)
	}
	return err
}

// record turns one Inspect item into its dump line.
func (d *dumpCmd) record(it storage.Item) recordJSON {
	r := recordJSON{File: it.File, Offset: it.Offset, Length: it.Len, Kind: it.Kind, Index: it.Index,
		Replaced: it.Replaced}
	switch it.Kind {
	case storage.ItemPromise, storage.ItemAccept, storage.ItemJournalCP:
		r.Ballot = it.Ballot.String()
	case storage.ItemIdentity:
		r.Cluster, r.Node, r.Rebuilding = it.ClusterID, it.NodeID, &it.Rebuilding
	case storage.ItemMeta:
		r.Gen, r.Base = it.Gen, it.Base
	case storage.ItemBlob:
		n := len(it.Data)
		r.Slot, r.BlobBytes = &it.Slot, &n
	}
	for _, g := range it.Groups {
		r.Groups = append(r.Groups, groupJSON{Kind: g.Kind, Ballot: g.Ballot.String(), Slots: slotsOf(g.Entries)})
	}
	r.Slots = slotsOf(it.Entries)
	for _, e := range it.Entries {
		r.Entries = append(r.Entries, d.entry(e))
	}
	return r
}

func slotsOf(es []paxos.Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Slot)
	}
	return out
}

// entry decodes one entry's payload with the replicated log's header
// decoder; data it did not write is shown whole.
func (d *dumpCmd) entry(e paxos.Entry) entryJSON {
	j := entryJSON{Slot: e.Slot, Ballot: e.Ballot.String(), Noop: e.Noop, Bytes: len(e.Data)}
	if e.Noop {
		return j
	}
	payload := e.Data
	if info, err := replog.DescribeEntry(e.Data); err == nil {
		j.Kind, j.Client, j.Seq, j.NoDedup, j.Before = info.Kind, info.ClientID, info.Seq, info.NoDedup, info.TrimBefore
		if info.Conditional {
			j.Expect = &info.ExpectLast
		}
		payload = info.Payload
	}
	if !d.data || len(payload) == 0 {
		return j
	}
	if printable(payload) {
		s := string(payload)
		j.Data = &s
	} else {
		j.DataBase64 = payload
	}
	return j
}

// printable reports whether b is valid UTF-8 made of printable characters
// and ordinary white space.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}
