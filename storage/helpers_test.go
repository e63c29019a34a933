package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/paxlog/paxlog/paxos"
)

var errInjected = errors.New("injected fault")

// faultFS wraps the OS file system. It remembers the size of every file at
// its last successful fsync through the seam, can fail writes and fsyncs
// of chosen paths, can block fsyncs, and can simulate a crash that loses
// every unsynced write (crash). A failed fsync drops the file's unsynced
// data, as Linux does when writeback fails.
type faultFS struct {
	OSFS
	mu        sync.Mutex
	synced    map[string]int64
	failSync  func(path string) bool
	failWrite func(path string) bool
	block     chan struct{} // when set, Sync waits for it to close
	entered   chan struct{} // a blocked Sync signals here first
	syncs     atomic.Int64
}

func newFaultFS() *faultFS {
	return &faultFS{synced: make(map[string]int64), entered: make(chan struct{}, 1)}
}

type faultFile struct {
	File
	fs   *faultFS
	path string
}

func (f *faultFS) shouldFail(fn func(string) bool, path string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fn != nil && fn(path)
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, path: name}, nil
}

func (f *faultFS) BeforeWrite(name string, n int) error {
	if f.shouldFail(f.failWrite, name) {
		return errInjected
	}
	return nil
}

func (ff *faultFile) Write(p []byte) (int, error) {
	if ff.fs.shouldFail(ff.fs.failWrite, ff.path) {
		return 0, errInjected
	}
	return ff.File.Write(p)
}

func (ff *faultFile) Sync() error {
	f := ff.fs
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case f.entered <- struct{}{}:
		default:
		}
		<-block
	}
	if f.shouldFail(f.failSync, ff.path) {
		f.mu.Lock()
		size, ok := f.synced[ff.path]
		f.mu.Unlock()
		if ok {
			os.Truncate(ff.path, size)
		}
		return errInjected
	}
	if err := ff.File.Sync(); err != nil {
		return err
	}
	f.syncs.Add(1)
	info, err := ff.Stat()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.synced[ff.path] = info.Size()
	f.mu.Unlock()
	return nil
}

func (f *faultFS) SyncDir(name string) error {
	if f.shouldFail(f.failSync, name) {
		return errInjected
	}
	return f.OSFS.SyncDir(name)
}

// crash simulates a power loss under root: every file the seam saw synced
// is cut back to its synced size, and a segment file never synced through
// the seam loses all its content. Writes after the last fsync are lost.
func (f *faultFS) crash(t testing.TB, root string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	err := filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		size, ok := f.synced[path]
		if !ok {
			if _, seg := parseSegName(info.Name()); !seg {
				return nil
			}
		}
		if info.Size() > size {
			return os.Truncate(path, size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testOpts(dir string) Options {
	return Options{Dir: dir, ClusterID: "test-cluster", NodeID: 1}
}

func mustOpen(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatalf("open %s: %v", o.Dir, err)
	}
	return s
}

func mustClose(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func ballot(round uint64) paxos.Ballot { return paxos.Ballot{Round: round, Node: 1} }

// payload is deterministic data for (round, slot) of varying length.
func payload(round, slot uint64) []byte {
	n := int(8 + (slot*7+round)%40)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(round*31 + slot*17 + uint64(i))
	}
	return b
}

func acceptRec(round uint64, slots ...uint64) paxos.Record {
	r := paxos.Record{Kind: paxos.RecordAccept, Ballot: ballot(round)}
	for _, s := range slots {
		r.Entries = append(r.Entries, paxos.Entry{Slot: s, Ballot: ballot(round), Data: payload(round, s)})
	}
	return r
}

func chosenEntry(round, slot uint64) paxos.Entry {
	return paxos.Entry{Slot: slot, Ballot: ballot(round), Data: payload(round, slot)}
}

func sameEntry(a, b paxos.Entry) bool {
	return a.Slot == b.Slot && a.Ballot == b.Ballot && a.Noop == b.Noop && bytes.Equal(a.Data, b.Data)
}

func sameEntries(a, b []paxos.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameEntry(a[i], b[i]) {
			return false
		}
	}
	return true
}

func fmtEntries(es []paxos.Entry) string {
	var b bytes.Buffer
	for _, e := range es {
		fmt.Fprintf(&b, "[%d@%s %dB] ", e.Slot, e.Ballot, len(e.Data))
	}
	return b.String()
}

// copyDir copies a data directory tree (small test stores only).
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		in, err := os.Open(path)
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
	if err != nil {
		t.Fatal(err)
	}
}

// segFiles lists the segment files of a WAL directory in order.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, ok := parseSegName(e.Name()); ok {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// frames returns the [start, end) offsets of every tidwall frame in a
// segment file.
func frames(t testing.TB, path string) [][2]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]int
	for off := 0; off < len(data); {
		size, n := uvarint(data[off:])
		end := off + n + int(size)
		out = append(out, [2]int{off, end})
		off = end
	}
	return out
}

func uvarint(b []byte) (uint64, int) {
	var x uint64
	for i, c := range b {
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
	return 0, 0
}

// logBuffer is an hclog logger writing into a buffer.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: l, Level: hclog.Debug})
}
