// Package storage keeps a replica's durable state on github.com/tidwall/wal:
// the acceptor journal (promises and accepts), the chosen log, and an opaque
// checkpoint blob for the log layer.
//
// storage imports paxos for its record types and never imports the log or
// net packages of this module (nor anything else of it). Other packages
// import it as plain "storage".
//
// # Contract
//
// Persist makes a batch of paxos.Records durable as one journal batch
// record (one tidwall entry with one CRC, one write, one fsync: group
// commit) and returns only after that fsync: the caller may send the
// messages of the same Ready only then. A batch is durable whole or not at
// all: recovery never yields part of one. AppendChosen
// writes the chosen log without an fsync of its own (the journal still
// holds the accepts); Sync makes it durable, and journal compaction syncs
// it before dropping anything. HardState after Open equals what was
// persisted: Promised is the highest ballot promised or accepted, Accepted
// the highest-ballot entry of each slot above the chosen log.
//
// Fail-stop: after any failed write or fsync the store is poisoned; every
// later call returns an error wrapping ErrPoisoned, and no fsync is ever
// retried (after a failed fsync the kernel may have dropped the dirty
// pages, so a retry that succeeds proves nothing). The node must stop;
// reopening recovers every acknowledged record.
//
// Lost state: Open on a directory without an identity file creates it with
// the rebuilding flag set (a new replica, or one whose disk was wiped: the
// two look alike). Rebuilding reports the flag; the replica passes it to
// paxos.Config.Rebuilding and must not vote until the core says Rebuilt,
// then calls MarkRebuilt, which clears the flag durably. Directories
// written before the flag existed read as not rebuilding.
//
// # Data directory
//
//	Dir/LOCK              flock held while a Store is open (ErrLocked for a second opener; Linux only)
//	Dir/identity          cluster id + node id + flags (one record; Open refuses another cluster or node: ErrIdentity)
//	Dir/chosen.meta       generation + base slot of the chosen log (one record)
//	Dir/checkpoint        SetCheckpoint's slot + blob (one record)
//	Dir/journal/          tidwall/wal segments of the acceptor journal; WAL index = batch sequence
//	Dir/chosen.<gen>/     tidwall/wal segments of the chosen log; WAL index = slot - base + 1
//	<segment>.torn-<ns>   bytes cut from a torn tail, kept for inspection
//
// The three small files are replaced atomically: temp file, fsync, rename,
// directory fsync. ResetChosen creates chosen.<gen+1>, then replaces
// chosen.meta, then removes the old directory; Open removes any chosen.*
// directory that chosen.meta does not name, so a crash at any step leaves
// either the old or the new log.
//
// # Record format
//
// tidwall/wal frames each entry in a segment as a uvarint length followed
// by that many bytes (its binary format). Each such entry, and each small
// file, is exactly one record. All integers are little-endian, fixed width:
//
//	+----------+------+----------+---------------- body ---------------+
//	| crc32c   | kind | seq      |  depends on kind                    |
//	| 4 bytes  | 1    | 8        |                                     |
//	+----------+------+----------+-------------------------------------+
//	crc32c (Castagnoli) covers every byte after itself (kind..end).
//	seq is the record's WAL index (0 in the small files, except identity:
//	there it holds flags, bit 0 "rebuilding").
//
//	kind 8 batch       groups u32 | groups x group                         (journal: one Persist call)
//	kind 1 promise     ballot
//	kind 2 accept      ballot | count u32 | count x (slot u64 | flags u8 | len u32 | data)
//	kind 3 checkpoint  promised ballot | count u32 | count x entry         (journal: live acceptor state)
//	kind 4 chosen      entry                                               (chosen log: one slot)
//	kind 5 identity    node u64 | len u32 | cluster id
//	kind 6 chosen meta gen u64 | base u64
//	kind 7 blob        slot u64 | len u32 | data
//
//	ballot = round u64 | node u64
//	entry  = slot u64 | ballot | flags u8 | len u32 | data      flags bit 0: no-op; other bits must be 0
//	group  = kind u8 | body of a kind 1 or kind 2 record       (no CRC or seq of its own)
//
// For example, the batch of promise(b1), accept(b2: e1, e2), accept(b2: e3):
//
//	+--------+---+-----+--------+---+----+---+----+---------+----+----+----+
//	| crc32c | 8 | seq | 2      | 1 | b1 | 2 | b2 | 3       | e1 | e2 | e3 |
//	+--------+---+-----+--------+---+----+---+----+---------+----+----+----+
//	                     groups  promise  accept   count     slot|flags|len|data each
//
// The journal holds batch records and checkpoints, each at its own WAL
// index (WAL index = batch sequence): one Persist call is one batch record,
// however many records it carries, so its bytes are checksummed once. Inside
// a batch, each promise record is a promise group and a run of consecutive
// accept records at one ballot is one accept group (the paxos core emits
// one accept record per Accept message; a batch of them at one ballot
// costs one group header); replaying a group (promise its ballot, keep
// each entry unless a higher ballot holds the slot) gives the state the
// records give one by one. A batch has at least one group, and an accept
// group never directly follows an accept group of the same ballot, so
// every valid batch decodes to exactly the bytes it came from. Whole kind 1
// and kind 2 records (one per WAL index) were written by earlier versions;
// recovery still replays them.
//
// A record is valid only if it is at least 13 bytes, its CRC matches, its
// kind is known, every count and length fits in the bytes that remain
// (checked before anything is used), and the body is consumed exactly. The
// decoder allocates nothing: entries are produced on demand and alias the
// record (FuzzRecord checks this with a corpus claiming gigabyte lengths).
// An empty tidwall entry, which is what a zero-filled tail parses as, is
// therefore invalid.
//
// # Recovery
//
// Before tidwall/wal opens a log, Open reads every segment itself (one at
// a time) and validates every record, including that its seq equals its
// WAL index. It finishes a front truncation tidwall left half done (a
// .START file) and removes its temp files. Then:
//
//   - an invalid record in the last segment with no valid record anywhere
//     after it is a torn tail: the file is cut back to the end of the last
//     valid record (a torn batch goes whole), the cut bytes are copied to <segment>.torn-<unixnano>,
//     the file and directory are fsynced, and a WARN names file, offset and
//     bytes cut;
//   - an invalid record in any other segment, or one followed by a valid
//     record, is corruption: Open returns a *CorruptError (wrapping
//     ErrCorrupt) naming file and offset, and does not start;
//   - segments whose first indexes do not follow each other (a missing or
//     overlapping segment) are corruption naming the file; a journal whose
//     front was truncated must start with a checkpoint record.
//
// The journal is replayed into the acceptor state; slots at or below the
// chosen log's last slot are dropped from it. Open therefore reads the whole
// of both logs; trimming the chosen log and compacting the journal keep
// that bounded.
//
// Limits of what can be detected: a lost LAST segment of a log looks like a
// shorter log. A power loss that persists a later page of an unsynced
// write but not an earlier one is reported as corruption rather than
// repaired (never as silent loss).
//
// # Inspecting a data directory
//
// Inspect walks a data directory read-only (for paxlog dump-wal): it takes
// no lock and writes, renames, truncates and creates nothing. It uses the
// scan Open uses (the same frame parser, decoder, segment contiguity and
// record checks), so it reports every record with its file, offset and
// contents and fails with the *CorruptError Open would return; where Open
// would cut a torn tail or finish an interrupted truncation, Inspect
// reports a torn-tail or unfinished-truncation item instead.
//
// # tidwall/wal and the file-system seam
//
// tidwall/wal is opened with NoSync, AllowEmpty, the binary format and a
// one-segment read cache. It writes segments with the os package, so the
// store cannot route those writes through FS; instead:
//
//   - after every WriteBatch the store fsyncs the tail segment through its
//     own descriptor opened from FS (fsync acts on the file, whichever
//     descriptor is used), so every fsync of a segment goes through the
//     seam, where tests fail it or record what was synced;
//   - FS.BeforeWrite is called before each WriteBatch, so tests can fail a
//     write before any byte of it reaches the file;
//   - the store mirrors tidwall's segment cycling rule to know when a write
//     started a new segment, checks the tail file's size after every write
//     to catch any disagreement (poisoning the store), fsyncs the finished
//     segment and the new one's directory, and fsyncs the directory after
//     every TruncateFront and file it creates, renames or removes.
//
// tidwall's own fsyncs (of a finished segment when it cycles, of its START
// copy on TruncateFront, of the tail in Close) remain and are harmless.
// TruncateFront's rename and removals are not separated by directory
// fsyncs inside tidwall; journaling file systems (ext4, xfs) commit them in
// order, and the .START recovery above covers an interrupted truncation.
// After the store is poisoned, Close does not call tidwall's Close (which
// would fsync again) and leaves its descriptor to the process exit.
//
// # Memory and readers
//
// Readers (Entries, Entry, FirstIndex, LastIndex) load an immutable view
// through an atomic pointer and never take the writer's mutex (held across
// the fsyncs of the chosen log, checkpoints and compaction). Persist runs
// its journal fsync outside that mutex, under a second one that only
// Persist and Close take, so a chosen-log append proceeds while the journal
// is being synced (the log layer commits during its persister's fsync).
// Recent chosen entries come from a cache
// bounded by Options.CacheBytes (about twice that at worst, before evicted
// entries are reallocated away); older ones are read from tidwall/wal.
// Those cold reads are serialized among themselves (tidwall's Read updates
// its cache under a read lock) and wait for a writer only while it is in
// write(2): the store opens tidwall with NoSync, so tidwall's lock is never
// held across an fsync except when a write finishes a segment. tidwall
// keeps each log's tail segment in memory and caches one older segment, so
// memory is about 2 x SegmentSize per log plus the cache, whatever the log
// size. The acceptor state holds only accepted slots above the chosen log;
// their data aliases the encoded batch they were persisted in (one
// allocation per Persist call, nothing copied entry by entry), so a batch
// stays in memory while any of its slots is still held.
//
// # Journal compaction
//
// After a Persist, once the journal holds more than JournalCompactBytes
// (and more than twice the would-be checkpoint), the store fsyncs the
// chosen log, appends a checkpoint record of the live acceptor state (the
// promised ballot and every accepted entry above the now durable chosen
// log), fsyncs it, and truncates the journal front to it.
package storage
