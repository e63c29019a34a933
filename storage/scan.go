package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// segment is one tidwall/wal segment file: its name is the WAL index of its
// first entry, zero-padded to 20 digits.
type segment struct {
	path  string
	index uint64 // WAL index of the first entry
	count uint64 // valid entries found by the scan
	size  int64  // bytes after any repair
}

// scanResult is what the scan learned about one WAL directory.
type scanResult struct {
	segs        []segment
	first, last uint64 // WAL indexes; last == first-1 when empty
	bytes       int64  // total bytes of all segments
}

// visitFunc sees every valid record in WAL order. Entry data in r aliases a
// buffer that is reused: copy what must outlive the call. An error stops
// the scan; it is wrapped as corruption at that record.
type visitFunc func(idx uint64, r *rec) error

const segNameLen = 20

func segmentName(index uint64) string { return fmt.Sprintf("%020d", index) }

// scanWAL validates every record of the WAL in dir before tidwall/wal opens
// it (tidwall has no checksums and fails or panics on damage). It finishes
// an interrupted tidwall TruncateFront (a .START file), removes leftover
// temp files, checks that segments are contiguous, and cuts a torn tail of
// the last segment back to its last valid record. Anything else invalid is
// an error wrapping ErrCorrupt that names the file and offset.
func scanWAL(fsys FS, dir string, logger hclog.Logger, visit visitFunc) (scanResult, error) {
	var res scanResult
	segs, err := listSegments(fsys, dir)
	if err != nil {
		return res, err
	}
	for i := range segs {
		s := &segs[i]
		if i > 0 {
			prev := segs[i-1]
			if want := prev.index + prev.count; s.index != want {
				return res, corruptf(s.path, -1,
					"segment starts at index %d, want %d: a segment is missing or overlaps", s.index, want)
			}
		}
		if err := scanSegment(fsys, s, i == len(segs)-1, logger, visit); err != nil {
			return res, err
		}
		res.bytes += s.size
	}
	res.segs = segs
	if len(segs) > 0 {
		res.first = segs[0].index
		lastSeg := segs[len(segs)-1]
		res.last = lastSeg.index + lastSeg.count - 1
	}
	return res, nil
}

// listSegments returns the segment files of dir in index order, after
// finishing any interrupted truncation that tidwall/wal left behind.
func listSegments(fsys FS, dir string) ([]segment, error) {
	ents, err := fsys.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: list %s: %w", dir, err)
	}
	var segs []segment
	start := uint64(0)
	changed := false
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || len(name) < segNameLen {
			continue
		}
		index, err := strconv.ParseUint(name[:segNameLen], 10, 64)
		if err != nil || index == 0 {
			continue
		}
		rest := name[segNameLen:]
		path := filepath.Join(dir, name)
		switch {
		case rest == "":
			segs = append(segs, segment{path: path, index: index})
		case rest == ".START":
			start = index
		case strings.HasSuffix(rest, ".TEMP"):
			// tidwall's temp file of an interrupted truncate; its
			// rename never happened, so it holds nothing live.
			if err := fsys.Remove(path); err != nil {
				return nil, fmt.Errorf("storage: remove %s: %w", path, err)
			}
			changed = true
		case rest == ".END":
			return nil, corruptf(path, -1, "unexpected tidwall END file (storage never truncates the back)")
		}
	}
	if start != 0 {
		if segs, err = finishTruncate(fsys, dir, segs, start); err != nil {
			return nil, err
		}
		changed = true
	}
	if changed {
		if err := fsys.SyncDir(dir); err != nil {
			return nil, fmt.Errorf("storage: fsync dir %s: %w", dir, err)
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].index < segs[j].index })
	return segs, nil
}

// finishTruncate does what tidwall/wal's load does with a START file (the
// synced copy of the new first segment written by TruncateFront): remove
// the segments it replaces and rename it into place.
func finishTruncate(fsys FS, dir string, segs []segment, start uint64) ([]segment, error) {
	var kept []segment
	for _, s := range segs {
		if s.index > start {
			kept = append(kept, s)
			continue
		}
		if err := fsys.Remove(s.path); err != nil {
			return nil, fmt.Errorf("storage: remove %s: %w", s.path, err)
		}
	}
	path := filepath.Join(dir, segmentName(start))
	if err := fsys.Rename(path+".START", path); err != nil {
		return nil, fmt.Errorf("storage: rename %s.START: %w", path, err)
	}
	return append([]segment{{path: path, index: start}}, kept...), nil
}

// scanSegment validates the records of one segment. In the last segment a
// bad record with nothing valid after it is a torn tail and is cut.
func scanSegment(fsys FS, s *segment, last bool, logger hclog.Logger, visit visitFunc) error {
	data, err := fsys.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("storage: read %s: %w", s.path, err)
	}
	off := 0
	idx := s.index
	for off < len(data) {
		n, r, ok := parseFrame(data, off, idx)
		if !ok {
			return badRecord(fsys, s, data, off, idx, last, logger)
		}
		if visit != nil {
			if err := visit(idx, &r); err != nil {
				return corruptf(s.path, int64(off), "record %d: %v", idx, err)
			}
		}
		off += n
		idx++
	}
	s.count = idx - s.index
	s.size = int64(len(data))
	return nil
}

// parseFrame parses tidwall's binary frame (uvarint length + data) at off
// and the record inside it, which must carry sequence number seq.
func parseFrame(data []byte, off int, seq uint64) (int, rec, bool) {
	size, n := binary.Uvarint(data[off:])
	if n <= 0 || size > uint64(len(data)-off-n) {
		return 0, rec{}, false
	}
	end := off + n + int(size)
	r, err := decodeRecord(data[off+n : end])
	if err != nil || r.seq != seq {
		return 0, rec{}, false
	}
	return end - off, r, true
}

// badRecord decides between a torn tail (cut it) and corruption.
func badRecord(fsys FS, s *segment, data []byte, off int, idx uint64, last bool, logger hclog.Logger) error {
	if !last {
		return corruptf(s.path, int64(off), "invalid record %d in a segment that is not the last", idx)
	}
	if p, ok := validAfter(data, off, idx); ok {
		return corruptf(s.path, int64(off), "invalid record %d followed by a valid record at offset %d", idx, p)
	}
	torn := fmt.Sprintf("%s.torn-%d", s.path, time.Now().UnixNano())
	if err := writeFileSynced(fsys, torn, data[off:]); err != nil {
		return fmt.Errorf("storage: keep torn tail of %s: %w", s.path, err)
	}
	if err := fsys.Truncate(s.path, int64(off)); err != nil {
		return fmt.Errorf("storage: cut torn tail of %s: %w", s.path, err)
	}
	if err := syncPath(fsys, s.path); err != nil {
		return err
	}
	if err := fsys.SyncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("storage: fsync dir of %s: %w", s.path, err)
	}
	logger.Warn("cut torn tail of the last segment", "file", s.path, "offset", off,
		"bytes", len(data)-off, "record", idx, "copy", torn)
	s.count = idx - s.index
	s.size = int64(off)
	return nil
}

// validAfter reports whether any valid record starts after off: the
// signature of damage in the middle of the log rather than a torn write.
// Candidates must carry a sequence number that could follow idx-1.
func validAfter(data []byte, off int, idx uint64) (int, bool) {
	maxSeq := idx + uint64(len(data)-off)/headerSize
	for p := off + 1; p < len(data); p++ {
		size, n := binary.Uvarint(data[p:])
		if n <= 0 || size < headerSize || size > uint64(len(data)-p-n) {
			continue
		}
		b := data[p+n:]
		if b[4] == 0 || b[4] > kindMax {
			continue
		}
		seq := binary.LittleEndian.Uint64(b[5:])
		if seq < idx || seq > maxSeq {
			continue
		}
		if _, err := decodeRecord(b[:size]); err == nil {
			return p, true
		}
	}
	return 0, false
}

// writeFileSynced creates name with data and fsyncs it.
func writeFileSynced(fsys FS, name string, data []byte) error {
	f, err := fsys.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncPath opens path and fsyncs it.
func syncPath(fsys FS, path string) error {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("storage: open %s: %w", path, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("storage: fsync %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic replaces dir/name with data: temp file, fsync, rename,
// directory fsync.
func writeFileAtomic(fsys FS, dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	if err := writeFileSynced(fsys, tmp, data); err != nil {
		return fmt.Errorf("storage: write %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("storage: rename %s: %w", tmp, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("storage: fsync dir %s: %w", dir, err)
	}
	return nil
}
