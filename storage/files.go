package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
)

// Small files of the data directory. Each holds exactly one record and is
// replaced atomically (temp file, fsync, rename, directory fsync).
const (
	identityFile   = "identity"
	chosenMetaFile = "chosen.meta"
	checkpointFile = "checkpoint"
	journalDir     = "journal"
	chosenPrefix   = "chosen."
)

func chosenDirName(gen uint64) string { return fmt.Sprintf("%s%d", chosenPrefix, gen) }

// readRecordFile reads a one-record file. ok is false when it does not
// exist; a damaged file is ErrCorrupt naming it.
func readRecordFile(fsys FS, path string, kind byte) (r rec, ok bool, err error) {
	data, err := fsys.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("storage: read %s: %w", path, err)
	}
	r, err = decodeRecord(data)
	if err != nil || r.kind != kind {
		return r, false, corruptf(path, 0, "not a valid record of kind %d", kind)
	}
	return r, true, nil
}

// checkIdentity compares Dir/identity with the options, or writes it for a
// new data directory, marked rebuilding (see Store.Rebuilding). It returns
// the rebuilding flag. A directory that holds a journal but no identity
// file is refused: it cannot be told apart from another node's.
func checkIdentity(fsys FS, o *Options) (rebuilding bool, err error) {
	path := filepath.Join(o.Dir, identityFile)
	r, ok, err := readRecordFile(fsys, path, kindIdentity)
	if err != nil {
		return false, err
	}
	if ok {
		if string(r.data) != o.ClusterID || r.a != o.NodeID {
			return false, fmt.Errorf("%w: %s belongs to cluster %q node %d, not cluster %q node %d",
				ErrIdentity, o.Dir, r.data, r.a, o.ClusterID, o.NodeID)
		}
		return r.seq&identityRebuilding != 0, nil
	}
	if segs, err := listSegments(fsys, filepath.Join(o.Dir, journalDir)); err != nil || len(segs) > 0 {
		if err != nil {
			return false, err
		}
		return false, fmt.Errorf("%w: %s holds a journal but no identity file (want cluster %q node %d)",
			ErrIdentity, o.Dir, o.ClusterID, o.NodeID)
	}
	data := encodeIdentityFlags(o.ClusterID, o.NodeID, identityRebuilding)
	return true, writeFileAtomic(fsys, o.Dir, identityFile, data)
}

// chosenMeta says which directory holds the chosen log and at which slot
// its WAL index 1 sits.
type chosenMeta struct{ gen, base uint64 }

func readChosenMeta(fsys FS, dir string) (chosenMeta, bool, error) {
	r, ok, err := readRecordFile(fsys, filepath.Join(dir, chosenMetaFile), kindChosenMeta)
	if err != nil || !ok {
		return chosenMeta{}, ok, err
	}
	if r.a == 0 || r.b == 0 {
		return chosenMeta{}, false, corruptf(filepath.Join(dir, chosenMetaFile), 0, "gen %d base %d", r.a, r.b)
	}
	return chosenMeta{gen: r.a, base: r.b}, true, nil
}

func writeChosenMeta(fsys FS, dir string, m chosenMeta) error {
	return writeFileAtomic(fsys, dir, chosenMetaFile, encodeChosenMeta(m.gen, m.base))
}

// removeStaleChosen removes chosen.<gen> directories other than the live
// one: leftovers of a ResetChosen interrupted before or after its meta
// file was replaced.
func removeStaleChosen(fsys FS, dir string, live uint64) error {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("storage: list %s: %w", dir, err)
	}
	keep := chosenDirName(live)
	removed := false
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() && len(name) > len(chosenPrefix) && name[:len(chosenPrefix)] == chosenPrefix && name != keep {
			if err := fsys.RemoveAll(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("storage: remove stale %s: %w", name, err)
			}
			removed = true
		}
	}
	if removed {
		return fsys.SyncDir(dir)
	}
	return nil
}

// blob is the log layer's opaque checkpoint.
type blob struct {
	slot uint64
	data []byte
}

func readBlob(fsys FS, dir string) (*blob, error) {
	r, ok, err := readRecordFile(fsys, filepath.Join(dir, checkpointFile), kindBlob)
	if err != nil || !ok {
		return &blob{}, err
	}
	return &blob{slot: r.a, data: slices.Clone(r.data)}, nil
}

// SetCheckpoint durably stores an opaque blob with the slot it describes
// (for the log layer, e.g. its dedup table at the trim point), replacing
// the previous one. It returns after the file and directory are fsynced.
func (s *Store) SetCheckpoint(slot uint64, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	b := &blob{slot: slot, data: slices.Clone(data)}
	if err := writeFileAtomic(s.fsys, s.opts.Dir, checkpointFile, encodeBlob(slot, data)); err != nil {
		return s.fail("set checkpoint", err)
	}
	s.ckpt.Store(b)
	return nil
}

// Checkpoint returns the last blob stored with SetCheckpoint (slot 0 and
// nil data when none). The data is a copy.
func (s *Store) Checkpoint() (slot uint64, data []byte) {
	b := s.ckpt.Load()
	return b.slot, slices.Clone(b.data)
}
