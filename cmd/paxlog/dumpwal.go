package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"

	"github.com/paxlog/paxlog/paxos"
	"github.com/paxlog/paxlog/storage"
)

// dumpCmd decodes a data directory as JSON lines.
//
// storage has no read-only walk yet (requested in
// /work/notes/storage-requests.md), so dump-wal copies DIR to a temporary
// directory and opens the copy with storage.Open, which validates every
// record's CRC and refuses corruption with its file and offset (a torn
// tail is cut in the copy only, and reported). It prints the identity, the
// live acceptor state (the journal replayed: promised ballot and accepted
// entries above the chosen log) and every entry of the chosen log. DIR is
// never written; its LOCK is not taken, so dump a stopped replica (a running
// one's files change while they are copied).
type dumpCmd struct {
	data bool
}

func (d *dumpCmd) flags(fs *pflag.FlagSet) {
	fs.BoolVar(&d.data, "data", true, "include entry payloads")
}

func (d *dumpCmd) run(c *cli, fs *pflag.FlagSet) error {
	if fs.NArg() != 1 {
		return usagef("want exactly one argument, the data directory (got %d)", fs.NArg())
	}
	dir := fs.Arg(0)
	id, err := readIdentity(filepath.Join(dir, "identity"))
	if err != nil {
		return err
	}
	// A closed stdout (dump-wal DIR | head) must end the dump with an
	// error, not kill the process before it removes its copy.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	tmp, err := os.MkdirTemp("", "paxlog-dump-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(dir, tmp); err != nil {
		return fmt.Errorf("copying %s: %w", dir, err)
	}
	out := json.NewEncoder(c.stdout)
	out.Encode(map[string]any{"type": "identity", "file": filepath.Join(dir, "identity"), "cluster": id.cluster, "node": id.node})
	var warnings bytes.Buffer
	st, err := storage.Open(storage.Options{Dir: tmp, ClusterID: id.cluster, NodeID: id.node,
		Logger: hclog.New(&hclog.LoggerOptions{Output: &warnings, JSONFormat: true, Level: hclog.Warn})})
	for _, line := range strings.Split(strings.TrimSpace(warnings.String()), "\n") {
		if line != "" {
			out.Encode(map[string]any{"type": "warning", "log": json.RawMessage(strings.ReplaceAll(line, tmp, dir))})
		}
	}
	if err != nil {
		return relocate(err, tmp, dir)
	}
	defer st.Close()
	return d.dump(out, st, dir)
}

// dump prints the acceptor state, the checkpoint and the chosen log.
func (d *dumpCmd) dump(out *json.Encoder, st *storage.Store, dir string) error {
	hs := st.HardState()
	out.Encode(map[string]any{"type": "acceptor", "promised": hs.Promised.String(), "first": hs.First,
		"chosen": hs.Chosen, "accepted": len(hs.Accepted)})
	for _, e := range hs.Accepted {
		out.Encode(d.entryJSON("accepted", e))
	}
	if slot, blob := st.Checkpoint(); blob != nil {
		out.Encode(map[string]any{"type": "checkpoint", "slot": slot, "bytes": len(blob)})
	}
	n := 0
	for from := st.FirstIndex(); from <= st.LastIndex(); {
		es, err := st.Entries(from, 4<<20)
		if err != nil {
			return relocate(fmt.Errorf("chosen log at slot %d: %w", from, err), "", dir)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if err := out.Encode(d.entryJSON("chosen", e)); err != nil {
				return fmt.Errorf("writing the dump: %w", err)
			}
		}
		n += len(es)
		from = es[len(es)-1].Slot + 1
	}
	return out.Encode(map[string]any{"type": "summary", "dir": dir, "first": st.FirstIndex(),
		"last": st.LastIndex(), "chosen_entries": n, "checksums": "ok"})
}

func (d *dumpCmd) entryJSON(typ string, e paxos.Entry) map[string]any {
	m := map[string]any{"type": typ, "slot": e.Slot, "ballot": e.Ballot.String(), "bytes": len(e.Data)}
	if e.Noop {
		m["noop"] = true
		return m
	}
	h, payload, ok := describeEntry(e.Data)
	if ok {
		for k, v := range h {
			m[k] = v
		}
	}
	if !d.data {
		return m
	}
	if !ok {
		payload = e.Data
	}
	if utf8.Valid(payload) {
		m["data"] = string(payload)
	} else {
		m["data_base64"] = payload
	}
	return m
}

// describeEntry decodes the replicated log's entry header (layout in
// log/doc.go: kind, flags, client id, seq, [expect], [before], payload).
func describeEntry(data []byte) (map[string]any, []byte, bool) {
	if len(data) < 2 || data[0] < 1 || data[0] > 3 || data[1]&^3 != 0 {
		return nil, nil, false
	}
	kind, flags := data[0], data[1]
	names := []string{"client", "seq"}
	if flags&1 != 0 {
		names = append(names, "expect")
	}
	if kind == 3 {
		names = append(names, "before")
	}
	h := map[string]any{"kind": [...]string{"", "append", "barrier", "trim"}[kind]}
	rest := data[2:]
	for _, name := range names {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return nil, nil, false
		}
		h[name], rest = v, rest[n:]
	}
	return h, rest, true
}

// identity is Dir/identity: kind 5 record (see storage/doc.go).
type identity struct {
	cluster string
	node    uint64
}

// readIdentity decodes and checks Dir/identity: crc32c | kind 5 | seq |
// node u64 | len u32 | cluster, little-endian.
func readIdentity(path string) (identity, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return identity{}, fmt.Errorf("%s: no identity file; is this a paxlog data directory?", path)
	}
	if err != nil {
		return identity{}, err
	}
	bad := func(why string) error {
		return fmt.Errorf("%w", &storage.CorruptError{File: path, Offset: 0, Reason: why})
	}
	if len(b) < 4+1+8+8+4 {
		return identity{}, bad(fmt.Sprintf("identity record of %d bytes is short", len(b)))
	}
	if crc32.Checksum(b[4:], crc32.MakeTable(crc32.Castagnoli)) != binary.LittleEndian.Uint32(b) {
		return identity{}, bad("identity checksum mismatch")
	}
	if b[4] != 5 {
		return identity{}, bad(fmt.Sprintf("record kind %d, want 5 (identity)", b[4]))
	}
	node := binary.LittleEndian.Uint64(b[13:])
	n := binary.LittleEndian.Uint32(b[21:])
	if int(n) != len(b)-25 {
		return identity{}, bad("identity cluster length does not match the record")
	}
	return identity{cluster: string(b[25:]), node: node}, nil
}

// copyTree copies the regular files of src into dst, skipping the .torn-*
// copies storage keeps of cut tails.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || strings.Contains(d.Name(), ".torn-") {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// relocate rewrites paths of the temporary copy in err to the original dir,
// keeping errors.Is(err, storage.ErrCorrupt).
func relocate(err error, tmp, dir string) error {
	var ce *storage.CorruptError
	if tmp != "" && errors.As(err, &ce) {
		fixed := *ce
		fixed.File = strings.Replace(ce.File, tmp, dir, 1)
		return fmt.Errorf("%s: %w", dir, &fixed)
	}
	if tmp != "" {
		return errors.New(strings.ReplaceAll(err.Error(), tmp, dir))
	}
	return err
}
