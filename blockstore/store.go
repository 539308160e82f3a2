package blockstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"strata/ioengine"
)

var errNotExist = fs.ErrNotExist

// Store is the HDD tier: append-only volumes on one or more data
// directories, group commit, and the bbolt index. It is safe for
// concurrent use.
type Store struct {
	opts   Options
	log    *slog.Logger
	nodeID string // from Options, the index or the identity files
	clock  hlc
	index  *index
	dirs   []*dataDir

	volMu        sync.RWMutex
	volumes      map[uint32]*volume
	nextVolumeID atomic.Uint32

	bufs  bufferClasses // record buffers, 4 KiB up to a compressed chunk
	align int           // largest device alignment: every record buffer uses it
	useMu sync.RWMutex
	// composeMu keeps compaction from removing a volume between a
	// Compose's reading of its parts' locations and its index switch
	// (compose.go): Compose holds it shared, compaction's last check and
	// removal of a volume exclusively.
	composeMu sync.RWMutex
	closed    atomic.Bool
	closeMu   sync.Mutex

	stats storeCounters

	// manifests caches decoded manifests (manifestcache.go).
	manifests *manifestLRU

	compaction compactState // compact.go

	// check is set only in a Store that Check builds: scans report to it
	// instead of indexing, and nothing on disk is changed.
	check *checker

	scrub scrubber // scrub.go

	// clockStop ends the clock ceiling's refresher; clockDone is closed
	// when it has returned (clock.go).
	clockStop, clockDone chan struct{}
}

type storeCounters struct {
	records, bytes, groups          atomic.Uint64
	corruptions, writeErrors, reads atomic.Uint64
	tornTails                       atomic.Uint64
}

// Stats are the store's own counters; Devices has the per-disk ones.
type Stats struct {
	RecordsWritten  uint64        // records appended (blobs, chunks, manifests, tombstones)
	BytesWritten    uint64        // bytes written to volumes, padding included
	Groups          uint64        // group commits (one write + one fdatasync each)
	Corruptions     uint64        // records that failed a checksum, on read, in recovery or by scrub
	TornTails       uint64        // unacknowledged writes found torn by recovery (not corruption)
	WriteErrors     uint64        // failed writes/syncs (each retires a volume)
	IndexCommits    uint64        // bbolt transactions
	IndexedKeys     uint64        // key updates committed to bbolt
	IndexBusy       time.Duration // time spent in bbolt write transactions
	IndexErrors     uint64        // failed bbolt commit attempts (see Healthy)
	PendingKeys     int           // durable but not yet in bbolt
	PeakPendingKeys int           // the most PendingKeys has been since Open
	Volumes         int
	QueuedBytes     int64 // record bytes waiting in the appender queues
	QueuePeakBytes  int64 // the most one disk's queue ever held (at most Options.MaxQueueBytes)
	// LiveKeys and LiveBytes count the blobs committed to bbolt (not
	// tombstones, not corrupt entries: what List shows) and their sizes;
	// they lag writes by up to one index commit.
	LiveKeys  int64
	LiveBytes int64
	// Disks is per data directory: health (failed disks), usage and scrub
	// progress (diskhealth.go, scrub.go).
	Disks []DiskStats
	// Volumes and disks as garbage accounting sees them (garbage.go), and
	// what compaction did since Open (compact.go).
	VolumeUsage []VolumeUsage
	DiskUsage   []DiskUsage
	Compaction  CompactStats
	// ManifestCache is the cache of decoded manifests (Options.ManifestCacheBytes).
	ManifestCache ManifestCacheStats
}

// ManifestCacheStats describe the cache of decoded manifests.
type ManifestCacheStats struct {
	Items        int
	Bytes        int64
	Hits, Misses uint64
}

// Open opens (or creates) a store and runs recovery: every volume is
// scanned from the index's watermark, and the whole index is rebuilt from
// the volumes when index.db is missing or unreadable.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	s := &Store{
		opts:      opts,
		log:       opts.Logger,
		volumes:   make(map[uint32]*volume),
		manifests: newManifestLRU(opts.ManifestCacheBytes),
	}
	s.clock.now = opts.Now
	for i, dir := range opts.DataDirs {
		d, err := s.openDataDir(i, dir)
		if err != nil {
			s.releaseDirs()
			return nil, err
		}
		s.dirs = append(s.dirs, d)
		s.align = max(s.align, d.dev.Alignment())
	}
	s.bufs.init(opts.chunkBufferLen(s.align), opts.bigBufferLen(), s.align)

	ix, rebuild, err := openIndex(s.indexConfig())
	if err != nil {
		s.releaseDirs()
		return nil, err
	}
	s.index = ix
	ix.clock = s.clock.current
	ix.manifests = s.manifests
	if err := s.checkIdentities(); err != nil {
		s.releaseDirs()
		return nil, errors.Join(err, ix.close())
	}
	// A rebuild starts the indexer itself, to commit while it scans.
	err = s.recover(ctx, rebuild)
	if !ix.started.Load() {
		// Replaying a crash's lost tail is bounded; readiness does not wait
		// for (or compete on the disk with) bbolt's commits of it.
		ix.start()
	}
	if err != nil {
		s.closeFiles()
		s.releaseDirs()
		return nil, errors.Join(err, ix.close())
	}
	if err := s.startClock(); err != nil {
		s.closeFiles()
		s.releaseDirs()
		return nil, errors.Join(err, ix.close())
	}
	for _, d := range s.dirs {
		go d.app.run()
	}
	s.startCompactor()
	if err := s.startScrub(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Close commits what is queued, flushes the index (so the next Open only
// checks each volume's tail) and closes the files. Operations after Close
// return ErrClosed.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Swap(true) {
		return ErrClosed
	}
	s.stopCompactor()
	s.stopScrub()
	s.stopClock()
	for _, d := range s.dirs {
		d.app.close()
	}
	s.useMu.Lock() // wait for reads in flight
	err := s.index.close()
	s.closeFiles()
	s.releaseDirs()
	s.useMu.Unlock()
	return err
}

func (s *Store) closeFiles() {
	s.volMu.Lock()
	defer s.volMu.Unlock()
	for _, v := range s.volumes {
		v.h.Close()
	}
}

// enter guards an operation that uses files or the index against Close.
// Every successful enter is paired with exit.
func (s *Store) enter() error {
	s.useMu.RLock()
	if s.closed.Load() {
		s.useMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) exit() { s.useMu.RUnlock() }

// lookupLive returns the live entry of key, or an error wrapping
// ErrNotFound (no entry or a tombstone) or ErrCorrupt (the newest record
// failed its checksum in recovery: an older version is never served in its
// place).
func (s *Store) lookupLive(key string) (indexEntry, error) {
	e, ok, err := s.index.lookup(key)
	if err != nil {
		return e, err
	}
	switch {
	case !ok || e.tombstone():
		return e, errNotFoundKey(key)
	case e.corrupt():
		return e, fmt.Errorf("%w: %q: version %d at %s failed its checksum (found by recovery or scrub)", ErrCorrupt, key, e.version, e.loc)
	}
	if v, ok := s.volume(e.loc.volume); ok {
		if err := v.dir.failedErr(); err != nil {
			return e, fmt.Errorf("blockstore: %q: %w", key, err)
		}
	}
	return e, nil
}

// Stat returns the blob's Info from the index, without a device read.
func (s *Store) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := s.enter(); err != nil {
		return Info{}, err
	}
	defer s.exit()
	e, err := s.lookupLive(key)
	if err != nil {
		return Info{}, err
	}
	return e.info(key), nil
}

// Get returns the whole blob. A blob of at most one chunk costs exactly one
// device read. Bytes that fail a checksum are never returned: the error
// wraps ErrCorrupt. Large blobs are better read with NewReader.
func (s *Store) Get(ctx context.Context, key string) (Info, []byte, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return Info{}, nil, err
	}
	if !info.chunked {
		data, err := s.ReadChunk(ctx, info, 0)
		if err != nil {
			return Info{}, nil, err
		}
		return info, data, nil
	}
	if info.Size > int64(maxInt) {
		return Info{}, nil, fmt.Errorf("%w: %d bytes for Get; use NewReader", ErrTooLarge, info.Size)
	}
	data := make([]byte, 0, info.Size)
	for i := range info.NumChunks() {
		c, err := s.ReadChunk(ctx, info, i)
		if err != nil {
			return Info{}, nil, err
		}
		data = append(data, c...)
	}
	if got := crc32c(data); got != info.Checksum {
		s.stats.corruptions.Add(1)
		return Info{}, nil, fmt.Errorf("%w: %q content checksum %#08x, want %#08x", ErrCorrupt, key, got, info.Checksum)
	}
	return info, data, nil
}

const maxInt = int(^uint(0) >> 1)

// List returns up to limit live blobs whose keys start with prefix and sort
// after startAfter, in key order. limit <= 0 means 1000. Deleted keys and
// keys indexed as corrupt (Get answers ErrCorrupt) are left out.
func (s *Store) List(ctx context.Context, prefix, startAfter string, limit int) ([]Info, error) {
	if limit <= 0 {
		limit = 1000
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	ents, err := s.index.list(prefix, startAfter, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Info, len(ents))
	for i, ke := range ents {
		out[i] = ke.e.info(ke.key)
	}
	return out, nil
}

// Delete appends a durable tombstone and removes the key from the index.
//
// With opts.Version set, the tombstone is written whenever that version is
// newer than what the index holds: a live blob, a corrupt entry, an older
// tombstone, or nothing at all (a delete may arrive before the write it
// deletes, as hinted handoff and anti-entropy replay them), so an older Put
// arriving later is refused. A Version that is not newer than the current
// entry writes nothing (last writer wins).
//
// Without a Version, the store stamps the tombstone from its clock, but
// only when the key has a blob (live or corrupt): deleting a missing or
// already deleted key writes nothing, so a plain DELETE of a missing key
// stays a cheap 404.
//
// The error wraps ErrNotFound when the key had no blob (missing or
// deleted), whether or not a tombstone was written; that is information,
// not failure: any tombstone written is durable before Delete returns. A
// versioned delete older than the live blob returns nil.
func (s *Store) Delete(ctx context.Context, key string, opts DeleteOptions) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	cur, ok, err := s.index.lookup(key)
	if err != nil {
		return err
	}
	hadBlob := ok && !cur.tombstone()
	version := opts.Version
	if version != 0 {
		s.clock.observe(version)
		stone := indexEntry{flags: entryTombstone, version: version}
		if ok && !stone.newer(&cur) {
			if hadBlob {
				return nil
			}
			return errNotFoundKey(key)
		}
	} else {
		if !hadBlob {
			return errNotFoundKey(key)
		}
		version = s.clock.next()
	}
	h := recordHeader{flags: flagTombstone, version: version, modTime: s.modTime()}
	buf := s.getBuf(recordOverhead + len(key))
	defer s.putBuf(buf)
	rec := finishRecord(buf.B, h, key, "", nil)
	op := indexOp{kind: opKey, key: key, e: indexEntry{flags: entryTombstone, version: version, modTime: h.modTime}}
	if _, err := s.write(ctx, s.pickDir(nil, true), rec, op); err != nil {
		return fmt.Errorf("blockstore: delete %q: %w", key, err)
	}
	if !hadBlob {
		return fmt.Errorf("%w: %q (tombstone at version %d written)", ErrNotFound, key, version)
	}
	return nil
}

// modTime is now in unix nanoseconds at millisecond precision, which is
// what the index keeps.
func (s *Store) modTime() int64 { return s.opts.Now().UnixMilli() * 1e6 }

// NodeID is the id of the node that owns the data directories (see
// Options.NodeID).
func (s *Store) NodeID() string { return s.nodeID }

// Devices returns the per-disk counters of the data directories.
func (s *Store) Devices() []ioengine.DeviceStats {
	out := make([]ioengine.DeviceStats, len(s.dirs))
	for i, d := range s.dirs {
		out[i] = d.dev.Stats()
	}
	return out
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.index.mu.Lock()
	pending, peakPending := len(s.index.pending), s.index.peakPending
	s.index.mu.Unlock()
	s.volMu.RLock()
	nvol := len(s.volumes)
	s.volMu.RUnlock()
	var queued, queuePeak int64
	for _, d := range s.dirs {
		used, peak := d.app.budget.state()
		queued += used
		queuePeak = max(queuePeak, peak)
	}
	volumeUsage, diskUsage := s.usage()
	var mcs ManifestCacheStats
	mcs.Items, mcs.Bytes, mcs.Hits, mcs.Misses = s.manifests.state()
	return Stats{
		ManifestCache:   mcs,
		VolumeUsage:     volumeUsage,
		DiskUsage:       diskUsage,
		Compaction:      s.compactStats(),
		QueuedBytes:     queued,
		QueuePeakBytes:  queuePeak,
		RecordsWritten:  s.stats.records.Load(),
		BytesWritten:    s.stats.bytes.Load(),
		Groups:          s.stats.groups.Load(),
		Corruptions:     s.stats.corruptions.Load(),
		TornTails:       s.stats.tornTails.Load(),
		WriteErrors:     s.stats.writeErrors.Load(),
		IndexCommits:    s.index.commits.Load(),
		IndexedKeys:     s.index.committed.Load(),
		IndexBusy:       time.Duration(s.index.commitTime.Load()),
		IndexErrors:     s.index.commitErrors.Load(),
		PendingKeys:     pending,
		PeakPendingKeys: peakPending,
		Volumes:         nvol,
		LiveKeys:        s.index.liveKeys.Load(),
		LiveBytes:       s.index.liveBytes.Load(),
		Disks:           s.diskStats(),
	}
}

// Healthy is nil when the index commits and at least one data directory
// accepts writes; else the error wraps ErrNoSpace or ErrReadOnly (and
// ErrIndexFailed when the index cannot commit), or only ErrDiskFailed
// when every disk failed (then nothing serves).
func (s *Store) Healthy() error {
	return s.anyDir(func(d *dataDir) error { return d.accepting(s, false) })
}

// pickDir returns the healthy directory with the most free space, skipping
// those in tried. nil when none is healthy.
func (s *Store) pickDir(tried []*dataDir, deletes bool) *dataDir {
	d, _ := s.pickDirErr(tried, deletes)
	return d
}

// pickDirErr is pickDir with, when no directory is healthy, why not (the
// directories' errors, from the same look that chose none).
func (s *Store) pickDirErr(tried []*dataDir, deletes bool) (*dataDir, error) {
	var best *dataDir
	var bestFree int64
	var errs []error
	for _, d := range s.dirs {
		if slices.Contains(tried, d) {
			continue
		}
		if err := d.accepting(s, deletes); err != nil {
			errs = append(errs, err)
			continue
		}
		if f := d.freeBytes(s); best == nil || f > bestFree {
			best, bestFree = d, f
		}
	}
	if best == nil {
		if len(errs) == 0 {
			return nil, fmt.Errorf("%w: no data directory accepts writes", ErrReadOnly)
		}
		return nil, errors.Join(errs...)
	}
	return best, nil
}

// write appends one record through d's appender and waits until it is
// durable (and, for key ops, visible). When a directory cannot make a
// volume, nothing was written and another directory is tried.
func (s *Store) write(ctx context.Context, d *dataDir, rec []byte, op indexOp) (location, error) {
	return s.writeRecord(ctx, d, rec, op, nil, false)
}

// writeOps is write with more key ops applied with op, in the same pending
// update and bbolt batch: Compose's tombstones for its parts, which have
// no record of their own (their location is the record's volume and
// offset with length 0).
func (s *Store) writeOps(ctx context.Context, d *dataDir, rec []byte, op indexOp, also []indexOp) (location, error) {
	return s.writeRecord(ctx, d, rec, op, also, false)
}

// writeCopy is write for a compaction copy, which may go to a volume made
// in the disk's space reserve (Options.SpaceReserve).
func (s *Store) writeCopy(ctx context.Context, d *dataDir, rec []byte) (location, error) {
	return s.writeRecord(ctx, d, rec, indexOp{}, nil, true)
}

func (s *Store) writeRecord(ctx context.Context, d *dataDir, rec []byte, op indexOp, also []indexOp, isCopy bool) (location, error) {
	if err := s.index.writable(); err != nil {
		return location{}, err
	}
	var tried []*dataDir
	var lastErr error
	for {
		if d == nil && lastErr == nil {
			// The caller found no directory: say why, from one look at
			// them (which may find one now: space comes back as
			// compaction removes volumes).
			if err := s.Healthy(); err != nil && !errors.Is(err, ErrNoSpace) {
				return location{}, err
			}
			var err error
			if d, err = s.pickDirErr(tried, op.kind == opKey && op.e.tombstone() || isCopy); d == nil {
				return location{}, err
			}
		}
		if d == nil {
			return location{}, lastErr
		}
		req := &appendReq{rec: rec, op: op, also: also, done: make(chan appendResult, 1), reserve: op.kind == opKey && op.e.tombstone(), copy: isCopy}
		if err := d.app.submit(ctx, req); err != nil {
			return location{}, err
		}
		// Once queued, the write finishes on its own (bounded by the
		// device); waiting for it keeps buffer ownership simple.
		res := <-req.done
		if res.err == nil {
			return res.loc, nil
		}
		if !res.retry {
			return location{}, res.err
		}
		lastErr = res.err
		tried = append(tried, d)
		d = s.pickDir(tried, req.reserve || isCopy)
	}
}

// getBuf returns an aligned buffer of at least n bytes (rounded up to the
// alignment), from a pool when its size class has one.
func (s *Store) getBuf(n int) *ioengine.Buffer {
	if b := s.bufs.get(n); b != nil {
		return b
	}
	return &ioengine.Buffer{B: ioengine.AlignedBytes(int(ioengine.AlignUp(int64(n), s.align)), s.align)}
}

func (s *Store) putBuf(b *ioengine.Buffer) {
	if b != nil {
		s.bufs.put(b)
	}
}

// bufferClasses keeps aligned buffers in power-of-two sizes from 8 KiB up
// to the largest record buffer, so a 4 KiB blob does not hold 64 KiB, a
// 1 MiB blob does not hold a chunk-sized buffer, and a chunked Put reuses
// its two buffers' memory chunk after chunk.
//
// Free buffers wait in bounded channels rather than a sync.Pool: a pool is
// emptied by every GC, and a fresh buffer costs page faults when O_DIRECT
// pins it for the device, which showed as slower cold reads. Each class
// keeps at most 32 MiB (and at least 2 buffers).
type bufferClasses struct {
	align int
	sizes []int
	free  []chan *ioengine.Buffer
}

func (c *bufferClasses) init(chunkLen, maxLen, align int) {
	c.align = align
	for size := max(8<<10, align); size < chunkLen; size *= 2 {
		c.sizes = append(c.sizes, size)
	}
	// Exact classes for a chunk record and its worst-case compressed
	// form, so a chunk does not sit in a buffer twice its size.
	c.sizes = append(c.sizes, chunkLen)
	if maxLen > chunkLen {
		c.sizes = append(c.sizes, maxLen)
	}
	c.free = make([]chan *ioengine.Buffer, len(c.sizes))
	for i, size := range c.sizes {
		c.free[i] = make(chan *ioengine.Buffer, max(2, min(1024, (32<<20)/size)))
	}
}

func (c *bufferClasses) get(n int) *ioengine.Buffer {
	for i, size := range c.sizes {
		if n <= size {
			var b *ioengine.Buffer
			select {
			case b = <-c.free[i]:
			default:
				b = &ioengine.Buffer{B: ioengine.AlignedBytes(size, c.align)}
			}
			b.B = b.B[:cap(b.B)][:ioengine.AlignUp(int64(n), c.align)]
			return b
		}
	}
	return nil
}

func (c *bufferClasses) put(b *ioengine.Buffer) {
	for i, size := range c.sizes {
		if cap(b.B) == size {
			select {
			case c.free[i] <- b:
			default: // full: let the GC have it
			}
			return
		}
	}
}
