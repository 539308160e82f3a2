// Package blockstore is the HDD tier and the source of truth: blobs are
// records appended to preallocated volume files, one active volume per data
// directory (one directory per disk), found through a bbolt index that can
// always be rebuilt from the volumes alone.
//
// # Basics
//
// Open runs recovery and returns a Store. Put streams a blob and returns
// once it is durable (fdatasync returned) and readable. Get reads a blob of
// up to one chunk with exactly one device read; NewReader and ReadChunk read
// only the chunks a range touches, and ReadRange only the 64 KiB sub-blocks
// of a chunk it touches (see Ranged reads). Delete appends a tombstone. List walks
// keys in order. Writes carry a version stamp (a hybrid logical clock);
// the highest version of a key wins, whatever order writes arrive in. A
// Delete with a version writes its tombstone whenever that version is newer
// than what the key holds, even when it holds nothing or only an older
// tombstone, so a late older Put is refused; it still reports ErrNotFound
// when there was no blob, after the tombstone is durable. A Delete without
// a version of a key with no blob writes nothing (a cheap "not found").
// After a restart the clock issues versions above every version on disk
// (bbolt keeps the highest committed one; recovery observes every record
// it replays), even with the wall clock set back.
//
// # Replicas
//
// What a cluster node needs beyond that: Lookup and Scan read the index
// only (no device read) and report tombstones (Entry.Deleted) and corrupt
// entries (Entry.Corrupt) that Stat and List hide; Scan walks all keys in
// order, merging pending entries over bbolt as List does. NextVersion
// issues a version from the clock and ObserveVersion moves the clock past
// a version learnt from a peer. The clock keeps a ceiling in the index
// (its own small bbolt write, not tied to ops): 2 s of wall time above the
// clock, rewritten about once a second by a goroutine, and by NextVersion
// itself only when a stamp would come within 1 ms of it (after observing
// a peer whose clock runs ahead, say); a version is returned only once a
// ceiling above it is durable, and Open starts the clock at the stored
// ceiling. So after a crash, even with the wall clock set back, the clock
// is above every version it issued, for writes stored only on other nodes
// too; a restart may start it up to 2 s ahead of the wall clock. If the
// ceiling cannot be written (a broken index, a full disk) that is logged
// and versions are still issued, then only as safe as the index commits,
// which also store the clock's current stamp.
//
// Drop(key, version) forgets the local copy of key if its entry is still
// exactly at version (rebalancing: the key's new owners hold it). It
// writes nothing to the volumes: the entry leaves the index at once (a
// marker in pending hides it, older committed entries included) and the
// indexer deletes it from bbolt in order with the other ops, only if it is
// still at that version. After a drop the key is unknown: a later write at
// any version is taken. A drop at another version fails with ErrNotFound
// and changes nothing. Across a crash, a drop not yet committed is lost
// and the entry comes back from bbolt or recovery's replay; a rebuild of
// the index from the volumes brings back the dropped record, or a later
// one where one was written. Either way that is an extra copy at a version
// the cluster has elsewhere, never a lost write; last writer wins still
// holds, so it never shadows a newer write made after the drop (an older
// one made after the drop loses to it). The index keeps, per dropped key,
// the highest version dropped (the "dropped" bucket), so Check counts the
// records left without an entry in CheckReport.Dropped instead of
// reporting them.
//
// # Disks
//
// Open creates each data directory and the index directory if needed,
// fsyncs them into their parents, and takes an exclusive lock on each
// (ioengine.FS.Lock: flock, held until Close): a second store on the same
// directories, in this process or another, gets ErrLocked naming the
// directory. Each data directory holds an identity file (IdentityFileName:
// node id, disk id, creation time, CRC32C), written the first time the
// store sees the directory (write, fsync, rename, fsync the directory);
// the index records the node id and every disk it knows. Open refuses,
// with ErrDiskIdentity and what to check, a directory the index knows
// whose identity file is missing (an unmounted disk leaves an empty mount
// point), damaged, or names another disk or another node. The node id is
// Options.NodeID, else the index's, else the disks', else a new random one.
// Files are created with Options.FileMode (0600).
//
// # Record format
//
// A volume is a sequence of groups. Each group is what one appender wrote
// with one pwrite and one fdatasync: records packed at 8-byte boundaries,
// then zero fill up to the alignment (4096 bytes or the device's), so the
// next group starts aligned. All integers are little endian.
//
//	+--------+-----+-------+-------+--------+--------+--------+--------+
//	| magic  | fmt | flags | codec | rsvd=0 | keyLen | ctLen  |        |
//	|  u32   | u8  |  u8   |  u8   |   u8   |  u16   |  u16   |        |
//	+--------+-----+-------+-------+--------+--------+--------+--------+
//	| payloadLen u32 | rawLen u32 | contentCRC u32 | version u64       |
//	+----------------+------------+----------------+-------------------+
//	| modtime ns i64 | chunk index u32 | header CRC32C u32 (bytes 0..43) |
//	+----------------+-----------------+-------------------------------+
//	| key | content type | payload (payloadLen bytes, maybe S2)        |
//	+-----+--------------+---------------------------------------------+
//	| body CRC32C u32 over key, content type and payload               |
//	+-------------------------------------------------------------------+
//
// The header is 48 bytes, so a 4 KiB blob with a short key costs about
// 4170 bytes. flags: 0 blob, 1 tombstone, 2 chunk (one piece of a large
// blob, never indexed as a key), 4 manifest (the list of a large blob's
// chunk locations; see manifest.go). codec: 0 none, 1 S2, used only when
// it saves at least 12.5%. contentCRC is the CRC32C of the raw payload (of
// the whole blob, for a manifest).
//
// Format 2 (fmt = 2) is the same record for a blob or manifest that has
// metadata or an MD5 (PutOptions.Meta and WantMD5, ComposeOptions): the
// u16 after keyLen is then the length of an attribute region that holds a
// content-type length byte, the content type and an extension block
// (meta.go: flags, the MD5 when flagged, and the metadata pairs in name
// order), all under the body CRC. Chunk records and tombstones stay in
// format 1, and so does every record without metadata: old volumes read
// unchanged. The index keeps the block in its entry (entry format 3), so
// Stat, List, Lookup and Scan answer Info.Meta and Info.MD5 without a
// device read; recovery and a rebuild take it from the record, and
// compaction copies blob records byte for byte and writes a manifest anew
// with its block. ValidateMeta is the rule (canonical header names,
// UTF-8 values without control characters, at most MaxMetaPairs names and
// MaxMetaBytes of names and values); ErrInvalidArgument otherwise. The
// MD5 is computed while the content streams, chunk by chunk.
//
// Manifests come in three formats (manifest.go): 1, the chunk locations
// and CRCs; 2, a composed blob's records; 3, format 1 plus a CRC32C of
// every 64 KiB sub-block of each chunk stored raw (a compressed chunk has
// none), written by Put whenever the chunk size exceeds 64 KiB. The
// sub-block CRCs combine to the chunk's CRC (the decoder checks it), and
// the chunk record is unchanged, so whole-chunk reads verify exactly as
// before. Formats 1 and 2 read unchanged (testdata/oldformat holds a
// volume written before format 3).
//
// # Ranged reads
//
// ReadRange(info, off, n) reads [off, off+n) of one version. For each
// chunk whose manifest has sub-block CRCs it issues one aligned device
// read of the sub-blocks covering the range (a 4 KiB range inside one
// sub-block: at most 72 KiB) and verifies each sub-block before a byte is
// returned; any other chunk is read whole and verified as ReadChunk does.
// A damaged sub-block answers ErrCorrupt (counted in Stats.Corruptions)
// and the other sub-blocks stay readable.
//
// Decoded manifests are cached (Options.ManifestCacheBytes, 8 MiB by
// default; about 70 KiB for a 1 GiB blob), least recently used first out,
// per key and only for the exact version, checksum and manifest location
// asked for: an Info from a fresh Stat finds it, so a handler reads a
// large blob's manifest once, not per request. Writes, deletes and drops
// of the key (in the pending index's update) and compaction's rewrite of
// the manifest drop the item; Stats.ManifestCache counts items, bytes,
// hits and misses.
//
// # Compose
//
// Compose(key, parts) makes key a blob of the parts' contents without
// copying a byte (S3 multipart completion): one manifest record in format
// 2 of manifest.go names every stored record of the parts with the key and
// version it was written under, its raw length, chunk index and CRC32C.
// Readers address a composed blob in chunks of the store's chunk size like
// any chunked blob; a chunk that spans parts is read from each record that
// holds some of it, each verified. Its checksum is the CRC32C of the
// content, combined from the parts' (crc.go). The record's index op also
// carries, for each part, a tombstone at the part's version with no record
// of its own (location length 0): one pending update, one bbolt batch.
// Recovery and a rebuild derive those tombstones from the manifest, and a
// tombstone beats its version of the part in any order of replay, so the
// parts never resurface; a newer write of a part key (after Compose read
// it) wins over its tombstone and stays. The parts' records move, for
// garbage accounting, from the parts to the new key (its spans); the
// parts' own manifests become garbage. Compaction moves a composed
// manifest's records and rewrites the manifest like any other; it cannot
// remove a volume while a Compose that read locations in it is running.
// A composed blob cannot be a part; the total is held to MaxBlobSize and
// the manifest to max(the largest manifest of a MaxBlobSize blob, the
// chunk size). Caveats: the parts' tombstones stay in the index (they
// have no record to compact) until the tombstone records written right
// after the compose replace them; those follow the rules of any delete
// (kept while the volumes of the records they hide remain), so a rebuild
// after compaction dropped the compose record does not bring the parts
// back. Scrub reports a damaged record of a composed blob under its part's
// key, which names no live blob; the first read of it indexes the
// composed blob as corrupt (never serving the bytes), so a replica's
// repair at its version replaces it.
//
// # Torn tails and corruption
//
// Where a header is expected, an all-zero header means padding (before the
// next 4096 boundary) or the end of the written data (on a boundary). Any
// other bytes whose header does not decode are either a torn tail or
// corruption, and the scan tells them apart by looking ahead one window
// (two maximal groups): a valid record after the bad bytes means
// corruption in the middle, which is counted, logged and skipped while the
// records after it are kept; no valid record means the tail of an
// unacknowledged write, which ends the volume there. A volume whose tail is
// torn (non-zero garbage) is sealed rather than appended to, so garbage is
// never mixed with new groups.
//
// A record whose header decodes (key and version readable) but whose body
// checksum fails must not roll its key back to an older version, or bring
// a deleted key back. Only the last group or two of a volume can be
// unacknowledged (the appender writes a group only once the group before
// the previous one is synced), and a torn write leaves whole sectors
// unwritten, which read as zero in a preallocated volume. So such a record
// is torn (skipped, counted in Stats.TornTails, the volume sealed) only
// when some 512-byte sector of it is all zero and no valid record lies a
// window beyond it, in a volume that was still open; otherwise it is
// corruption: counted in Stats.Corruptions, logged with volume, offset,
// key and version, and its key is indexed as corrupt at that version. A
// corrupt key answers ErrCorrupt from Get and Stat (never an older
// version) and is left out of List, until a write at least as new (a
// repair at the same version, or any newer write or delete) replaces it.
//
// # Durability
//
// Order on write: record bytes (one aligned pwrite per group), one
// fdatasync per group, then the group's entries enter the in-memory
// pending index, then every waiter is acked. Three goroutines per data
// directory pipeline this: the appender cuts and writes the next group
// while the syncer runs the previous group's fdatasync, and the completer
// publishes and acks. A group of at least a quarter of MaxBatchBytes is
// cut at once, so its write overlaps the previous fdatasync; a smaller
// group is cut only when no written group waits for or is in its
// fdatasync, so every
// writer that queues while a sync runs joins the next group and shares its
// fdatasync: more concurrent writers, more records per fdatasync (no
// timer: a lone writer's group is cut at once; Stats.Groups and
// RecordsWritten, strata_store_group_commits_total and
// strata_store_group_records_total on /metrics, count them). Before
// cutting a group the appender also yields once if the queue just grew
// (runtime.Gosched), so writers acked a moment ago join it. So at most two
// groups are ever unacknowledged, as before: recovery's torn-record rule
// relies on it (only the last two groups of a volume may be torn), so the
// appender never writes further ahead. A group written while the previous
// group's fdatasync runs is not covered by that fdatasync: it gets its own,
// and when the earlier one fails it fails with it, unacknowledged and
// without an fdatasync of its own (TestOverlappedGroupFailsWithTheSyncBeforeIt). The indexer goroutine commits the
// pending entries to bbolt asynchronously, thousands of keys per
// transaction (at 8192 queued, or 100 ms after its previous commit), and
// stores in the same transaction how far every volume is indexed (its
// watermark); recovery rescans only past the watermarks. A failed write or
// fdatasync fails every waiter of the group, is never retried, and retires
// the volume (read-only, valid up to where the failed group began); the
// next group goes to a new volume, but only after the disk's last
// acknowledged group reads back with valid checksums: a disk that cannot
// return it takes no more writes (ErrReadOnly until restart). ENOSPC when
// making a volume gives ErrNoSpace and the directory is tried again once
// it reports room for a volume. The last Options.TombstoneReserve bytes of
// every volume take only groups of deletes, and a full volume stays active
// for them while no new volume can be made: on a full disk puts get
// ErrNoSpace and deletes still work. The reserve is sized for tombstones
// (about a thousand lone deletes in 4 MiB), not for compaction's copies:
// those need room before the reserve, in the active volume or a new one,
// since a volume's live records would not fit in it and would take the
// deletes' room. That new volume comes from the disk's space reserve
// (Options.SpaceReserve, one VolumeSize by default): a volume for puts
// is made only while the filesystem has VolumeSize plus SpaceReserve
// free, while compaction's copies and deletes need VolumeSize. So puts
// fill a disk only up to the reserve (ErrNoSpace, Writable says so), and
// a compaction pass can always start there: its copies go to a volume
// made in the reserve, which puts never write to (they would take the
// room the pass needs to finish; once the disk has room outside the
// reserve again, a put seals it and makes its own), each volume the pass
// removes gives its space back, and puts work again. Which volume was
// made in the reserve is not kept across a restart: after one, puts may
// fill the active volume as any other. With SpaceReserve negative (none), a disk puts filled
// takes deletes through the tombstone reserve, but its garbage is
// reclaimed only once room for a volume is made by hand.
// Writable reports whether a put can
// succeed, from the disks' state (the same answer before and after a
// restart). Each appender queue holds at most Options.MaxQueueBytes of
// records (a larger record goes alone); writers wait for room with their
// context. Close commits everything and writes bbolt's freelist, so the
// next Open only checks each active volume's tail.
//
// # Index
//
// bbolt maps key to location (volume, offset, length), size, version,
// checksum, chunk size, content type and modification time; deletes keep a
// tombstone entry. Last writer wins by version stamp, both in the pending
// index and in each bbolt transaction, so an older record that recovery
// replays never overwrites a newer committed one. At equal versions a
// tombstone beats a blob, both beat a corrupt entry, and of two blobs the
// higher content checksum wins (so replicas converge whatever the order of
// arrival). Writers are held back when more than Options.IndexQueueLimit
// (about a million) entries wait for bbolt, which bounds memory and the
// work recovery replays after a crash. A rebuild (index.db missing, unreadable, or left by an
// interrupted rebuild) and a scan of any volume the index does not know
// (an index.db a crash left empty) run with the indexer committing as the
// scan goes, under the same bound, inside a rebuild marker kept in the
// index until all is committed.
//
// A failed bbolt commit is retried a few times (5 attempts, waits doubling
// from 50 ms, cut short by Close); when every attempt fails the index is
// treated as suspect storage: nothing more is committed, Healthy and
// Writable report it and writes fail with an error wrapping ErrIndexFailed
// and ErrReadOnly, while everything acknowledged stays readable (the
// entries bbolt missed stay in memory). Close then reports the uncommitted
// entries, and the next Open replays them from the volumes, whose
// watermarks the failed commits never advanced (or rebuilds, if index.db
// is unreadable). A rebuild whose commits fail stops, and Open fails.
//
// The same transactions keep the number of live keys and their bytes
// (Stats.LiveKeys, LiveBytes: the HDD tier's items and bytes on /metrics);
// an index without them counts them at Open.
//
// Lookups that miss pending read bbolt through one shared read
// transaction (snapshot.go) rather than one each: every bbolt write
// retires it before its transaction and publishes a new one after the
// commit, before the indexer drops the committed entries from pending, so
// a lookup never sees bbolt older than what pending stopped holding; while
// a write runs, lookups open their own transactions as before.
//
// # Scrub
//
// Scrub reads every record of every volume and verifies its checksums
// (header, body, and the raw content after decompression), so rot is
// found before a reader trips on it. With Options.ScrubInterval set, a
// background loop runs a pass whenever a disk is due (ScrubInterval after
// its last complete pass; at once when a pass was interrupted or none ever
// completed); Scrub runs one on demand. Each disk is read in volume id
// order, in 1 MiB reads at background priority (ioengine.ClassBackground:
// foreground reads and writes go first at the device queue), paced to
// Options.ScrubBytesPerSec (8 MiB/s by default) per disk, the disks in
// parallel. A pass covers the volumes that existed when it began, the
// active one up to its end when the pass reaches it, so it ends under
// writes. Each disk's cursor (volume, offset), the pass's start and the
// time of its last complete pass are kept in the index (bucket "scrub",
// saved every 64 MiB read and at each volume's end, in its own small
// transaction), so a pass over many terabytes completes across restarts;
// Stats.Disks reports them.
//
// A corrupt record is logged with volume, offset, key and version and
// counted (Stats.Corruptions, the disk's ScrubStats.Corruptions). If it
// holds its key's current version (the entry's own record, or a chunk its
// manifest lists), the entry is marked corrupt in the index, as recovery
// marks one: Get and Stat answer ErrCorrupt, List leaves the key out, and
// Options.OnCorrupt(key, version) is called so a cluster rewrites it from
// a replica; a write at that version or newer replaces the corrupt entry
// (last writer wins ranks a corrupt entry below a blob of its version).
// The mark is committed only if the entry is still that version at that
// location when the indexer commits it, so a concurrent write wins. A
// damaged older version or tombstone is only reported (the index entry
// already holds all a tombstone says). Damaged bytes that are not a
// record are reported as corrupt bytes, and the scan resumes at the next
// valid record. A failed read is counted against the disk and its 1 MiB
// skipped for this pass.
//
// # Passes
//
// Compact and Scrub run one pass and return when it is done; StartPass
// starts one in the background and returns at once, with its id. Every
// pass of a kind (the background loop's, and requested ones) goes through
// one runner, so two never overlap: Compact and Scrub wait for a running
// one, StartPass refuses with ErrPassRunning and the running pass's
// status. Pass reports the running pass or one of the last 16 finished
// ones (PassStatus: trigger, start and end, progress in bytes, error, and
// what it did); WaitPass waits for one to end. Close stops a running pass
// (its status then carries the error) and waits for it.
//
// # Failed disks
//
// Every I/O error on a data directory (a failed read, write, fdatasync or
// volume creation; never ENOSPC, a cancelled caller or a closed file)
// counts against its disk; at Options.DiskErrorThreshold errors (10 by
// default) the disk is marked failed, logged, and reported in Stats.Disks
// and FailedDisks. A failed disk is out of service until the store is
// reopened: Stat, Get and reads of the blobs on it answer an error
// wrapping ErrDiskFailed without touching it (another replica has them),
// new writes go to the other disks (a group already queued for it is
// handed to another, nothing having been written), scrub skips it, and
// Writable and Healthy stop counting it. The store stays healthy while
// another disk serves; when every disk has failed, Healthy and Writable
// answer ErrDiskFailed (which does not wrap ErrReadOnly: nothing serves).
// Deletes of its keys write their tombstones to another disk.
//
// # Garbage and compaction
//
// The index keeps, per volume, the bytes of the records its entries need
// (each entry's record, and a chunked blob's chunks, whose bytes per
// volume the entry carries), in the same bbolt transactions that commit
// the ops: counting what is needed, not what is not, makes a replayed op
// change nothing, and a rebuild counts them afresh. A volume's garbage is
// the rest of its used length: overwritten, deleted, dropped and expired
// records, records that lost under last writer wins, chunks of puts that
// never wrote their manifest, and group padding. Stats.VolumeUsage and
// Stats.DiskUsage report live bytes, garbage bytes and the ratio.
//
// Compact runs one pass (Options.CompactInterval runs them in the
// background; off by default): each sealed volume whose garbage ratio is
// at least Options.CompactThreshold (0.5), highest first, is emptied and
// removed. Every step is durable before the next:
//
//  1. The index is flushed and read for the entries that need the volume.
//     Their records are read at ioengine.ClassBackground, at most
//     Options.CompactBytesPerSec (read and written bytes together), and
//     appended unchanged (bytes, checksums, version, codec) to the active
//     volume of the same disk, batched so the appender packs them into
//     groups, each fdatasync'd before it is acknowledged; a batch waits
//     (up to 20 ms) while puts are queued for the disk, so copies do not
//     hold up group commits. Copies have no entry yet: they count as
//     garbage. A disk marked failed is skipped.
//  2. One bbolt transaction per batch of moves (up to 16384) switches each
//     entry that still points at its old record to the copy; an entry a
//     write, delete or drop changed meanwhile keeps the change, and the
//     copy stays garbage.
//  3. Expired tombstones (below) are deleted through the indexer, in order
//     with the writes queued before them, each only if the key's entry is
//     still that tombstone.
//  4. A second pass over the index (and pending) confirms no entry needs
//     the volume; else it is kept and reported in CompactReport.Failed
//     (a live record that fails its checksum cannot move: scrub's case).
//  5. The volume's state becomes volCompacted in the index, then the file
//     is removed and the directory fsynced. Open removes the file of a
//     compacted volume a crash left behind; the record stays, so volume
//     ids are never reused.
//
// A crash before step 2 leaves copies at the same version as the entries:
// recovery replays them and last writer wins keeps the entry (equal
// version, equal kind: the committed one stays), so they are garbage of
// the active volume, compacted once it is sealed. A rebuild may index
// either copy of a record; both hold the same bytes.
//
// Chunked blobs: a manifest names its chunks by location, so chunks
// cannot move alone. When a blob's manifest or any of its chunks lies in
// the volume, those chunks are copied and the manifest is written anew to
// the active volume: same key, version, content type, size and checksums,
// new chunk locations, and a generation (in the manifest record's chunk
// index field, unused otherwise) one above the old one's. Of two manifests
// at one version the higher generation wins, in the index and in a
// rebuild, so a rebuild never picks a manifest whose chunks moved away.
// Chunks in other volumes stay where they are and are named by both.
//
// A reader holding an Info from before a switch still reads the old
// record: the removed file's handle stays open for a minute (until the
// next pass after that), so its bytes remain readable.
//
// # Tombstone expiry
//
// Compaction drops a tombstone in the volume it compacts, instead of
// copying it, only when all of these hold:
//
//   - it is older than Options.TombstoneGrace (10 days) by its version's
//     time (version>>16 milliseconds);
//   - Options.TombstoneDroppable (nil: always) agrees; the cluster passes
//     its check that every home replica holds the tombstone;
//   - no older record of its key remains in a volume that could
//     resurface. Each index entry carries its shadow: the volumes where
//     the records it replaced were written, and those of records of its
//     key that lost to it (a late older write, a compaction copy that lost
//     its switch), inherited from entry to entry and pruned of volumes
//     already compacted away. The tombstone may go only when every volume
//     in its shadow is the one being compacted (whose records go with it)
//     or already removed. A key Drop forgot, or whose shadow outgrew 16
//     volumes, is marked unknown and keeps its tombstone;
//   - the index was created by a version that keeps shadows (a new
//     index, or a rebuild: fsck --repair); an older index keeps every
//     tombstone.
//
// Without the third rule an older record would come back as the key's
// newest version when the index is rebuilt from the volumes. After the
// drop the key is unknown: a write at any version is taken, which is why
// the grace must outlast the longest outage and hint replay.
//
// bbolt reuses its free pages: BenchmarkIndexChurn (20000 keys, eight
// rounds of overwriting every key, deleting a fifth and writing them back,
// with a compaction pass) keeps about 760 pages in use, and the file's
// high-water mark grows once, to 9 MiB, and then stays (the file itself
// stays at bbolt's 16 MiB preallocation). The index is never copied into
// a new file: under churn it does not grow; it only keeps its size after
// a mass delete.
//
// # Check
//
// Check verifies a stopped store (strata fsck): it takes the same locks
// as Open (ErrLocked while a store runs), scans every volume from its
// start with recovery's scanner, which reports torn tails and corruption
// to it instead of indexing, and compares the volumes with the index both
// ways, keeping per key only the newest version and location seen (memory
// grows with the key count, not the bytes). It opens index.db read-only
// and changes nothing on disk. With CheckOptions.Repair, when it found a
// problem, it moves index.db aside, lets Open rebuild the index and seal
// torn tails, and checks again; it refuses while a data directory's
// identity is in doubt, and never rewrites a record (a corrupt one needs a
// replica).
//
// # Caveats
//
//   - Deleted keys keep a small tombstone entry in the index (so an older
//     write arriving late cannot resurrect them) until compaction of its
//     volume drops it (see Tombstone expiry). Only sealed volumes are
//     compacted: the garbage of the active volume waits until it fills.
//   - Compaction holds, per volume, the list of entries that need it in
//     memory (key and entry: about 100 bytes each), and reads the whole
//     index twice per volume.
//   - The live counts of chunked blobs written before chunk bytes were
//     kept in the entries are unknown: their chunks' volumes look emptier
//     than they are, and compaction reads those manifests to find out.
//   - A rebuild from the volumes forgets which volumes were compacted; a
//     volume id may then be reused (harmless: nothing names a removed
//     volume's records but garbage).
//   - A write that failed (or was in flight at a crash) may still appear
//     after recovery if its bytes reached the disk: its outcome is
//     unknown, as with any storage system. Acknowledged writes always
//     survive.
//   - Corruption wider than a scan window in the not-yet-indexed part of a
//     volume would be taken for the tail; a rebuild from scratch finds
//     records up to the first such hole in each volume.
//   - A record's key is covered by the body checksum only. Recovery undoes
//     a single flipped bit inside the key (trying each, for records up to
//     a bounded checksum cost: every tombstone, blobs of some hundred KiB
//     with short keys); wider damage there, or in a larger record's key,
//     marks the damaged key as corrupt, and the true key may then roll
//     back. A record whose header does not decode cannot name its key.
//   - "The last group or two" is judged by distance: a flipped bit in a
//     record that also has an all-zero sector, within a scan window (two
//     maximal groups, about 16 MiB by default) of the end of an open
//     volume, is taken for a torn write and the key keeps its previous
//     version (counted in TornTails and logged). Compressed or
//     incompressible payloads have no zero sectors; raw zero-filled ones
//     can.
//   - bbolt can panic on some damaged files after Open; Open itself turns
//     an unreadable file into a rebuild.
//   - Get of a chunked blob holds the whole blob in memory; use NewReader.
//   - Only chunks of blobs written with format 3 manifests, stored
//     uncompressed, have sub-block CRCs. A single-record blob (up to the
//     chunk size), a compressed chunk, a composed blob and a blob written
//     before format 3 are read a whole record at a time by ReadRange; a
//     range that crosses a sub-block boundary reads both sub-blocks.
//   - bbolt with uniformly random keys rewrites most leaf pages in every
//     transaction: at 10 million keys the index takes about 20-50 thousand
//     new keys per second on one disk, and writers are throttled to that.
//     Clustered keys (common prefixes, time-ordered names) do far better.
//   - A directory is retried for a new volume only when it reports room for
//     a whole volume (Options.VolumeSize); a nearly full disk with less
//     than that free takes no new volumes.
//   - List and Scan merge pending entries by scanning the pending map,
//     which is large only while bbolt lags far behind.
//   - A failed disk is not remembered across a restart: a disk that still
//     fails is marked again after DiskErrorThreshold more errors (each
//     failed read of it costs a client an error meanwhile).
//   - Scrub finds damage in the bytes on disk; a record the page cache
//     holds (a device that fell back to buffered I/O) is read from memory.
//   - OnCorrupt is called once per pass per corrupt current record, from
//     the scrub's goroutine: a slow hook slows the pass.
//   - The dropped bucket keeps a key and a version per dropped key for
//     good; compaction does not prune it.
package blockstore
