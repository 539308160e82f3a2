package tiering

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"strata/ioengine"
)

// ssdWritePiece bounds one write to the cache file, so a foreground read
// never waits behind a whole-region write at the device queue.
const ssdWritePiece = 1 << 20

// ssdReserveRegions is how many free regions the writer keeps ready, so
// filling never waits for a reclaim.
const ssdReserveRegions = 1

type ssdConfig struct {
	fs          ioengine.FS
	path        string
	capacity    int64
	regionSize  int64
	buffers     int   // in-RAM region buffers (fill + flushing + reclaim)
	queueBytes  int64 // admission queue bound
	maxInFlight int
	fileMode    fs.FileMode   // of the created cache file and index snapshot
	rebuildTime time.Duration // bound on the rebuild from regions after a crash (<0: none)
	adm         *admissionPolicy
	logger      *slog.Logger
	// inRAM reports whether the RAM tier holds an item (without counting an
	// access); reclaim drops SSD copies RAM already has. May be nil.
	inRAM func(ramKey) bool
	// pacer, when set, makes region writes and reclaim reads yield to the
	// backend's foreground reads (ssdpace.go).
	pacer *ssdPacer
}

// ssdCache is the SSD tier: ssdCore plus the cache file, region buffers,
// an admitter goroutine (copies admitted items into the fill buffer) and a
// writer goroutine (writes full regions, reclaims old ones). Callers never
// wait for SSD writes: admission is a non-blocking enqueue that drops when
// the writer lags.
type ssdCache struct {
	cfg       ssdConfig
	log       *slog.Logger
	dev       *ioengine.Device
	file      *ioengine.Handle
	lock      io.Closer // on the cache file, for the life of the cache
	align     int
	indexPath string
	start     string

	mu        sync.Mutex
	core      *ssdCore
	regionBuf [][]byte // per region: its RAM buffer while filling or flushing
	spare     [][]byte
	closed    bool

	admitQ chan admitReq
	// queued counts the offers of each item hash waiting in admitQ (under
	// mu); invalidate forgets them, so a delete or overwrite racing with
	// the admitter cannot leave the old version's item behind. At most
	// admitQ's capacity entries.
	queued      map[uint64]int
	queuedBytes atomic.Int64
	flushQ      chan uint32
	stopAdmit   chan struct{}
	stopFlush   chan struct{}
	wg          sync.WaitGroup

	c ssdCounters
}

type ssdCounters struct {
	bytesWritten, regionsWritten, reinsertions                  atomic.Uint64
	admissions, rejTooLarge, rejCold, rejBudget, skippedPresent atomic.Uint64
	droppedQueue, droppedNoRegion                               atomic.Uint64
	mismatches, readErrors, writeErrors, evictions              atomic.Uint64
}

type admitReq struct {
	key       string
	version   uint64
	sum, seg  uint32
	h         uint64
	data      []byte
	footprint int64
}

// openSSDCache opens or creates the cache file and loads the index saved
// by the last clean shutdown, if it is valid; otherwise it starts cold.
func openSSDCache(ctx context.Context, cfg ssdConfig) (*ssdCache, error) {
	log := cfg.logger
	numRegions := cfg.capacity / cfg.regionSize
	if numRegions < 2 {
		return nil, fmt.Errorf("%w: ssd cache of %d bytes holds fewer than 2 regions of %d", ErrBadOptions, cfg.capacity, cfg.regionSize)
	}
	if numRegions > maxRegions {
		return nil, fmt.Errorf("%w: ssd cache has %d regions, max %d", ErrBadOptions, numRegions, maxRegions)
	}
	dir, base := filepath.Split(cfg.path)
	if dir == "" {
		dir = "."
	}
	if err := ioengine.MkdirAllDurable(cfg.fs, dir); err != nil {
		return nil, fmt.Errorf("tiering: ssd cache dir: %w", err)
	}
	dev, err := ioengine.NewDevice(cfg.fs, dir, ioengine.DeviceOptions{Name: "ssd-cache", MaxInFlight: cfg.maxInFlight, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("tiering: ssd cache device: %w", err)
	}
	file, err := dev.Open(base, ioengine.FlagCreate|ioengine.FlagDirect|ioengine.WithPerm(cfg.fileMode))
	if err != nil {
		return nil, fmt.Errorf("tiering: ssd cache file: %w", err)
	}
	// The lock is on the cache file, not its directory, which may well be
	// the index directory the backend locks.
	lock, err := cfg.fs.Lock(cfg.path)
	if err != nil {
		file.Close()
		if errors.Is(err, ioengine.ErrLocked) {
			return nil, fmt.Errorf("%w: ssd cache %s (is another strata process using it?): %w", ErrLocked, cfg.path, err)
		}
		return nil, fmt.Errorf("tiering: ssd cache lock: %w", err)
	}
	fail := func(err error) (*ssdCache, error) {
		file.Close()
		lock.Close()
		return nil, err
	}
	align := file.Alignment()
	if cfg.regionSize%int64(align) != 0 || ssdWritePiece%align != 0 {
		return fail(fmt.Errorf("%w: region size %d is not a multiple of the alignment %d", ErrBadOptions, cfg.regionSize, align))
	}
	size := numRegions * cfg.regionSize
	if cur, err := file.Size(); err != nil || cur < size {
		if err := file.Allocate(ctx, ioengine.ClassBackground, 0, size); err != nil {
			return fail(fmt.Errorf("tiering: ssd cache allocate %d bytes: %w", size, err))
		}
		if err := cfg.fs.SyncDir(dir); err != nil { // a new file's name
			return fail(fmt.Errorf("tiering: ssd cache dir: %w", err))
		}
	}
	s := &ssdCache{
		cfg:       cfg,
		log:       log,
		dev:       dev,
		file:      file,
		lock:      lock,
		align:     align,
		indexPath: cfg.path + ".index",
		regionBuf: make([][]byte, numRegions),
		admitQ:    make(chan admitReq, 4096),
		queued:    make(map[uint64]int),
		flushQ:    make(chan uint32, cfg.buffers),
		stopAdmit: make(chan struct{}),
		stopFlush: make(chan struct{}),
	}
	s.core, s.start = s.loadIndex(int(numRegions))
	for range cfg.buffers {
		s.spare = append(s.spare, ioengine.AlignedBytes(int(cfg.regionSize), align))
	}
	s.wg.Add(2)
	go s.admitter()
	go s.writer()
	return s, nil
}

// loadIndex returns the core saved at the last clean shutdown, or a cold
// one. The snapshot is removed (and the removal made durable) before it is
// used: after a later crash it must not describe regions rewritten since.
func (s *ssdCache) loadIndex(numRegions int) (*ssdCore, string) {
	cold := func(why string) (*ssdCore, string) {
		if s.cfg.rebuildTime >= 0 {
			core, st := s.rebuild(context.Background(), numRegions)
			if st.items > 0 {
				s.log.Info("ssd cache: warm start rebuilt from regions", "reason", why, "items", st.items, "regions", st.regions,
					"bytes_read", st.bytesRead, "elapsed", st.elapsed, "time_bound_reached", st.timedOut, "regions_left_free", st.skipped)
				return core, "warm: " + st.String()
			}
		}
		s.log.Info("ssd cache: cold start", "reason", why, "regions", numRegions, "region_size", s.cfg.regionSize)
		return newSSDCore(numRegions, s.cfg.regionSize), "cold: " + why
	}
	size, err := s.cfg.fs.Stat(s.indexPath)
	if errors.Is(err, fs.ErrNotExist) {
		return cold("no index saved by a clean shutdown (first start, or after a crash)")
	}
	if err != nil {
		return cold(fmt.Sprintf("stat index: %v", err))
	}
	data, err := readWholeFile(s.cfg.fs, s.indexPath, size)
	if err == nil {
		err = s.cfg.fs.Remove(s.indexPath)
	}
	if err == nil {
		dir, _ := filepath.Split(s.indexPath)
		if dir == "" {
			dir = "."
		}
		err = s.cfg.fs.SyncDir(dir)
	}
	if err != nil {
		return cold(fmt.Sprintf("read and remove index: %v", err))
	}
	core, err := decodeSnapshot(data, numRegions, s.cfg.regionSize)
	if err != nil {
		return cold(err.Error())
	}
	s.log.Info("ssd cache: warm start from index saved at clean shutdown", "items", core.liveItems, "live_bytes", core.liveBytes)
	return core, fmt.Sprintf("warm: %d items", core.liveItems)
}

// contains reports whether a clean copy of h is on the SSD already.
func (s *ssdCache) contains(h uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && s.core.contains(h)
}

// offer asks to cache an item on the SSD. It never blocks: the decision is
// made here (in memory) and the copy into the region buffer is queued; a
// full queue drops the offer.
func (s *ssdCache) offer(k ramKey, h uint64, objSize int64, data []byte) {
	if s.contains(h) {
		s.c.skippedPresent.Add(1)
		return
	}
	footprint := s.core.footprint(encodedItemLen(len(k.key), len(data)))
	if len(k.key) > maxItemKeyLen || footprint > s.cfg.regionSize {
		s.c.rejTooLarge.Add(1)
		return
	}
	switch s.cfg.adm.decide(objectHash(k.key, k.version, k.sum), objSize, footprint) {
	case rejectTooLarge:
		s.c.rejTooLarge.Add(1)
		return
	case rejectCold:
		s.c.rejCold.Add(1)
		return
	case rejectBudget:
		s.c.rejBudget.Add(1)
		return
	}
	if s.queuedBytes.Add(footprint) > s.cfg.queueBytes {
		s.queuedBytes.Add(-footprint)
		s.c.droppedQueue.Add(1)
		return
	}
	req := admitReq{key: k.key, version: k.version, sum: k.sum, seg: k.seg, h: h, data: data, footprint: footprint}
	s.mu.Lock()
	select {
	case s.admitQ <- req:
		s.queued[h]++
	default:
		s.queuedBytes.Add(-footprint)
		s.c.droppedQueue.Add(1)
	}
	s.mu.Unlock()
}

func (s *ssdCache) admitter() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stopAdmit:
			return
		case req := <-s.admitQ:
			s.mu.Lock()
			wanted := s.queued[req.h] > 0 // else invalidated while queued
			if n := s.queued[req.h]; n > 1 {
				s.queued[req.h] = n - 1
			} else {
				delete(s.queued, req.h)
			}
			if wanted && !s.core.contains(req.h) {
				ok := s.insertLocked(req.h, req.footprint, func(dst []byte) {
					encodeItem(dst, req.key, req.version, req.sum, req.seg, req.data)
				})
				if ok {
					s.c.admissions.Add(1)
				}
			}
			s.mu.Unlock()
			s.queuedBytes.Add(-req.footprint)
		}
	}
}

// insertLocked places an item in the fill region and lets write encode it
// there. It rotates to a new region when the fill region is full; with no
// free region or buffer (the writer lags) the item is dropped.
func (s *ssdCache) insertLocked(h uint64, footprint int64, write func(dst []byte)) bool {
	for range 2 {
		loc, res := s.core.place(h, footprint)
		switch res {
		case placed:
			write(s.regionBuf[loc.region][loc.off : loc.off+footprint])
			return true
		case placeNeedFill:
			if !s.rotateLocked() {
				s.c.droppedNoRegion.Add(1)
				return false
			}
		default:
			s.c.droppedNoRegion.Add(1)
			return false
		}
	}
	return false
}

func (s *ssdCache) rotateLocked() bool {
	if len(s.spare) == 0 || s.closed {
		return false
	}
	if r, ok := s.core.sealFill(); ok {
		select {
		case s.flushQ <- r:
		default:
			// Cannot happen: flushQ holds as many regions as there are buffers.
			s.dropRegionLocked(r)
		}
	}
	r, ok := s.core.openFill()
	if !ok {
		return false
	}
	buf := s.spare[len(s.spare)-1]
	s.spare = s.spare[:len(s.spare)-1]
	s.regionBuf[r] = buf
	hdr := s.core.regions[r].end
	clear(buf[:hdr])
	encodeRegionHeader(buf, r, s.core.regions[r].seq, s.cfg.regionSize)
	return true
}

// dropRegionLocked forgets region r and recycles its buffer.
func (s *ssdCache) dropRegionLocked(r uint32) {
	s.core.dropRegion(r)
	if b := s.regionBuf[r]; b != nil {
		s.spare = append(s.spare, b)
		s.regionBuf[r] = nil
	}
}

// writer writes sealed regions and keeps a free region in reserve by
// reclaiming the oldest one.
func (s *ssdCache) writer() {
	defer s.wg.Done()
	ctx := context.Background()
	for {
		select {
		case <-s.stopFlush:
			return
		case r := <-s.flushQ:
			s.flushRegion(ctx, r)
			s.reclaim(ctx)
		}
	}
}

// flushRegion writes region r from its buffer in pieces of at most 1 MiB,
// at background priority, then makes it readable from flash.
func (s *ssdCache) flushRegion(ctx context.Context, r uint32) {
	s.mu.Lock()
	buf := s.regionBuf[r]
	end := s.core.regions[r].end
	s.mu.Unlock()
	// Zeroes after the last item end the region for a rebuild's scan
	// (ssdrebuild.go): the buffer's tail holds an older region's bytes.
	n := ioengine.AlignUp(min(end+4, s.cfg.regionSize), s.align)
	clear(buf[end:n])
	base := int64(r) * s.cfg.regionSize
	var err error
	for off := int64(0); off < n && err == nil; off += ssdWritePiece {
		piece := min(n-off, ssdWritePiece)
		s.cfg.pacer.wait(ctx, s.stopFlush, piece)
		var w int
		w, err = s.file.WriteAt(ctx, ioengine.ClassBackground, buf[off:off+piece], base+off)
		s.c.bytesWritten.Add(uint64(max(w, 0)))
		if err == nil && int64(w) != piece {
			err = fmt.Errorf("short write %d of %d", w, piece)
		}
	}
	if err == nil {
		// On flash for good, so a rebuild after a crash finds it.
		err = s.file.Sync(ctx, ioengine.ClassBackground)
	}
	s.cfg.adm.charge(n - end) // alignment padding counts against the budget too
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.c.writeErrors.Add(1)
		s.log.Warn("ssd cache: region write failed; its items are dropped", "region", r, "err", err)
		s.dropRegionLocked(r)
		return
	}
	s.c.regionsWritten.Add(1)
	s.core.markSealed(r)
	s.spare = append(s.spare, buf)
	s.regionBuf[r] = nil
}

// reclaim frees regions until the reserve is met. Items of a reclaimed
// region that were read while resident are reinserted (budget allowing).
func (s *ssdCache) reclaim(ctx context.Context) {
	for {
		s.mu.Lock()
		if s.closed || !s.core.needReclaim(ssdReserveRegions) {
			s.mu.Unlock()
			return
		}
		r, _ := s.core.beginReclaim()
		meta := s.core.regions[r]
		var buf []byte
		if meta.items > 0 && len(s.spare) > 0 {
			buf = s.spare[len(s.spare)-1]
			s.spare = s.spare[:len(s.spare)-1]
		}
		s.mu.Unlock()

		var keep []ssdItem
		if buf != nil {
			keep = s.scanRegion(ctx, r, buf[:ioengine.AlignUp(meta.end, s.align)], meta.end)
		}
		s.mu.Lock()
		s.c.evictions.Add(uint64(s.core.regions[r].items)) // not found by the scan
		s.core.endReclaim(r)
		s.mu.Unlock()
		// Reinsert one item per lock hold, copying the verified bytes as
		// they are (an item does not depend on its position), so readers
		// never wait for a whole region's worth of copying.
		for _, it := range keep {
			h := it.hash()
			fp := s.core.footprint(int64(it.n))
			s.mu.Lock()
			if !s.core.contains(h) && s.cfg.adm.allowRewrite(fp) &&
				s.insertLocked(h, fp, func(dst []byte) { copy(dst, it.raw) }) {
				s.c.reinsertions.Add(1)
			}
			s.mu.Unlock()
		}
		if buf != nil {
			s.mu.Lock()
			s.spare = append(s.spare, buf)
			s.mu.Unlock()
		}
	}
}

// scanRegion reads region r and returns the items to reinsert, having
// removed every item it finds from the index. A read error or an
// unparsable item ends the scan; endReclaim drops what is left.
func (s *ssdCache) scanRegion(ctx context.Context, r uint32, buf []byte, end int64) []ssdItem {
	base := int64(r) * s.cfg.regionSize
	for off := int64(0); off < int64(len(buf)); off += ssdWritePiece {
		piece := min(int64(len(buf))-off, ssdWritePiece)
		s.cfg.pacer.wait(ctx, s.stopFlush, piece)
		if n, err := s.file.ReadAt(ctx, ioengine.ClassBackground, buf[off:off+piece], base+off); err != nil || int64(n) != piece {
			s.c.readErrors.Add(1)
			return nil
		}
	}
	var keep []ssdItem
	for off := s.core.footprint(regionHeaderSize); off < end; {
		it, err := decodeItem(buf[off:end])
		if err != nil {
			break
		}
		s.mu.Lock()
		live, hit := s.core.reclaimItem(r, it.hash(), off)
		s.mu.Unlock()
		switch {
		case !live:
		case s.cfg.inRAM != nil && s.cfg.inRAM(ramKey{key: it.key, version: it.version, sum: it.sum, seg: it.seg}):
			// RAM holds it: no second copy (RAM offers it again on eviction).
			s.c.evictions.Add(1)
		case s.cfg.adm.keepOnReclaim(objectHash(it.key, it.version, it.sum), hit):
			keep = append(keep, it)
		default:
			s.c.evictions.Add(1)
		}
		off += s.core.footprint(int64(it.n))
	}
	return keep
}

// get returns the payload of the item for k, verified against its full
// key and checksum; any mismatch or I/O error is a miss.
func (s *ssdCache) get(ctx context.Context, k ramKey, h uint64) ([]byte, bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false
	}
	loc, ok := s.core.lookup(h)
	if !ok {
		s.mu.Unlock()
		return nil, false
	}
	s.core.touch(h)
	if buf := s.regionBuf[loc.region]; buf != nil {
		raw := make([]byte, loc.size)
		copy(raw, buf[loc.off:loc.off+loc.size])
		s.mu.Unlock()
		return s.verify(k, h, loc, raw)
	}
	s.mu.Unlock()

	pos := int64(loc.region)*s.cfg.regionSize + loc.off
	start := ioengine.AlignDown(pos, s.align)
	end := ioengine.AlignUp(pos+loc.size, s.align)
	b := s.dev.Buffers().Get(int(end - start))
	defer s.dev.Buffers().Put(b)
	n, err := s.file.ReadAt(ctx, ioengine.ClassRead, b.B[:end-start], start)
	if err != nil || int64(n) != end-start {
		s.c.readErrors.Add(1)
		s.invalidateAt(h, loc)
		return nil, false
	}
	return s.verify(k, h, loc, b.B[pos-start:pos-start+loc.size])
}

func (s *ssdCache) verify(k ramKey, h uint64, loc itemLoc, raw []byte) ([]byte, bool) {
	it, err := decodeItem(raw)
	if err != nil || it.key != k.key || it.version != k.version || it.sum != k.sum || it.seg != k.seg {
		s.c.mismatches.Add(1)
		s.invalidateAt(h, loc)
		return nil, false
	}
	out := make([]byte, len(it.payload))
	copy(out, it.payload)
	return out, true
}

func (s *ssdCache) invalidateAt(h uint64, loc itemLoc) {
	s.mu.Lock()
	s.core.invalidateAt(h, loc)
	s.mu.Unlock()
}

// invalidate forgets h (delete or overwrite): no SSD write.
func (s *ssdCache) invalidate(h uint64) {
	s.mu.Lock()
	s.core.invalidate(h)
	delete(s.queued, h)
	s.mu.Unlock()
}

// close stops the goroutines, writes every region still in RAM, syncs the
// file and saves the index for a warm restart.
func (s *ssdCache) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	close(s.stopAdmit)
	close(s.stopFlush)
	s.wg.Wait()

	ctx := context.Background()
	s.mu.Lock()
	s.core.sealFill()
	var pending []uint32
	for r, b := range s.regionBuf {
		if b != nil {
			pending = append(pending, uint32(r))
		}
	}
	s.mu.Unlock()
	for _, r := range pending {
		s.flushRegion(ctx, r)
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()

	err := s.file.Sync(ctx, ioengine.ClassWrite)
	if err == nil {
		err = s.saveIndex()
	}
	if err != nil {
		s.log.Warn("ssd cache: index not saved; next start is cold", "err", err)
	}
	if cerr := s.file.Close(); err == nil {
		err = cerr
	}
	s.lock.Close()
	return err
}

// saveIndex writes the snapshot: write, fsync, rename, fsync the dir.
func (s *ssdCache) saveIndex() error {
	data := encodeSnapshot(s.core)
	if err := ioengine.WriteFileAtomic(s.cfg.fs, s.indexPath, data, ioengine.FlagCreate|ioengine.WithPerm(s.cfg.fileMode)); err != nil {
		return err
	}
	s.log.Info("ssd cache: index saved for warm restart", "items", s.core.liveItems, "bytes", len(data))
	return nil
}

func readWholeFile(fsys ioengine.FS, name string, size int64) ([]byte, error) {
	f, err := fsys.OpenFile(name, ioengine.FlagReadOnly)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, size)
	n, err := f.ReadAt(buf, 0)
	if int64(n) == size {
		return buf, nil
	}
	if err == nil {
		err = fmt.Errorf("short read %d of %d", n, size)
	}
	return nil, err
}

func (s *ssdCache) stats() (TierStats, SSDStats) {
	s.mu.Lock()
	items, live := s.core.liveItems, s.core.liveBytes
	idxBytes := s.core.index.bytes()
	perItem := s.core.indexBytesPerItem()
	free := len(s.core.free)
	regions := len(s.core.regions)
	s.mu.Unlock()
	t := TierStats{
		Admissions:    s.c.admissions.Load(),
		Rejections:    s.c.rejCold.Load() + s.c.rejBudget.Load() + s.c.rejTooLarge.Load(),
		Evictions:     s.c.evictions.Load(),
		Items:         items,
		Bytes:         live,
		CapacityBytes: int64(regions) * s.cfg.regionSize,
	}
	d := SSDStats{
		BytesWritten:       s.c.bytesWritten.Load(),
		RegionsWritten:     s.c.regionsWritten.Load(),
		Reinsertions:       s.c.reinsertions.Load(),
		RejectedTooLarge:   s.c.rejTooLarge.Load(),
		RejectedCold:       s.c.rejCold.Load(),
		RejectedBudget:     s.c.rejBudget.Load(),
		SkippedPresent:     s.c.skippedPresent.Load(),
		DroppedQueueFull:   s.c.droppedQueue.Load(),
		DroppedNoRegion:    s.c.droppedNoRegion.Load(),
		ChecksumMismatches: s.c.mismatches.Load(),
		ReadErrors:         s.c.readErrors.Load(),
		WriteErrors:        s.c.writeErrors.Load(),
		IndexItems:         items,
		IndexBytes:         idxBytes,
		IndexBytesPerItem:  perItem,
		LiveBytes:          live,
		Regions:            regions,
		RegionSize:         s.cfg.regionSize,
		FreeRegions:        free,
		Start:              s.start,
	}
	if p := s.cfg.pacer; p != nil {
		d.Paced = true
		d.PacedWaits, d.PacedWait = p.waits.Load(), time.Duration(p.waitNs.Load())
	}
	return t, d
}

// idle reports whether no admission is queued (tests).
func (s *ssdCache) idle() bool { return s.queuedBytes.Load() == 0 && len(s.admitQ) == 0 }
