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

// recordFunc sees every valid record of a walk with the segment, the byte
// offset and the length of its frame. Its error stops the walk and is
// returned unchanged.
type recordFunc func(s *segment, off, n int, idx uint64, r *rec) error

// tornFunc is called for a torn tail of the last segment (an invalid
// record at off with nothing valid after it). The scan repairs it; a
// read-only walk reports it. Its error stops the walk.
type tornFunc func(s *segment, data []byte, off int, idx uint64) error

const segNameLen = 20

func segmentName(index uint64) string { return fmt.Sprintf("%020d", index) }

// scanWAL validates every record of the WAL in dir before tidwall/wal opens
// it (tidwall has no checksums and fails or panics on damage). It finishes
// an interrupted tidwall TruncateFront (a .START file), removes leftover
// temp files, checks that segments are contiguous, and cuts a torn tail of
// the last segment back to its last valid record. Anything else invalid is
// an error wrapping ErrCorrupt that names the file and offset.
func scanWAL(fsys FS, dir string, logger hclog.Logger, visit visitFunc) (scanResult, error) {
	segs, err := listSegments(fsys, dir)
	if err != nil {
		return scanResult{}, err
	}
	rf := func(s *segment, off, _ int, idx uint64, r *rec) error {
		if visit == nil {
			return nil
		}
		if err := visit(idx, r); err != nil {
			return corruptf(s.path, int64(off), "record %d: %v", idx, err)
		}
		return nil
	}
	torn := func(s *segment, data []byte, off int, idx uint64) error {
		return cutTornTail(fsys, s, data, off, idx, logger)
	}
	return walkWAL(fsys, segs, rf, torn)
}

// walkWAL reads segs in order (one at a time), checks that they are
// contiguous, validates every record and calls visit for each. A torn tail
// of the last segment goes to torn; any other invalid record, and a gap
// between segments, is a *CorruptError naming file and offset. It changes
// nothing on disk itself.
func walkWAL(fsys FS, segs []segment, visit recordFunc, torn tornFunc) (scanResult, error) {
	var res scanResult
	for i := range segs {
		s := &segs[i]
		if i > 0 {
			prev := segs[i-1]
			if want := prev.index + prev.count; s.index != want {
				return res, corruptf(s.path, -1,
					"segment starts at index %d, want %d: a segment is missing or overlaps", s.index, want)
			}
		}
		if err := walkSegment(fsys, s, i == len(segs)-1, visit, torn); err != nil {
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

// segmentFiles lists the WAL directory dir without changing it: its
// segment files in index order, the index of a tidwall .START file (0 when
// there is none) and tidwall .TEMP files. A missing dir is empty.
func segmentFiles(fsys FS, dir string) (segs []segment, start uint64, temps []string, err error) {
	ents, err := fsys.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil, nil
	}
	if err != nil {
		return nil, 0, nil, fmt.Errorf("storage: list %s: %w", dir, err)
	}
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
			temps = append(temps, path)
		case rest == ".END":
			return nil, 0, nil, corruptf(path, -1, "unexpected tidwall END file (storage never truncates the back)")
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].index < segs[j].index })
	return segs, start, temps, nil
}

// listSegments returns the segment files of dir in index order, after
// finishing any interrupted truncation that tidwall/wal left behind and
// removing its temp files (an interrupted truncate's temp file was never
// renamed, so it holds nothing live).
func listSegments(fsys FS, dir string) ([]segment, error) {
	segs, start, temps, err := segmentFiles(fsys, dir)
	if err != nil {
		return nil, err
	}
	for _, path := range temps {
		if err := fsys.Remove(path); err != nil {
			return nil, fmt.Errorf("storage: remove %s: %w", path, err)
		}
	}
	if start != 0 {
		if segs, err = finishTruncate(fsys, dir, segs, start); err != nil {
			return nil, err
		}
	}
	if len(temps) > 0 || start != 0 {
		if err := fsys.SyncDir(dir); err != nil {
			return nil, fmt.Errorf("storage: fsync dir %s: %w", dir, err)
		}
	}
	return segs, nil
}

// afterTruncate is the segment list an interrupted truncation leaves once
// finished: segments at or below start replaced by the START file (at
// path, named for start). finishTruncate makes it so on disk.
func afterTruncate(segs []segment, start uint64, path string) (kept, replaced []segment) {
	kept = []segment{{path: path, index: start}}
	for _, s := range segs {
		if s.index > start {
			kept = append(kept, s)
		} else {
			replaced = append(replaced, s)
		}
	}
	return kept, replaced
}

// finishTruncate does what tidwall/wal's load does with a START file (the
// synced copy of the new first segment written by TruncateFront): remove
// the segments it replaces and rename it into place.
func finishTruncate(fsys FS, dir string, segs []segment, start uint64) ([]segment, error) {
	path := filepath.Join(dir, segmentName(start))
	kept, replaced := afterTruncate(segs, start, path)
	for _, s := range replaced {
		if err := fsys.Remove(s.path); err != nil {
			return nil, fmt.Errorf("storage: remove %s: %w", s.path, err)
		}
	}
	if err := fsys.Rename(path+".START", path); err != nil {
		return nil, fmt.Errorf("storage: rename %s.START: %w", path, err)
	}
	return kept, nil
}

// walkSegment validates the records of one segment and sets its count and
// size. In the last segment a bad record with nothing valid after it is a
// torn tail, handed to torn (which must set count and size if it cuts).
func walkSegment(fsys FS, s *segment, last bool, visit recordFunc, torn tornFunc) error {
	data, err := fsys.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("storage: read %s: %w", s.path, err)
	}
	s.size = int64(len(data))
	off := 0
	idx := s.index
	for off < len(data) {
		n, r, ok := parseFrame(data, off, idx)
		if !ok {
			s.count = idx - s.index
			if err := badRecord(s, data, off, idx, last); err != nil {
				return err
			}
			return torn(s, data, off, idx)
		}
		if err := visit(s, off, n, idx, &r); err != nil {
			return err
		}
		off += n
		idx++
	}
	s.count = idx - s.index
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

// badRecord returns corruption for an invalid record at off, unless it is
// a torn tail: in the last segment with no valid record after it.
func badRecord(s *segment, data []byte, off int, idx uint64, last bool) error {
	if !last {
		return corruptf(s.path, int64(off), "invalid record %d in a segment that is not the last", idx)
	}
	if p, ok := validAfter(data, off, idx); ok {
		return corruptf(s.path, int64(off), "invalid record %d followed by a valid record at offset %d", idx, p)
	}
	return nil
}

// cutTornTail cuts the torn tail at off, keeping the cut bytes in a
// .torn-<unixnano> copy, and fsyncs the file and its directory.
func cutTornTail(fsys FS, s *segment, data []byte, off int, idx uint64, logger hclog.Logger) error {
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
