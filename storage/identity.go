package storage

import "encoding/binary"

// The identity file's record header carries flags in its seq field (the
// small files have no sequence of their own; directories written before
// flags existed hold 0 there).
const (
	// identityRebuilding marks a data directory that Open created empty
	// and whose replica has not yet re-learned the chosen log from its
	// peers (paxos.Config.Rebuilding). Only MarkRebuilt clears it.
	identityRebuilding uint64 = 1 << 0
)

// encodeIdentityFlags is the identity record with flags in its seq field.
func encodeIdentityFlags(cluster string, node, flags uint64) []byte {
	dst, start := beginRecord(nil, kindIdentity, flags)
	dst = binary.LittleEndian.AppendUint64(dst, node)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(cluster)))
	return endRecord(append(dst, cluster...), start)
}

// Rebuilding reports whether this data directory was created empty by Open
// (a new replica, or one whose directory was lost) and MarkRebuilt has not
// been called since: the replica must not vote until it has re-learned the
// chosen log from its peers. Pass it as paxos.Config.Rebuilding. Safe for
// concurrent use.
func (s *Store) Rebuilding() bool { return s.rebuilding.Load() }

// MarkRebuilt durably clears the rebuilding flag: the identity file is
// rewritten atomically (temp file, fsync, rename, directory fsync). Call it
// when a paxos Ready says Rebuilt, after that Ready's records are persisted
// and its chosen entries synced (Sync), before Advance. A failure poisons
// the store. It does nothing when the flag is already clear.
func (s *Store) MarkRebuilt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if !s.rebuilding.Load() {
		return nil
	}
	data := encodeIdentityFlags(s.opts.ClusterID, s.opts.NodeID, 0)
	if err := writeFileAtomic(s.fsys, s.opts.Dir, identityFile, data); err != nil {
		return s.fail("mark rebuilt", err)
	}
	s.rebuilding.Store(false)
	s.log.Info("rebuilt: the replica votes again", "dir", s.opts.Dir)
	return nil
}
