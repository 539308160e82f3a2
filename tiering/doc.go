// Package tiering is the read side of a Strata node: a RAM cache and an SSD
// cache in front of the HDD tier (blockstore), and the Store that decides
// which tier serves a read and what is admitted where.
//
// # Basics
//
// Store.Open stats the blob in the backend, then each read of the returned
// Object (or Store.ReadChunk) asks RAM, then the SSD, then the backend, one
// segment at a time. Object.WriteRange does the same but hands each
// segment's bytes to a writer instead of copying them out: a RAM hit is
// written from the cached item itself.
// A segment is a whole blob up to RAMMaxItemBytes (1 MiB), otherwise a
// RAMMaxItemBytes piece of a backend chunk. Cache keys are key + version +
// checksum + segment, so an overwrite never serves old bytes; Put and
// Delete also invalidate the previous version's items. Concurrent misses on
// one chunk are coalesced into one backend read. Every read reports its
// tier (Object.Tier) and the counters are in Stats.
//
// A small read of a chunked blob that no cache holds (under 1/32 of its
// segment, and not continuing the Object's previous read: an HTTP Range of
// a few KiB) is a ranged miss (rangeread.go): the backend reads and
// verifies only the bytes asked for (blockstore.Store.ReadRange, one read
// of the 64 KiB sub-blocks covering them) instead of the whole 8 MiB
// chunk, and nothing is offered to the caches. A read that continues the
// previous one fetches whole segments as before, so a stream that starts
// with a small read pays one small read more.
//
// A reader never copies what it missed into the caches: it queues the
// bytes it got (the backend's chunk, or an item read from the SSD) on the
// fill queue and returns; one filler goroutine cuts them into items, puts
// them in RAM (or offers them to the SSD when they do not fit there) and
// is the only writer of read fills. A segment that is a whole chunk is
// cached as read, without a copy. The queue is bounded by bytes
// (FillQueueBytes, 8 MiB, plus at most one chunk); a fill that does not
// fit is dropped and counted (Stats.Fill), so the cost of caching never
// reaches the reader. Invalidation (Put, Delete, Compose, Drop) bumps an
// epoch of the key and a fill whose read began before the bump is dropped,
// so a late fill cannot bring back the version an invalidation removed.
// WaitFills waits for the fills queued so far (tests, benchmarks).
//
// Write-through to RAM is an admission decision (writeadmit.go): a blob
// Put writes (one segment, at most RAMMaxItemBytes) enters RAM only when
// its previous version was in RAM or read at least twice recently, or
// when RAM has room for it without evicting anything (counting the room
// that Puts still streaming reserved). Otherwise its first read fills it
// and W-TinyLFU weighs it against its victim: a stream of uploads cannot
// flush a hot read set (Stats.WriteThrough).
//
// Put passes PutOptions (Meta, WantMD5) to the backend and Stat returns
// its Info (Meta, MD5) unchanged. Compose composes in the backend without
// copying (blockstore.Store.Compose) and drops the cached items of the
// parts and of the key's previous version.
//
// For replication, Lookup, Scan, NextVersion, ObserveVersion and Drop pass
// through to the backend (index entries with tombstones, the version
// clock); Drop, when it forgets a blob, also drops that version's cached
// items from RAM and SSD.
//
// The RAM cache is an otter W-TinyLFU cache bounded by bytes (allocator and
// entry overheads included). Everything it evicts is offered to the SSD
// cache, which admits an item only if its object was read at least twice
// recently and at least as often as the median item the SSD evicts
// (count-min sketch with aging; TinyLFU's test against the victim), only
// for objects up to SSDMaxItemBytes (4 MiB), and within a write budget
// (bytes/s and bytes/day). "Recently" is traffic, not items held: the
// sketch halves after a window of bytes read (or every AdmitWindow), and
// the window is the SSD's eviction age, the traffic an item stays on the
// SSD for (SSD bytes over bytes written per byte read, a moving average;
// 1 to 32 times the RAM and SSD cache bytes; 4 times until the SSD first
// evicts), so "read twice recently" means "reused within the time the SSD
// would keep it", at any cache size and write budget. Where the hot set
// moves, that rule costs each new object a second miss, so a share of the
// cold candidates (by object hash) is admitted too; the share (0, 1/8, 1/2
// or 1) is chosen by miniature simulations of the SSD at each share on a
// hash sample of the objects, and bounded by a write allowance of half the
// bytes offered (coldshare.go). Until the SSD first
// evicts, every offer is admitted: free flash costs no hit. Offers are queued without blocking and dropped
// when the SSD writer lags: a GET or PUT never waits for the SSD.
//
// The SSD cache is one preallocated file cut into regions (16 MiB), in the
// manner of CacheLib's BlockCache: items are appended to a RAM region
// buffer after a one-unit region header (fill sequence), a full buffer is
// written with O_DIRECT in pieces of at most 1 MiB at background priority
// and fdatasynced, and regions are reclaimed oldest first. When the cache
// file shares a file system with a backend directory (SSDPacing auto; or
// always), each piece written and each piece a reclaim reads yields to the
// backend's reads: with no backend read since the last look it goes at
// once, otherwise on credit of 1/32 of the bytes the backend read (at most
// 2 MiB saved up), so the cache takes about 3% of the disk
// from readers; while it waits the region buffers fill and admissions are
// dropped (DroppedNoRegion), never queued behind reads (Stats.SSDCache
// Paced, PacedWaits, PacedWait); an item takes
// its header, key and payload rounded up to 128 bytes (a 4 KiB object with
// a 40-byte key, 4224 bytes), read back in one aligned read;
// items read while resident whose object is still read twice in the
// admission window are reinserted, items RAM holds are dropped
// (RAM offers them again when it evicts them). Every item on flash carries its
// full key and a CRC32C, verified on every read: a mismatch is a miss. The
// SSD holds clean copies only, so losing it loses warmth, not data. The
// cache file is locked (ioengine.FS.Lock) for the life of the store: a
// second store on the same file fails Open with ErrLocked rather than
// running cold, since it would overwrite the first one's regions. The
// file and its saved index are created with Options.FileMode (0600).
//
// The RAM index of the SSD is extendible hashing over small Robin Hood
// tables of 12-byte slots (32-bit fingerprint + packed
// region/offset/size/hits with 8 more hash bits): each shard keeps its load
// between 76% and 93% by growing, shrinking, splitting and merging alone, so
// the index follows the items both ways in steps of at most one shard
// (about 4096 slots), never a whole-table rehash under the cache lock, and
// costs 13 to 16 bytes per cached item at any size above a few thousand
// items (a few hundred bytes when empty). Items whose 40 stored hash bits
// collide share an entry (the later wins); the full key check on read makes
// a collision a miss, never wrong bytes. Deletes and overwrites only drop
// index entries and adjust per-region live bytes.
//
// On Close the SSD index is saved (write, fsync, rename, fsync dir) and
// loaded at the next Open, which removes it before serving. Without a valid
// saved index (a crash) Open rebuilds it from the regions: their headers,
// newest first, then their items up to the first bytes that do not decode
// (a zeroed end mark follows the last item), verifying each item's CRC; it
// reads at most the written part of the cache once, within SSDRebuildTime
// (30 s; older regions are left free), about 0.6 CPU-seconds per GiB plus
// the device's read time. A damaged item ends its region's scan and is
// never indexed. With nothing to rebuild (first start) the cache starts
// cold and logs why.
//
// The admission and eviction decisions live in I/O-free code (ssdCore,
// admissionPolicy, the otter RAM cache). The trace simulator (sim*.go,
// Simulator, behind `strata sim`) drives ssdCore and admissionPolicy
// unchanged; for its RAM tier it uses simRAM, a step-by-step model of
// otter's W-TinyLFU with a seeded hash (otter seeds its own at random), so a
// replay is deterministic for a seed. Its whole-object baselines (LRU, FIFO,
// S3-FIFO, SIEVE, Belady) reproduce libCacheSim's figures on the shared
// trace (docs/sim.md).
//
// # Caveats
//
//   - Store.Open always consults the backend index (Stat) for the current
//     version; only data reads are cached.
//   - The SSD cache keeps SSDRegionBuffers region-sized buffers in RAM
//     (64 MiB by default) on top of RAMCacheBytes, and an item being copied
//     into the fill buffer holds the cache lock for that memcpy.
//   - A rebuild after a crash can index copies the index had dropped
//     before it (deleted or reclaimed items still intact on flash): they
//     are clean copies under their full identity (key, version, checksum),
//     served only for that version, and reclaimed like any other.
//   - The SSD cache holds at most 512Ki regions (8 TiB of 16 MiB regions;
//     larger regions for larger SSDs).
//   - RAM weights approximate Go and otter overheads (192 bytes per entry
//     plus the allocator's rounding); measured, they cover 84% (100-byte
//     items) to 100% (1 MiB) of an item's real heap cost
//     (TestRAMWeightCoversHeap). Options.MemoryBytes is what the caches
//     hold at most, for the node's memory budget.
//   - Reinsertion rewrites every item read while resident; when the hot set
//     is larger than the SSD that is most of the SSD write traffic (the
//     real I/O benchmark measured about 2 reinsertions per admission): set
//     SSDWriteBytesPerSec/PerDay on flash with limited endurance.
//   - Store.Close closes the backend too.
//   - Fills are applied after the read returns: a read right after a miss
//     may miss again (and Locate, HEAD's tier, may say hdd) until the
//     filler ran; a fill dropped because the queue was full leaves the
//     item uncached until its next miss.
//   - A fill's epoch is taken at the first cache miss of a segment, not at
//     Open: an Object opened before a Put of its key and read after it
//     can cache its (old) version's items. They carry that version and
//     checksum in their key, so they are never served for the new version
//     (only to readers of the old one) and age out as cold.
package tiering
