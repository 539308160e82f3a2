package blockstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"strata/ioengine"
)

// IndexFileName is the bbolt file inside Options.IndexDir.
const IndexFileName = "index.db"

var (
	bucketKeys    = []byte("keys")
	bucketVolumes = []byte("volumes")
	bucketMeta    = []byte("meta")
	metaMaxVer    = []byte("max-version")
	// metaClockCeiling is the version clock's persisted ceiling: every
	// version issued is below it (hlc.go).
	metaClockCeiling = []byte("clock-ceiling")
	metaCleanClose   = []byte("clean-close")
	// metaLiveKeys and metaLiveBytes count the live (non-tombstone) keys
	// and their blob bytes, kept in the same transactions as the keys.
	metaLiveKeys  = []byte("live-keys")
	metaLiveBytes = []byte("live-bytes")
	// bucketDropped maps a key Drop forgot to the highest version it was
	// dropped at: its records up to there may lie in the volumes without
	// an index entry. Made by the first drop; Check reads it.
	bucketDropped = []byte("dropped")
)

// maxTxOps bounds one bbolt transaction so a huge backlog is committed in
// steps and pending entries are released as it goes.
const maxTxOps = 1 << 20

// Index op kinds.
const (
	opNone      uint8 = iota // nothing to index (chunk records)
	opKey                    // set a key (blob or tombstone) under last-writer-wins
	opWatermark              // volume is indexed up to end
	opVolState               // volume changed state (sealed/failed) with valid end
	opDrop                   // delete a key's entry if it is still at e.version (Drop)
	opCorrupt                // mark a key corrupt if still at e.version and e.loc (scrub.go)
	opExpire                 // delete a key's tombstone if it is still e (tombstone expiry)
)

// keyed reports whether op changes a key (rather than a volume's record).
func (op *indexOp) keyed() bool {
	return op.kind == opKey || op.kind == opDrop || op.kind == opCorrupt || op.kind == opExpire
}

// indexOp is one change queued for the indexer. Ops are committed in queue
// order; a watermark op follows the key ops of the group it covers.
type indexOp struct {
	kind  uint8
	state uint8
	vol   uint32
	end   int64
	key   string
	e     indexEntry
}

// volumeRecord is the index's knowledge of one volume.
type volumeRecord struct {
	state     uint8
	watermark int64 // records before this offset are in the keys bucket
	end       int64 // sealed/failed: valid data ends here
}

func (r volumeRecord) encode() []byte {
	b := []byte{1, r.state}
	b = binary.AppendUvarint(b, uint64(r.watermark))
	return binary.AppendUvarint(b, uint64(r.end))
}

func decodeVolumeRecord(b []byte) (volumeRecord, error) {
	var r volumeRecord
	if len(b) < 2 || b[0] != 1 || b[1] > volCompacted {
		return r, fmt.Errorf("%w: volume record format", ErrCorrupt)
	}
	r.state = b[1]
	w, n := binary.Uvarint(b[2:])
	if n <= 0 {
		return r, fmt.Errorf("%w: volume watermark", ErrCorrupt)
	}
	e, m := binary.Uvarint(b[2+n:])
	if m <= 0 || w > 1<<62 || e > 1<<62 {
		return r, fmt.Errorf("%w: volume end", ErrCorrupt)
	}
	r.watermark, r.end = int64(w), int64(e)
	return r, nil
}

func volumeKey(id uint32) []byte { return binary.BigEndian.AppendUint32(nil, id) }

// index is the key -> location map: a bbolt file plus the pending entries
// that are durable in a volume but not yet committed to bbolt.
type index struct {
	db  *bolt.DB
	log *slog.Logger
	// manifests is the store's manifest cache: apply drops the item of
	// every key it changes (nil: none).
	manifests *manifestLRU
	// snaps is the read transaction lookups share (snapshot.go).
	snaps lookupSnaps
	lock  io.Closer // the index directory's lock; nil when a data dir's covers it

	// mu guards the fields below. Lookups (every Get and Stat) only read
	// pending, so they share it rather than queue on each other.
	mu       sync.RWMutex
	wake     chan struct{} // indexer: more queued, a flush or closing
	flushing int           // callers waiting in flush
	space    *sync.Cond    // producers: queue shrank; flushers: committed
	pending  map[string]indexEntry
	// peakPending is the most entries pending has held (for Stats).
	peakPending int
	queue       []indexOp
	maxQueue    int
	inflight    int // ops taken by the indexer, not yet committed
	closing     bool
	failed      error // last commit error, for flush and logging
	// broken is set when a batch failed every commit attempt: the index
	// storage is suspect, nothing more is committed, and writers are
	// refused (see writable). Pending entries stay readable from memory;
	// the next Open replays them from the volumes. Atomic, so writers
	// check it without queueing on mu behind apply.
	broken atomic.Pointer[error]
	// maxApplied is the highest version apply has seen. An op above it is
	// newer than anything pending or in bbolt, for any key, so it needs no
	// bbolt lookup: the common case with store-assigned versions.
	maxApplied uint64
	// unbounded lifts the backpressure while recovery replays what an
	// existing index lost at a crash: at most what was queued then (about
	// maxQueue + maxTxOps), so readiness does not wait for bbolt.
	unbounded bool
	// drops counts Drop's markers, to tell them apart (dropMarker).
	drops uint64
	// clock, when set, is the store's version clock: every commit (and
	// Close) stores its current stamp with the highest version, so versions
	// issued by NextVersion for writes held only elsewhere (a coordinator
	// that is not a home) stay below the clock after a restart. The clock
	// ceiling (hlc.go, putClockCeiling) covers those issued since the last
	// commit; this is the fallback when the ceiling cannot be written.
	clock   func() uint64
	done    chan struct{}
	started atomic.Bool   // start ran: close waits for done
	stop    chan struct{} // closed by close: ends a retry wait at once

	// retryDelay is the wait in nanoseconds before the first retry of a
	// failed commit, doubling for each of commitAttempts; tests shorten it.
	retryDelay atomic.Int64
	// commitFault, when set (tests only), fails every commit transaction
	// with its error before anything is written.
	commitFault atomic.Pointer[error]
	// commitHook, when set (tests only), runs before each commit attempt
	// with its batch: a test can hold the batch in flight.
	commitHook atomic.Pointer[func([]indexOp)]

	commits      atomic.Uint64
	committed    atomic.Uint64 // key ops committed
	commitTime   atomic.Int64  // nanoseconds spent in bbolt transactions
	commitErrors atomic.Uint64 // failed commit attempts
	liveKeys     atomic.Int64  // committed live keys (as in metaLiveKeys)
	liveBytes    atomic.Int64  // their blob bytes (as in metaLiveBytes)
	garbage      volumeGarbage // per-volume live bytes (garbage.go)
}

// indexConfig is what openIndex needs from the Options.
type indexConfig struct {
	dir        string
	fs         ioengine.FS // directory work; bbolt opens the real file
	lockDir    bool        // false when a data directory lock covers dir
	perm       os.FileMode
	mmapSize   int
	queueLimit int
	log        *slog.Logger
}

func (s *Store) indexConfig() indexConfig {
	lockDir := true
	for _, d := range s.opts.DataDirs {
		if filepath.Clean(d) == filepath.Clean(s.opts.IndexDir) && s.opts.FS == s.opts.IndexFS {
			lockDir = false
		}
	}
	return indexConfig{
		dir:        s.opts.IndexDir,
		fs:         s.opts.IndexFS,
		lockDir:    lockDir,
		perm:       s.opts.FileMode,
		mmapSize:   s.opts.IndexMmapSize,
		queueLimit: s.opts.IndexQueueLimit,
		log:        s.log,
	}
}

// openIndex opens or creates the bbolt file. rebuild is true when the file
// was missing or unreadable (the unreadable one is kept aside as
// index.db.corrupt-<unix>), so every volume must be scanned from 0.
func openIndex(cfg indexConfig) (ix *index, rebuild bool, err error) {
	dir, log := cfg.dir, cfg.log
	var lock io.Closer
	if cfg.lockDir {
		lock, err = prepareDir(cfg.fs, dir)
	} else {
		err = ioengine.MkdirAllDurable(cfg.fs, dir)
	}
	if err != nil {
		return nil, false, fmt.Errorf("blockstore: index dir %s: %w", dir, err)
	}
	defer func() {
		if err != nil && lock != nil {
			lock.Close()
		}
	}()
	path := filepath.Join(dir, IndexFileName)
	if _, err := cfg.fs.Stat(path); errors.Is(err, os.ErrNotExist) {
		rebuild = true
	}
	opts := &bolt.Options{
		Timeout:         2 * time.Second,
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  true,
		InitialMmapSize: cfg.mmapSize,
		// Statistics cost every read transaction two more acquisitions
		// of one DB-wide mutex; nothing reads them.
		NoStatistics: true,
	}
	db, err := openBolt(path, cfg.perm, opts)
	if err != nil && !errors.Is(err, errIndexLocked) {
		aside := fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix())
		log.Error("blockstore: index unreadable; rebuilding from volumes", "path", path, "err", err, "moved_to", aside)
		if rerr := cfg.fs.Rename(path, aside); rerr != nil {
			return nil, false, fmt.Errorf("blockstore: move unreadable index aside: %w (open: %v)", rerr, err)
		}
		rebuild = true
		db, err = openBolt(path, cfg.perm, opts)
	}
	if err != nil {
		return nil, false, fmt.Errorf("blockstore: open index %s: %w", path, err)
	}
	if rebuild {
		// bbolt made a new file (or the bad one was moved aside): make
		// the directory entries durable before anything relies on them.
		if err = cfg.fs.SyncDir(dir); err != nil {
			db.Close()
			return nil, false, fmt.Errorf("blockstore: index dir %s: %w", dir, err)
		}
	}
	ix = &index{
		db:       db,
		log:      log,
		lock:     lock,
		pending:  make(map[string]indexEntry),
		maxQueue: cfg.queueLimit,
		done:     make(chan struct{}),
		stop:     make(chan struct{}),
	}
	ix.retryDelay.Store(int64(50 * time.Millisecond))
	ix.wake = make(chan struct{}, 1)
	ix.space = sync.NewCond(&ix.mu)
	if err := errors.Join(ix.loadLiveCounts(), ix.loadGarbage(rebuild)); err != nil {
		db.Close()
		return nil, false, fmt.Errorf("blockstore: open index %s: %w", path, err)
	}
	return ix, rebuild, nil
}

// loadLiveCounts reads the live key and byte counts, counting them (one
// pass over the keys) in an index written before they were kept; the next
// commit stores them. Read-only, so an index on a full disk still opens.
func (ix *index) loadLiveCounts() error {
	return ix.db.View(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMeta)
		k, b := mb.Get(metaLiveKeys), mb.Get(metaLiveBytes)
		if len(k) == 8 && len(b) == 8 {
			ix.liveKeys.Store(int64(binary.BigEndian.Uint64(k)))
			ix.liveBytes.Store(int64(binary.BigEndian.Uint64(b)))
			return nil
		}
		var keys, bytes int64
		err := tx.Bucket(bucketKeys).ForEach(func(_, v []byte) error {
			if e, ok := decodeEntryOrZero(v); ok && e.live() {
				keys++
				bytes += e.size
			}
			return nil
		})
		ix.liveKeys.Store(keys)
		ix.liveBytes.Store(bytes)
		return err
	})
}

func putLiveCounts(mb *bolt.Bucket, keys, bytes int64) error {
	if err := mb.Put(metaLiveKeys, binary.BigEndian.AppendUint64(nil, uint64(keys))); err != nil {
		return err
	}
	return mb.Put(metaLiveBytes, binary.BigEndian.AppendUint64(nil, uint64(bytes)))
}

var errIndexLocked = errors.New("blockstore: index file is locked by another process")

// openBolt opens the file and checks it has the buckets, creating them
// unless opts.ReadOnly (fsck's check, which must change nothing). bbolt
// panics on some corrupt files; that is turned into an error here.
func openBolt(path string, perm os.FileMode, opts *bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt: %v", ErrCorrupt, r)
			if db != nil {
				db.Close()
				db = nil
			}
		}
	}()
	if err := checkBoltLength(path); err != nil {
		return nil, err
	}
	db, err = bolt.Open(path, perm, opts)
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %w", errIndexLocked, err)
		}
		return nil, err
	}
	buckets := func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKeys, bucketVolumes, bucketMeta} {
			switch {
			case !tx.Writable():
				if tx.Bucket(b) == nil {
					return fmt.Errorf("%w: bucket %q missing", ErrCorrupt, b)
				}
			default:
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if opts.ReadOnly {
		err = db.View(buckets)
	} else {
		err = db.Update(buckets)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// loadState reads the volume records and the highest version committed.
func (ix *index) loadState() (map[uint32]volumeRecord, uint64, error) {
	vols := make(map[uint32]volumeRecord)
	var maxVer uint64
	err := ix.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaMaxVer); len(v) == 8 {
			maxVer = binary.BigEndian.Uint64(v)
		}
		return tx.Bucket(bucketVolumes).ForEach(func(k, v []byte) error {
			if len(k) != 4 {
				return fmt.Errorf("%w: volume key %x", ErrCorrupt, k)
			}
			r, err := decodeVolumeRecord(v)
			if err != nil {
				return err
			}
			vols[binary.BigEndian.Uint32(k)] = r
			return nil
		})
	})
	return vols, maxVer, err
}

// lookup returns the current entry of key (which may be a tombstone).
func (ix *index) lookup(key string) (indexEntry, bool, error) {
	ix.mu.RLock()
	e, ok := ix.pending[key]
	ix.mu.RUnlock()
	if ok {
		if e.dropped() {
			return indexEntry{}, false, nil
		}
		return e, true, nil
	}
	// Only after pending missed (see snapshot.go).
	if sn := ix.snaps.acquire(); sn != nil {
		var err error
		if v := sn.keys.Get([]byte(key)); v != nil {
			e, err = decodeEntry(v)
			ok = err == nil
		}
		sn.release()
		if err != nil {
			return indexEntry{}, false, fmt.Errorf("blockstore: index lookup: %w", err)
		}
		return e, ok, nil
	}
	err := ix.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketKeys).Get([]byte(key))
		if v == nil {
			return nil
		}
		var derr error
		e, derr = decodeEntry(v)
		ok = derr == nil
		return derr
	})
	if err != nil {
		return indexEntry{}, false, fmt.Errorf("blockstore: index lookup: %w", err)
	}
	return e, ok, nil
}

// apply makes durable records visible: key ops enter the pending index
// (last writer wins against pending and bbolt), and all ops are queued for
// the indexer. It blocks while the indexer is too far behind.
func (ix *index) apply(ops []indexOp) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.waitForRoom()
	var tx *bolt.Tx
	defer func() {
		if tx != nil {
			tx.Rollback()
		}
	}()
	seen := ix.maxApplied
	for i := range ops {
		op := &ops[i]
		if op.kind != opKey {
			continue
		}
		ix.manifests.drop(op.key)
		ix.maxApplied = max(ix.maxApplied, op.e.version)
		cur, ok := ix.pending[op.key]
		if ok && cur.dropped() {
			// Dropped: the key is forgotten, so any version is news. The
			// indexer commits the drop before this op, so bbolt agrees.
			ix.pending[op.key] = op.e
			continue
		}
		if !ok && op.e.version <= seen {
			if tx == nil {
				var err error
				if tx, err = ix.db.Begin(false); err != nil {
					// The indexer re-checks in its transaction; pending
					// just goes without the comparison.
					ix.log.Error("blockstore: index read for pending", "err", err)
				}
			}
			if tx != nil {
				if v := tx.Bucket(bucketKeys).Get([]byte(op.key)); v != nil {
					cur, ok = decodeEntryOrZero(v)
				}
			}
		}
		if !ok || op.e.newer(&cur) {
			ix.pending[op.key] = op.e
		}
	}
	ix.peakPending = max(ix.peakPending, len(ix.pending))
	ix.queue = append(ix.queue, ops...)
	ix.signal()
}

// waitForRoom holds a producer back while the indexer is too far behind.
// Called with mu held.
func (ix *index) waitForRoom() {
	for len(ix.queue) >= ix.maxQueue && !ix.closing && !ix.unbounded && ix.broken.Load() == nil {
		ix.space.Wait()
	}
}

// drop forgets key if its current entry is at version: a drop marker takes
// its place in pending (so lookups and lists no longer see it) and an
// opDrop is queued, which the indexer commits in order with the other ops,
// deleting the bbolt entry only if it is still at version. It reports
// whether the entry was at version.
func (ix *index) drop(key string, version uint64) (bool, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.waitForRoom()
	cur, ok := ix.pending[key]
	if !ok {
		err := ix.db.View(func(tx *bolt.Tx) error {
			v := tx.Bucket(bucketKeys).Get([]byte(key))
			if v == nil {
				return nil
			}
			var derr error
			cur, derr = decodeEntry(v)
			ok = derr == nil
			return derr
		})
		if err != nil {
			return false, fmt.Errorf("blockstore: index lookup for drop: %w", err)
		}
	}
	if !ok || cur.dropped() || cur.version != version {
		return false, nil
	}
	ix.manifests.drop(key)
	ix.drops++
	marker := dropMarker(version, ix.drops)
	ix.pending[key] = marker
	ix.queue = append(ix.queue, indexOp{kind: opDrop, key: key, e: marker})
	ix.signal()
	return true, nil
}

// dropMarker is the pending entry of a key Drop forgot at version. seq,
// unique per index, is kept in modTime (which a marker has no use for):
// the indexer removes a committed op's entry from pending only if it is
// still that op's (==), and two drops of one key at one version (dropped,
// written again at that version, dropped again while the first drop's
// batch was in flight) must not look alike, or the first drop's commit
// would take away the second's marker and show the write in between until
// the second drop commits.
func dropMarker(version, seq uint64) indexEntry {
	return indexEntry{flags: entryDropped, version: version, modTime: int64(seq)}
}

func (ix *index) signal() {
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

// The indexer commits once minTxOps ops are queued, or maxTxDelay after
// its previous commit, or at once for a flush or Close. Thousands of keys
// per transaction keep bbolt's fsyncs few, which matters when the index
// shares a disk with the volumes.
const (
	minTxOps   = 8192
	maxTxDelay = 100 * time.Millisecond
)

func decodeEntryOrZero(v []byte) (indexEntry, bool) {
	e, err := decodeEntry(v)
	return e, err == nil
}

// start runs the indexer goroutine.
func (ix *index) start() {
	ix.started.Store(true)
	go ix.run()
}

// run is the indexer goroutine: it commits whatever is queued in one bbolt
// transaction, then drops the committed entries from pending.
func (ix *index) run() {
	defer close(ix.done)
	var timer *time.Timer
	var spare []indexOp
	lastCommit := time.Now()
	for {
		ix.mu.Lock()
		// Producers held back by the queue limit are waiting: no timer.
		queued, urgent := len(ix.queue), ix.closing || ix.flushing > 0 || len(ix.queue) >= ix.maxQueue
		if queued == 0 && ix.closing {
			ix.mu.Unlock()
			return
		}
		if queued == 0 || (queued < minTxOps && !urgent && time.Since(lastCommit) < maxTxDelay) {
			ix.mu.Unlock()
			var expired <-chan time.Time
			if queued > 0 {
				wait := maxTxDelay - time.Since(lastCommit)
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				expired = timer.C
			}
			select {
			case <-ix.wake:
			case <-expired:
			}
			continue
		}
		lastCommit = time.Now()
		n := min(len(ix.queue), maxTxOps)
		var batch []indexOp
		if n == len(ix.queue) {
			// The usual case: take the whole queue, hand back the slice
			// of the previous batch.
			batch, ix.queue = ix.queue, spare[:0]
		} else {
			batch = slices.Clone(ix.queue[:n])
			ix.queue = slices.Delete(ix.queue, 0, n)
		}
		ix.inflight = n
		ix.space.Broadcast()
		ix.mu.Unlock()

		err := ix.commitWithRetry(batch)

		ix.mu.Lock()
		ix.inflight = 0
		if err != nil {
			// Suspect storage: stop committing (a retried write on a
			// failing device can make things worse, and each attempt
			// holds the queue), refuse writers, keep the entries pending
			// so reads stay right. The next Open replays them from the
			// volumes, whose watermarks this batch did not advance.
			ix.failed = err
			ix.broken.Store(&err)
			ix.queue = append(batch, ix.queue...)
			ix.log.Error("blockstore: index commit failed every attempt; index is read-only, writes refused, entries stay pending until restart",
				"err", err, "pending_ops", len(ix.queue))
			ix.space.Broadcast()
			for !ix.closing {
				ix.space.Wait()
			}
			ix.mu.Unlock()
			return
		}
		ix.failed = nil
		for i := range batch {
			op := &batch[i]
			if !op.keyed() {
				continue
			}
			if p, ok := ix.pending[op.key]; ok && p == op.e {
				delete(ix.pending, op.key)
			}
		}
		ix.space.Broadcast()
		ix.mu.Unlock()
		if cap(batch) <= 2*maxTxOps {
			clear(batch) // drop key strings for the GC
			spare = batch[:0]
		}
	}
}

// commitAttempts is how often one batch is tried before the index is
// declared broken.
const commitAttempts = 5

// commitWithRetry commits a batch, retrying a few times with a doubling
// wait that Close cuts short (the batch then stays queued).
func (ix *index) commitWithRetry(batch []indexOp) error {
	delay := time.Duration(ix.retryDelay.Load())
	for attempt := 1; ; attempt++ {
		err := ix.commit(batch)
		if err == nil {
			return nil
		}
		ix.commitErrors.Add(1)
		if attempt >= commitAttempts {
			return err
		}
		ix.log.Error("blockstore: index commit failed; retrying", "err", err, "attempt", attempt)
		t := time.NewTimer(delay)
		select {
		case <-ix.stop:
			t.Stop()
			return fmt.Errorf("closing during commit retries: %w", err)
		case <-t.C:
		}
		delay *= 2
	}
}

// writable is nil unless the index is broken; then the error wraps
// ErrReadOnly and ErrIndexFailed.
func (ix *index) writable() error {
	if broken := ix.broken.Load(); broken != nil {
		return fmt.Errorf("%w: %w: %w", ErrReadOnly, ErrIndexFailed, *broken)
	}
	return nil
}

// commit writes one batch in one transaction: keys in sorted order under
// last-writer-wins, then volume watermarks and states, then the highest
// version.
func (ix *index) commit(batch []indexOp) error {
	if hook := ix.commitHook.Load(); hook != nil {
		(*hook)(batch)
	}
	keys := make([]int, 0, len(batch))
	for i := range batch {
		if batch[i].keyed() {
			keys = append(keys, i)
		}
	}
	slices.SortStableFunc(keys, func(a, b int) int { return strings.Compare(batch[a].key, batch[b].key) })
	started := time.Now()
	defer func() { ix.commitTime.Add(int64(time.Since(started))) }()
	var liveKeys, liveBytes int64 // after this batch; only the indexer commits
	var live liveDelta
	err := ix.update(func(tx *bolt.Tx) error {
		live = liveDelta{}
		if fault := ix.commitFault.Load(); fault != nil {
			return *fault
		}
		arena := make([]byte, 0, 64<<10)
		kb := tx.Bucket(bucketKeys)
		kb.FillPercent = 0.9
		var maxVer uint64
		liveKeys, liveBytes = ix.liveKeys.Load(), ix.liveBytes.Load()
		for _, i := range keys {
			op := &batch[i]
			// bbolt keeps the slices until commit: one arena, never reused
			// within the transaction.
			start := len(arena)
			arena = append(arena, op.key...)
			k := arena[start:len(arena):len(arena)]
			if op.kind == opDrop {
				dropped, err := commitDrop(tx, kb, k, op.e.version)
				if err != nil {
					return err
				}
				if dropped.live() {
					liveKeys, liveBytes = liveKeys-1, liveBytes-dropped.size
				}
				live.remove(&dropped)
				continue
			}
			if op.kind == opCorrupt {
				var err error
				if arena, liveKeys, liveBytes, err = commitCorrupt(kb, k, &op.e, arena, liveKeys, liveBytes, live); err != nil {
					return err
				}
				continue
			}
			if op.kind == opExpire {
				if err := commitExpire(kb, k, &op.e, live); err != nil {
					return err
				}
				continue
			}
			e := op.e
			if cur := kb.Get(k); cur != nil {
				c, ok := decodeEntryOrZero(cur)
				if ok && !op.e.newer(&c) {
					if c.loc != op.e.loc {
						// The record lost as soon as it was written: an
						// older record the entry's tombstone must outlive.
						if nc, changed := ix.addShadow(c, op.e.loc.volume); changed {
							start = len(arena)
							arena = nc.encode(arena)
							if err := kb.Put(k, arena[start:len(arena):len(arena)]); err != nil {
								return err
							}
						}
					}
					continue
				}
				if ok && c.live() {
					liveKeys, liveBytes = liveKeys-1, liveBytes-c.size
				}
				if ok {
					live.install(&op.e, &c)
					e = ix.shadowed(e, &c)
				} else {
					live.install(&op.e, nil)
				}
			} else {
				live.install(&op.e, nil)
				if droppedVersion(tx, op.key) != 0 {
					// Drop left the key's records in the volumes, unnamed.
					e = ix.shadowed(e, &indexEntry{}, shadowUnknown)
				}
			}
			if op.e.live() {
				liveKeys, liveBytes = liveKeys+1, liveBytes+op.e.size
			}
			start = len(arena)
			arena = e.encode(arena)
			if err := kb.Put(k, arena[start:len(arena):len(arena)]); err != nil {
				return err
			}
			maxVer = max(maxVer, op.e.version)
		}
		vb := tx.Bucket(bucketVolumes)
		for i := range batch {
			op := &batch[i]
			if op.keyed() {
				continue
			}
			k := volumeKey(op.vol)
			var r volumeRecord
			if v := vb.Get(k); v != nil {
				r, _ = decodeVolumeRecord(v)
			}
			switch op.kind {
			case opWatermark:
				r.watermark = max(r.watermark, op.end)
			case opVolState:
				r.state, r.end = op.state, op.end
				r.watermark = min(r.watermark, op.end)
				if op.state != volOpen {
					// Everything before the valid end was indexed by the
					// ops queued before this one.
					r.watermark = op.end
				}
			}
			if err := vb.Put(k, r.encode()); err != nil {
				return err
			}
		}
		if err := putLive(tx, live); err != nil {
			return err
		}
		mb := tx.Bucket(bucketMeta)
		if err := putLiveCounts(mb, liveKeys, liveBytes); err != nil {
			return err
		}
		return putMaxVersion(mb, ix.clockStamp(maxVer))
	})
	if err == nil {
		ix.commits.Add(1)
		ix.committed.Add(uint64(len(keys)))
		ix.liveKeys.Store(liveKeys)
		ix.liveBytes.Store(liveBytes)
		ix.addLive(live)
	}
	return err
}

// commitDrop deletes key's entry in kb if it is at version, and then
// records in the dropped bucket that the key's records up to version are
// meant to be missing from the index (so Check does not take them for lost
// entries). It returns the entry deleted (zero when none was).
func commitDrop(tx *bolt.Tx, kb *bolt.Bucket, key []byte, version uint64) (indexEntry, error) {
	// Ops commit in queue order and drop queues only behind the entry it
	// saw, so the entry is at version here; the check is a guard.
	v := kb.Get(key)
	if v == nil {
		return indexEntry{}, nil
	}
	cur, ok := decodeEntryOrZero(v)
	if !ok || cur.version != version {
		return indexEntry{}, nil
	}
	if err := kb.Delete(key); err != nil {
		return indexEntry{}, err
	}
	dropped, err := tx.CreateBucketIfNotExists(bucketDropped)
	if err != nil {
		return indexEntry{}, err
	}
	if old := dropped.Get(key); len(old) == 8 && binary.BigEndian.Uint64(old) >= version {
		return cur, nil
	}
	return cur, dropped.Put(key, binary.BigEndian.AppendUint64(nil, version))
}

// droppedVersion is the highest version Drop forgot key at (0: never),
// from the dropped bucket, which indexes written before Drop existed lack.
func droppedVersion(tx *bolt.Tx, key string) uint64 {
	b := tx.Bucket(bucketDropped)
	if b == nil {
		return 0
	}
	if v := b.Get([]byte(key)); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// clockStamp is the larger of v and the version clock's current stamp.
func (ix *index) clockStamp(v uint64) uint64 {
	if ix.clock != nil {
		v = max(v, ix.clock())
	}
	return v
}

// loadClockCeiling reads the version clock's persisted ceiling (0: none).
func (ix *index) loadClockCeiling() (uint64, error) {
	var v uint64
	err := ix.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta).Get(metaClockCeiling); len(b) == 8 {
			v = binary.BigEndian.Uint64(b)
		}
		return nil
	})
	return v, err
}

// putClockCeiling raises the version clock's persisted ceiling to v (never
// lowers it) in a transaction of its own: one small page write and an
// fsync, about once a second (hlc.go). A broken index gets no more writes.
func (ix *index) putClockCeiling(v uint64) error {
	if broken := ix.broken.Load(); broken != nil {
		return fmt.Errorf("blockstore: clock ceiling: index broken: %w", *broken)
	}
	err := ix.update(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMeta)
		if cur := mb.Get(metaClockCeiling); len(cur) == 8 {
			v = max(v, binary.BigEndian.Uint64(cur))
		}
		return mb.Put(metaClockCeiling, binary.BigEndian.AppendUint64(nil, v))
	})
	if err != nil {
		return fmt.Errorf("blockstore: clock ceiling: %w", err)
	}
	return nil
}

// putMaxVersion raises the stored highest version to v (never lowers it).
func putMaxVersion(mb *bolt.Bucket, v uint64) error {
	if cur := mb.Get(metaMaxVer); len(cur) == 8 {
		v = max(v, binary.BigEndian.Uint64(cur))
	}
	return mb.Put(metaMaxVer, binary.BigEndian.AppendUint64(nil, v))
}

// flush waits until everything queued so far is committed (or failed).
func (ix *index) flush() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.flushing++
	defer func() { ix.flushing-- }()
	ix.signal()
	for (len(ix.queue) > 0 || ix.inflight > 0) && ix.failed == nil {
		ix.space.Wait()
	}
	return ix.failed
}

// close commits what is queued, stops the indexer and closes bbolt.
func (ix *index) close() error {
	ix.mu.Lock()
	if !ix.closing {
		close(ix.stop)
	}
	ix.closing = true
	ix.signal()
	ix.space.Broadcast()
	ix.mu.Unlock()
	if ix.started.Load() {
		<-ix.done
	}
	ix.mu.Lock()
	failed, left, broken := ix.failed, len(ix.queue), ix.broken.Load()
	ix.mu.Unlock()
	var err error
	if broken == nil {
		// One last transaction with the freelist written: with
		// NoFreelistSync bbolt otherwise rebuilds it on Open by walking
		// every page, seconds for tens of millions of keys. After a crash
		// it still does. A broken index gets no more writes.
		ix.db.NoFreelistSync = false
		err = ix.update(func(tx *bolt.Tx) error {
			mb := tx.Bucket(bucketMeta)
			if err := putMaxVersion(mb, ix.clockStamp(0)); err != nil {
				return err
			}
			return mb.Put(metaCleanClose, []byte{1})
		})
	}
	ix.snaps.close()
	err = errors.Join(err, ix.db.Close())
	if ix.lock != nil {
		ix.lock.Close()
	}
	if failed != nil && left > 0 {
		return errors.Join(fmt.Errorf("blockstore: %d index updates not committed (recovery rescans them): %w", left, failed), err)
	}
	return err
}

// keyEntry is a key with its entry, as List and Scan produce them.
type keyEntry struct {
	key string
	e   indexEntry
}

// list returns up to limit live entries with the prefix, after startAfter,
// in key order, merging pending over bbolt.
func (ix *index) list(prefix, startAfter string, limit int) ([]keyEntry, error) {
	out, err := ix.merge(prefix, startAfter, limit, (*indexEntry).live)
	if err != nil {
		return nil, fmt.Errorf("blockstore: list: %w", err)
	}
	return out, nil
}

// scan returns up to limit entries after startAfter in key order,
// tombstones and corrupt entries included.
func (ix *index) scan(startAfter string, limit int) ([]keyEntry, error) {
	out, err := ix.merge("", startAfter, limit, func(*indexEntry) bool { return true })
	if err != nil {
		return nil, fmt.Errorf("blockstore: scan: %w", err)
	}
	return out, nil
}

// merge returns up to limit entries with the prefix, after startAfter, in
// key order, for which keep holds: pending merged over bbolt. Where both
// have a key, pending's entry is the key's current one (it is older than
// bbolt's only for a write that followed a Drop the indexer has not
// committed yet), and a pending drop marker hides the key. Each key is
// reported as it was at some moment during the call: pending is read
// first, and a key that leaves pending meanwhile is in bbolt by then.
func (ix *index) merge(prefix, startAfter string, limit int, keep func(*indexEntry) bool) ([]keyEntry, error) {
	from := prefix
	if startAfter >= from {
		from = startAfter
	}
	after := func(k string) bool {
		return strings.HasPrefix(k, prefix) && k > startAfter
	}
	// Snapshot pending before reading bbolt: an entry moving from pending
	// to bbolt in between is then seen at least once.
	ix.mu.RLock()
	var pend []keyEntry
	for k, e := range ix.pending {
		if after(k) {
			pend = append(pend, keyEntry{k, e})
		}
	}
	ix.mu.RUnlock()
	slices.SortFunc(pend, func(a, b keyEntry) int { return strings.Compare(a.key, b.key) })

	out := make([]keyEntry, 0, min(limit, 1024))
	err := ix.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketKeys).Cursor()
		k, v := c.Seek([]byte(from))
		pi := 0
		for len(out) < limit {
			if k != nil && !bytes.HasPrefix(k, []byte(prefix)) {
				k = nil
			}
			if k != nil && string(k) == startAfter {
				k, v = c.Next()
				continue
			}
			var next keyEntry
			switch {
			case k == nil && pi >= len(pend):
				return nil
			case k == nil || (pi < len(pend) && pend[pi].key < string(k)):
				next = pend[pi]
				pi++
			default:
				e, err := decodeEntry(v)
				if err != nil {
					return fmt.Errorf("key %q: %w", k, err)
				}
				next = keyEntry{string(k), e}
				if pi < len(pend) && pend[pi].key == next.key {
					next.e = pend[pi].e
					pi++
				}
				k, v = c.Next()
			}
			if !next.e.dropped() && keep(&next.e) {
				out = append(out, next)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
