package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/tidwall/wal"
)

// wlog wraps one tidwall/wal log. tidwall is opened with NoSync; wlog
// fsyncs the tail segment through its own descriptor from the FS seam,
// fsyncs the directory whenever a write made tidwall start a new segment
// (it mirrors tidwall's segment-cycling rule to know when, and checks the
// file size after every write to catch any disagreement), and after
// truncations.
//
// wlog is not safe for concurrent use except read, which may run while
// another goroutine writes (tidwall's own lock orders them) as long as
// reads are serialized with each other (tidwall's Read updates its segment
// cache under a read lock).
type wlog struct {
	fsys    FS
	dir     string
	segSize int64
	noSync  bool
	log     *wal.Log

	segs        []uint64 // first WAL index of each segment file
	tail        File     // our descriptor of the last segment
	tailName    string   // its path (tailPath when it was opened)
	tailBytes   int64    // bytes in the last segment (tidwall's len(ebuf))
	first, last uint64   // WAL indexes; last == first-1 when empty
	bytes       int64    // bytes in all segments
	batch       wal.Batch
	frames      int64 // framed bytes queued in batch
	sizes       []int // data size of each queued entry
}

// openWlog scans and repairs dir, then opens tidwall/wal on it.
func openWlog(fsys FS, dir string, segSize int, noSync bool, logger hclog.Logger, visit visitFunc) (*wlog, error) {
	if err := fsys.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", dir, err)
	}
	res, err := scanWAL(fsys, dir, logger, visit)
	if err != nil {
		return nil, err
	}
	log, err := wal.Open(dir, &wal.Options{
		NoSync: true, SegmentSize: segSize, LogFormat: wal.Binary,
		SegmentCacheSize: 1, AllowEmpty: true, DirPerms: 0o750, FilePerms: 0o640,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: open wal %s after scan: %w", dir, err)
	}
	w := &wlog{fsys: fsys, dir: dir, segSize: int64(segSize), noSync: noSync, log: log}
	if w.first, err = log.FirstIndex(); err == nil {
		w.last, err = log.LastIndex()
	}
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("storage: open wal %s: %w", dir, err)
	}
	if len(res.segs) > 0 && (res.first != w.first || res.last != w.last) {
		log.Close()
		return nil, fmt.Errorf("storage: wal %s: scan found [%d,%d], tidwall [%d,%d]",
			dir, res.first, res.last, w.first, w.last)
	}
	if err := w.reload(); err != nil {
		log.Close()
		return nil, err
	}
	return w, nil
}

// reload re-lists the segment files (after open or a truncation), reopens
// the tail descriptor, and makes the tail file and the directory durable.
func (w *wlog) reload() error {
	ents, err := w.fsys.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("storage: list %s: %w", w.dir, err)
	}
	w.segs, w.bytes = w.segs[:0], 0
	for _, e := range ents {
		if idx, ok := parseSegName(e.Name()); ok {
			info, err := e.Info()
			if err != nil {
				return fmt.Errorf("storage: stat %s: %w", e.Name(), err)
			}
			w.segs = append(w.segs, idx)
			w.bytes += info.Size()
		}
	}
	if len(w.segs) == 0 {
		return fmt.Errorf("storage: %s has no segment after open", w.dir)
	}
	if w.tail != nil {
		w.tail.Close()
		w.tail = nil
	}
	if err := w.openTail(); err != nil {
		return err
	}
	if err := w.syncTail(); err != nil {
		return err
	}
	// A front truncation renames tidwall's synced START copy into place as
	// the first segment; fsync it through the seam as well.
	if len(w.segs) > 1 && !w.noSync {
		if err := syncPath(w.fsys, filepath.Join(w.dir, segmentName(w.segs[0]))); err != nil {
			return err
		}
	}
	return w.syncDir()
}

func parseSegName(name string) (uint64, bool) {
	if len(name) != segNameLen {
		return 0, false
	}
	var idx uint64
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		idx = idx*10 + uint64(c-'0')
	}
	return idx, idx != 0
}

func (w *wlog) tailPath() string {
	return filepath.Join(w.dir, segmentName(w.segs[len(w.segs)-1]))
}

func (w *wlog) openTail() error {
	w.tailName = w.tailPath()
	f, err := w.fsys.OpenFile(w.tailName, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("storage: open tail segment: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("storage: stat tail segment: %w", err)
	}
	w.tail, w.tailBytes = f, info.Size()
	return nil
}

// add queues one entry with the next WAL index.
func (w *wlog) add(data []byte) {
	w.batch.Write(w.last+uint64(len(w.sizes))+1, data)
	w.sizes = append(w.sizes, len(data))
}

// write appends the queued entries with one tidwall WriteBatch (no fsync
// unless a new segment was started). Any error must poison the store.
func (w *wlog) write() error {
	if len(w.sizes) == 0 {
		return nil
	}
	cycles, tailBytes, total := w.predict()
	if err := w.fsys.BeforeWrite(w.tailName, int(total)); err != nil {
		return fmt.Errorf("storage: write %s: %w", w.tailName, err)
	}
	if err := w.log.WriteBatch(&w.batch); err != nil {
		return fmt.Errorf("storage: write %s: %w", w.tailName, err)
	}
	w.last += uint64(len(w.sizes))
	w.sizes = w.sizes[:0]
	w.bytes += total
	if len(cycles) > 0 {
		if err := w.cycled(cycles); err != nil {
			return err
		}
	}
	w.tailBytes = tailBytes
	info, err := w.tail.Stat()
	if err != nil {
		return fmt.Errorf("storage: stat %s: %w", w.tail.Name(), err)
	}
	if info.Size() != tailBytes {
		return fmt.Errorf("storage: %s holds %d bytes after write, want %d (segment cycling out of step with tidwall)",
			w.tail.Name(), info.Size(), tailBytes)
	}
	return nil
}

// predict mirrors tidwall's writeBatch: a full tail (> segSize) is cycled
// before the batch, and the segment is cycled right after the entry that
// makes it reach segSize. It returns the first index of each new segment.
func (w *wlog) predict() (cycles []uint64, tailBytes, total int64) {
	tailBytes = w.tailBytes
	if tailBytes > w.segSize {
		cycles = append(cycles, w.last+1)
		tailBytes = 0
	}
	for i, sz := range w.sizes {
		n := int64(uvarintLen(uint64(sz)) + sz)
		total += n
		tailBytes += n
		if tailBytes >= w.segSize {
			cycles = append(cycles, w.last+uint64(i)+2)
			tailBytes = 0
		}
	}
	return cycles, tailBytes, total
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// cycled handles new segments: every finished segment is fsynced through
// the seam (tidwall synced it too, on its own descriptor), the new tail is
// opened, and the directory is fsynced so the new files survive a crash.
func (w *wlog) cycled(cycles []uint64) error {
	if err := w.syncTail(); err != nil {
		return err
	}
	w.tail.Close()
	w.tail = nil
	for i, idx := range cycles {
		w.segs = append(w.segs, idx)
		if i < len(cycles)-1 {
			if err := syncPath(w.fsys, w.tailPath()); err != nil {
				return err
			}
		}
	}
	if err := w.openTail(); err != nil {
		return err
	}
	return w.syncDir()
}

// sync makes everything written so far durable.
func (w *wlog) sync() error { return w.syncTail() }

func (w *wlog) syncTail() error {
	if w.noSync {
		return nil
	}
	if err := w.tail.Sync(); err != nil {
		return fmt.Errorf("storage: fsync %s: %w", w.tail.Name(), err)
	}
	return nil
}

func (w *wlog) syncDir() error {
	if w.noSync {
		return nil
	}
	if err := w.fsys.SyncDir(w.dir); err != nil {
		return fmt.Errorf("storage: fsync dir %s: %w", w.dir, err)
	}
	return nil
}

// truncateFront drops WAL indexes below idx (idx may be last+1).
func (w *wlog) truncateFront(idx uint64) error {
	if idx <= w.first {
		return nil
	}
	if err := w.log.TruncateFront(idx); err != nil {
		return fmt.Errorf("storage: truncate %s before %d: %w", w.dir, idx, err)
	}
	w.first = idx
	return w.reload()
}

// read returns the entry at WAL index idx (tidwall copies it).
func (w *wlog) read(idx uint64) ([]byte, error) { return w.log.Read(idx) }

// close syncs and closes. After a failure (poisoned) it only releases our
// own descriptor: tidwall's Close would fsync again, and a failed fsync is
// never retried; its descriptor is left to the process exit.
func (w *wlog) close(poisoned bool) error {
	var err error
	if !poisoned {
		err = w.syncTail()
	}
	if w.tail != nil {
		w.tail.Close()
		w.tail = nil
	}
	if poisoned || err != nil {
		return err
	}
	if cerr := w.log.Close(); cerr != nil && !errors.Is(cerr, wal.ErrClosed) {
		return fmt.Errorf("storage: close %s: %w", w.dir, cerr)
	}
	return nil
}
