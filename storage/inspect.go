package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/paxlog/paxlog/paxos"
)

// Item kinds reported by Inspect.
const (
	ItemIdentity   = "identity"              // Dir/identity
	ItemMeta       = "meta"                  // Dir/chosen.meta
	ItemBlob       = "checkpoint-blob"       // Dir/checkpoint
	ItemPromise    = "promise"               // journal, written by earlier versions
	ItemAccept     = "accept"                // journal, written by earlier versions
	ItemBatch      = "batch"                 // journal: one Persist call
	ItemJournalCP  = "journal-checkpoint"    // journal: live acceptor state after compaction
	ItemChosen     = "chosen"                // chosen log: one slot
	ItemTornTail   = "torn-tail"             // bytes Open would cut from a segment's end
	ItemTruncation = "unfinished-truncation" // a tidwall TruncateFront Open would finish
)

// Item is one record of a data directory as Inspect found it. Only the
// fields of its Kind are set. Data in Entries and Data alias the bytes
// Inspect read; they are never overwritten, so they may be kept.
type Item struct {
	File   string // path of the file holding the record
	Offset int64  // byte offset of the record (of its tidwall frame in a segment)
	Len    int64  // bytes of the record, frame included; torn-tail: bytes after Offset
	Kind   string // one of the Item* constants
	Index  uint64 // WAL index (journal: batch sequence; chosen log: slot - base + 1); 0 in small files

	// Ballot: promise and accept records; a journal checkpoint's promised ballot.
	Ballot paxos.Ballot
	// Groups: a batch's promise and accept groups in record order.
	Groups []Group
	// Entries: accept (at Ballot), batch (every accept group's entries, in
	// order), journal checkpoint (accepted entries) and chosen (one).
	Entries []paxos.Entry

	NodeID     uint64 // identity
	ClusterID  string // identity
	Rebuilding bool   // identity: the rebuilding flag (see Store.Rebuilding)
	Gen, Base  uint64 // meta: chosen log generation and the slot of its WAL index 1
	Slot       uint64 // checkpoint-blob: the slot passed to SetCheckpoint
	Data       []byte // checkpoint-blob: the blob
	// Replaced: unfinished-truncation: segments the .START file (File)
	// replaces; Open removes them and renames File into place.
	Replaced []string
}

// Group is one group of a journal batch record.
type Group struct {
	Kind    string       // ItemPromise or ItemAccept
	Ballot  paxos.Ballot // promised, or the ballot of every entry
	Entries []paxos.Entry
}

// Inspect walks the data directory dir read-only and calls fn for every
// record, after verifying its checksum: the small files (identity,
// chosen.meta, checkpoint; absent ones are skipped), then each journal
// segment, then each segment of the chosen log chosen.meta names, in file
// order. It applies the checks Open applies (CRC, lengths, WAL index,
// record kinds, chosen slots, contiguous segments, a checkpoint first in a
// front-truncated journal) and returns the same *CorruptError (wrapping
// ErrCorrupt, naming file and offset) for the same damage; when several
// places are damaged it may name another of them than Open would (Open
// reads the chosen log before the journal).
//
// Unlike Open it never writes: it takes no lock, creates, removes,
// renames and truncates nothing. A torn tail is reported as an Item of
// kind torn-tail (offset and length of what Open would cut) and the walk
// goes on. A truncation tidwall left unfinished is reported as an
// unfinished-truncation Item, and the log is then read as Open would
// finish it (from the .START file). Leftover .TEMP and .torn-* files and
// stale chosen.<gen> directories hold no live records and are skipped.
//
// An error from fn stops the walk and is returned unchanged. Run it on a
// stopped replica: a running one's files change while they are read.
func Inspect(dir string, fn func(Item) error) error {
	return inspect(OSFS{}, dir, fn)
}

func inspect(fsys FS, dir string, fn func(Item) error) error {
	if _, err := fsys.ReadDir(dir); err != nil {
		return fmt.Errorf("storage: inspect %s: %w", dir, err)
	}
	meta, err := inspectSmall(fsys, dir, fn)
	if err != nil {
		return err
	}
	journalCheck := func(segs []segment) visitFunc {
		first := uint64(1)
		if len(segs) > 0 {
			first = segs[0].index
		}
		return func(idx uint64, r *rec) error { return checkJournal(first, idx, r) }
	}
	if err := inspectWAL(fsys, filepath.Join(dir, journalDir), fn, journalCheck); err != nil {
		return err
	}
	chosenCheck := func([]segment) visitFunc { return checkChosen(meta.base) }
	return inspectWAL(fsys, filepath.Join(dir, chosenDirName(meta.gen)), fn, chosenCheck)
}

// inspectSmall reports the identity, chosen.meta and checkpoint files and
// returns the chosen log's meta (generation 1, base 1 when there is no
// chosen.meta yet, as Open would create it).
func inspectSmall(fsys FS, dir string, fn func(Item) error) (chosenMeta, error) {
	meta := chosenMeta{gen: 1, base: 1}
	for _, f := range []struct {
		name string
		kind byte
	}{{identityFile, kindIdentity}, {chosenMetaFile, kindChosenMeta}, {checkpointFile, kindBlob}} {
		path := filepath.Join(dir, f.name)
		data, err := fsys.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return meta, fmt.Errorf("storage: read %s: %w", path, err)
		}
		r, err := decodeRecord(data)
		if err != nil || r.kind != f.kind {
			return meta, corruptf(path, 0, "not a valid record of kind %d", f.kind)
		}
		if r.kind == kindChosenMeta {
			if r.a == 0 || r.b == 0 {
				return meta, corruptf(path, 0, "gen %d base %d", r.a, r.b)
			}
			meta = chosenMeta{gen: r.a, base: r.b}
		}
		if err := fn(itemOf(path, 0, int64(len(data)), &r)); err != nil {
			return meta, err
		}
	}
	return meta, nil
}

// inspectWAL walks one WAL directory read-only: segments in order, each
// record checked by the check newCheck builds from the segment list, torn
// tails reported rather than cut.
func inspectWAL(fsys FS, dir string, fn func(Item) error, newCheck func([]segment) visitFunc) error {
	segs, start, _, err := segmentFiles(fsys, dir)
	if err != nil {
		return err
	}
	if start != 0 {
		path := filepath.Join(dir, segmentName(start)) + ".START"
		kept, replaced := afterTruncate(segs, start, path)
		it := Item{File: path, Offset: -1, Kind: ItemTruncation, Index: start}
		for _, s := range replaced {
			it.Replaced = append(it.Replaced, s.path)
		}
		if err := fn(it); err != nil {
			return err
		}
		segs = kept
	}
	check := newCheck(segs)
	visit := func(s *segment, off, n int, idx uint64, r *rec) error {
		if err := check(idx, r); err != nil {
			return corruptf(s.path, int64(off), "record %d: %v", idx, err)
		}
		return fn(itemOf(s.path, int64(off), int64(n), r))
	}
	torn := func(s *segment, data []byte, off int, idx uint64) error {
		return fn(Item{File: s.path, Offset: int64(off), Len: int64(len(data) - off), Kind: ItemTornTail, Index: idx})
	}
	_, err = walkWAL(fsys, segs, visit, torn)
	return err
}

// itemOf turns a valid record into an Item; entry data alias the record.
func itemOf(path string, off, n int64, r *rec) Item {
	it := Item{File: path, Offset: off, Len: n, Index: r.seq}
	collect := func(e paxos.Entry) { it.Entries = append(it.Entries, e) }
	switch r.kind {
	case kindPromise:
		it.Kind, it.Ballot = ItemPromise, r.ballot
	case kindAccept:
		it.Kind, it.Ballot = ItemAccept, r.ballot
		r.eachEntry(collect)
	case kindJournalCP:
		it.Kind, it.Ballot = ItemJournalCP, r.ballot
		r.eachEntry(collect)
	case kindChosen:
		it.Kind = ItemChosen
		r.eachEntry(collect)
	case kindBatch:
		it.Kind = ItemBatch
		r.eachGroup(func(g rec) {
			gr := Group{Kind: ItemPromise, Ballot: g.ballot}
			if g.kind == kindAccept {
				gr.Kind = ItemAccept
				g.eachEntry(func(e paxos.Entry) { gr.Entries = append(gr.Entries, e) })
				it.Entries = append(it.Entries, gr.Entries...)
			}
			it.Groups = append(it.Groups, gr)
		})
	case kindIdentity:
		it.Kind, it.Index = ItemIdentity, 0
		it.NodeID, it.ClusterID = r.a, string(r.data)
		it.Rebuilding = r.seq&identityRebuilding != 0
	case kindChosenMeta:
		it.Kind, it.Gen, it.Base = ItemMeta, r.a, r.b
	case kindBlob:
		it.Kind, it.Slot, it.Data = ItemBlob, r.a, r.data
	}
	return it
}
