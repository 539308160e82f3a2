package tiering

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"strata/blockstore"
	"strata/ioengine"
)

// Store is the tiered store a node talks to: reads go to RAM, then SSD,
// then the backend (HDD); writes and deletes go to the backend, which is
// the only durable copy. Safe for concurrent use.
type Store struct {
	opts    Options
	backend Backend
	log     *slog.Logger
	adm     *admissionPolicy
	ram     *ramCache
	ssd     *ssdCache
	fills   *fillQueue // nil with both caches off
	wt      writeAdmitCounters
	fg      foreground // backend reads, which SSD cache I/O yields to
	flights flightGroup

	ramC, ssdC, hddC tierCounters
	coalesced        atomic.Uint64
	closed           atomic.Bool
}

// Open builds the caches in front of opts.Backend. A cache tier that cannot
// be set up (an unusable SSD path, no space) is logged and left off: the
// store still serves every blob, only slower.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{opts: opts, backend: opts.Backend, log: opts.Logger}
	s.adm = newAdmissionPolicy(admissionConfigFor(opts))
	if opts.RAMCacheBytes > 0 {
		s.ram, err = newRAMCache(opts.RAMCacheBytes, s.onRAMEvict)
		if err != nil {
			return nil, err
		}
	}
	if opts.SSDCacheBytes > 0 {
		cfg := ssdConfig{
			fs:          opts.FS,
			path:        opts.SSDPath,
			capacity:    opts.SSDCacheBytes,
			regionSize:  opts.RegionSize,
			buffers:     opts.SSDRegionBuffers,
			queueBytes:  opts.SSDAdmitQueueBytes,
			maxInFlight: opts.SSDMaxInFlight,
			fileMode:    opts.FileMode,
			rebuildTime: opts.SSDRebuildTime,
			adm:         s.adm,
			logger:      opts.Logger,
		}
		if s.paceSSD(opts) {
			cfg.pacer = &ssdPacer{fg: &s.fg}
		}
		if ram := s.ram; ram != nil {
			cfg.inRAM = ram.containsQuietly
		}
		s.ssd, err = openSSDCache(ctx, cfg)
		if errors.Is(err, ErrLocked) {
			// Not a broken SSD: a second store on the same cache would
			// overwrite the first one's regions. Refuse, do not degrade.
			return nil, err
		}
		if err != nil {
			s.log.Error("ssd cache disabled", "path", opts.SSDPath, "err", err)
			s.ssd = nil
		}
	}
	if s.ram != nil || s.ssd != nil {
		s.fills = newFillQueue(opts.FillQueueBytes)
		s.fills.start(s.applyFill)
	}
	return s, nil
}

// paceSSD decides whether the SSD cache's I/O yields to backend reads
// (Options.SSDPacing): in auto, when the cache file shares a file system
// with a backend directory.
func (s *Store) paceSSD(opts Options) bool {
	switch opts.SSDPacing {
	case SSDPaceAlways:
		return true
	case SSDPaceNever:
		return false
	}
	d, ok := s.backend.(deviceReporter)
	if !ok {
		return false
	}
	var dirs []string
	for _, st := range d.Devices() {
		dirs = append(dirs, st.Dir)
	}
	shared := sameDevice(filepath.Dir(opts.SSDPath), dirs)
	if shared {
		s.log.Info("ssd cache shares a device with the backend: its writes yield to reads", "path", opts.SSDPath)
	}
	return shared
}

// onRAMEvict offers an item leaving RAM to the SSD. Items already on the
// SSD (promoted from it, or admitted before) are clean there: no rewrite.
func (s *Store) onRAMEvict(k ramKey, v ramValue) {
	if s.ssd != nil && !s.closed.Load() {
		s.ssd.offer(k, k.hash(), v.objSize, v.data)
	}
}

// Close saves the SSD index for a warm restart and closes the backend if
// it has a Close method. Reads in flight may fail with ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	var err error
	if s.fills != nil {
		s.fills.close()
	}
	if s.ssd != nil {
		if e := s.ssd.close(); e != nil {
			err = fmt.Errorf("tiering: close ssd cache: %w", e)
		}
	}
	if c, ok := s.backend.(io.Closer); ok {
		if e := c.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// Put stores a blob in the backend (durable on return) and invalidates the
// previous version's cached items. A small blob is written through to RAM
// when the write-through admission (writeadmit.go) says it displaces
// nothing being read.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	if s.closed.Load() {
		return blockstore.Info{}, ErrClosed
	}
	old, oldErr := s.backend.Stat(ctx, key)
	var capture *captureReader
	if s.ram != nil {
		in := s.writeThroughInput(key, size, old, oldErr == nil)
		// Concurrent Puts deciding at once must not all take the same free
		// RAM: reserve this one's weight until it is in RAM (or not).
		reserved := in.weight
		in.free -= s.wt.reserved.Add(reserved) - reserved
		defer s.wt.reserved.Add(-reserved)
		if v := decideWriteThrough(in); v != writeAdmit {
			s.wt.count(v)
		} else {
			capture = &captureReader{r: r, limit: s.opts.RAMMaxItemBytes}
			if size >= 0 {
				capture.buf = make([]byte, 0, size)
			}
			r = capture
		}
	}
	var epoch uint64
	if s.fills != nil {
		epoch = s.fills.epoch(key)
	}
	info, err := s.backend.Put(ctx, key, r, size, opts)
	if err != nil {
		return info, err
	}
	if oldErr == nil && (old.Version != info.Version || old.Checksum != info.Checksum) {
		s.invalidate(old)
		epoch++ // this Put's own invalidation
	}
	if capture != nil && !capture.over && int64(len(capture.buf)) == info.Size {
		if size < 0 {
			// The size is known only now: decide again with it.
			if v := decideWriteThrough(s.writeThroughInput(key, info.Size, old, oldErr == nil)); v != writeAdmit {
				s.wt.count(v)
				return info, nil
			}
		}
		if lay := s.layout(info); lay.nseg == 1 && info.Size > 0 {
			s.writeThrough(info, capture.buf, epoch)
		}
	}
	return info, nil
}

// writeThrough puts a written blob in RAM unless another Put or Delete of
// the key invalidated something meanwhile (the fill queue's epoch, taken
// before the backend write, plus this Put's own invalidation): a slow Put
// must not cache bytes a faster one replaced.
func (s *Store) writeThrough(info blockstore.Info, data []byte, epoch uint64) {
	k := ramKey{key: info.Key, version: info.Version, sum: info.Checksum}
	s.fills.mu.Lock()
	defer s.fills.mu.Unlock()
	if s.fills.epoch(info.Key) != epoch {
		s.wt.skippedRaced.Add(1)
		return
	}
	s.ram.set(k, ramValue{data: data, objSize: info.Size, unread: true})
	s.ramC.admissions.Add(1)
	s.wt.admitted.Add(1)
}

// Compose makes key a blob of the parts' contents in the backend
// (blockstore.Store.Compose: no content byte copied, the parts removed in
// the same durable step) and drops the cached items of the key's previous
// version and of the parts. It fails with ErrNoCompose when the backend
// cannot compose.
func (s *Store) Compose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	if s.closed.Load() {
		return blockstore.Info{}, ErrClosed
	}
	c, ok := s.backend.(composer)
	if !ok {
		return blockstore.Info{}, ErrNoCompose
	}
	old, oldErr := s.backend.Stat(ctx, key)
	gone := make([]blockstore.Info, 0, len(parts))
	for _, p := range parts {
		if info, err := s.backend.Stat(ctx, p); err == nil {
			gone = append(gone, info)
		}
	}
	info, err := c.Compose(ctx, key, parts, opts)
	if err != nil {
		return info, err
	}
	if oldErr == nil && (old.Version != info.Version || old.Checksum != info.Checksum) {
		s.invalidate(old)
	}
	for _, p := range gone {
		s.invalidate(p)
	}
	return info, nil
}

// Stat returns the live blob's metadata from the backend's index.
func (s *Store) Stat(ctx context.Context, key string) (blockstore.Info, error) {
	if s.closed.Load() {
		return blockstore.Info{}, ErrClosed
	}
	return s.backend.Stat(ctx, key)
}

// Open returns a reader over the current version of the blob. Its reads
// go through the caches; it reads only the segments it is asked for.
func (s *Store) Open(ctx context.Context, key string) (*Object, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	info, err := s.backend.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	return &Object{s: s, ctx: ctx, info: info, lay: s.layout(info)}, nil
}

// ReadChunk returns backend chunk idx of exactly the version info
// describes (info from Stat or Object.Info), assembled from RAM, SSD or the
// backend segment by segment, and the slowest tier that served it.
func (s *Store) ReadChunk(ctx context.Context, info blockstore.Info, idx int) ([]byte, Tier, error) {
	if s.closed.Load() {
		return nil, "", ErrClosed
	}
	if idx < 0 || idx >= info.NumChunks() {
		return nil, "", fmt.Errorf("%w: chunk %d of %q, which has %d", ErrBadOptions, idx, info.Key, info.NumChunks())
	}
	off, n := info.ChunkBounds(idx)
	if info.NumChunks() <= 1 {
		off, n = 0, info.Size
	}
	if s.ssd != nil {
		s.adm.recordAccess(objectHash(info.Key, info.Version, info.Checksum), n)
	}
	lay := s.layout(info)
	out := make([]byte, 0, n)
	var tier Tier
	for pos := off; pos < off+n; {
		data, dOff, t, err := s.fetch(ctx, info, lay, int(pos/lay.seg))
		if t.rank() > tier.rank() {
			tier = t
		}
		if err != nil {
			return nil, tier, err
		}
		end := min(dOff+int64(len(data)), off+n)
		if pos < dOff || end <= pos {
			return nil, tier, fmt.Errorf("tiering: fetched [%d,%d) of %q does not hold offset %d: %w", dOff, dOff+int64(len(data)), info.Key, pos, blockstore.ErrCorrupt)
		}
		out = append(out, data[pos-dOff:end-dOff]...)
		pos = end
	}
	return out, tier, nil
}

// Delete removes the blob in the backend and invalidates its cached items
// (no SSD write: only index entries are dropped).
func (s *Store) Delete(ctx context.Context, key string, opts blockstore.DeleteOptions) error {
	if s.closed.Load() {
		return ErrClosed
	}
	old, oldErr := s.backend.Stat(ctx, key)
	if err := s.backend.Delete(ctx, key, opts); err != nil {
		return err
	}
	if oldErr == nil {
		s.invalidate(old)
	}
	return nil
}

// List passes through to the backend.
func (s *Store) List(ctx context.Context, prefix, startAfter string, limit int) ([]blockstore.Info, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	return s.backend.List(ctx, prefix, startAfter, limit)
}

// Healthy is the backend's health: the caches never hold the only copy.
func (s *Store) Healthy() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.backend.Healthy()
}

// Writable reports whether the backend can take puts now (see
// blockstore.Store.Writable); deletes and reads may work when it does not.
// A backend without a Writable method answers with Healthy.
func (s *Store) Writable() error {
	if s.closed.Load() {
		return ErrClosed
	}
	if w, ok := s.backend.(interface{ Writable() error }); ok {
		return w.Writable()
	}
	return s.backend.Healthy()
}

// Devices reports the backend's devices and the SSD cache device.
func (s *Store) Devices() []ioengine.DeviceStats {
	var out []ioengine.DeviceStats
	if d, ok := s.backend.(deviceReporter); ok {
		out = append(out, d.Devices()...)
	}
	if s.ssd != nil {
		out = append(out, s.ssd.dev.Stats())
	}
	return out
}

// Stats is a snapshot of the per-tier counters.
func (s *Store) Stats() Stats {
	st := Stats{
		RAM:          s.ramC.snapshot(TierRAM, s.ram != nil),
		SSD:          s.ssdC.snapshot(TierSSD, s.ssd != nil),
		HDD:          s.hddC.snapshot(TierHDD, true),
		Coalesced:    s.coalesced.Load(),
		WriteThrough: s.wt.snapshot(),
	}
	if s.fills != nil {
		st.Fill = s.fills.stats()
	}
	// The HDD tier's contents are the backend's: without this they read 0.
	if b, ok := s.backend.(statsReporter); ok {
		st.Backend = b.Stats()
		st.HDD.Items, st.HDD.Bytes = st.Backend.LiveKeys, st.Backend.LiveBytes
	}
	if s.ram != nil {
		st.RAM.Evictions = s.ram.evictions.Load()
		st.RAM.Items = s.ram.items()
		st.RAM.Bytes = s.ram.weightedSize()
		st.RAM.CapacityBytes = s.ram.capacity
	}
	if s.ssd != nil {
		t, d := s.ssd.stats()
		st.SSD.Admissions, st.SSD.Rejections, st.SSD.Evictions = t.Admissions, t.Rejections, t.Evictions
		st.SSD.Items, st.SSD.Bytes, st.SSD.CapacityBytes = t.Items, t.Bytes, t.CapacityBytes
		st.SSDCache = d
		st.SSDCache.BudgetBytesPerDay, st.SSDCache.BudgetBytesPerSec = s.opts.SSDWriteBytesPerDay, s.opts.SSDWriteBytesPerSec
	}
	return st
}

// layout is how a blob is cut into cached items (segments). A segment
// never spans two backend chunks, so a miss costs exactly one chunk read.
type layout struct {
	seg   int64 // segment size
	chunk int64 // backend chunk size for this blob
	nseg  int
}

func (s *Store) layout(info blockstore.Info) layout {
	chunk := info.ChunkSize
	if chunk <= 0 || info.NumChunks() <= 1 {
		chunk = max(info.Size, 1)
	}
	maxItem := s.opts.RAMMaxItemBytes
	seg := chunk
	if chunk > maxItem && (chunk%maxItem == 0 || info.NumChunks() <= 1) {
		seg = maxItem
	}
	n := int((info.Size + seg - 1) / seg)
	return layout{seg: seg, chunk: chunk, nseg: max(n, 1)}
}

// invalidate drops every cached item of one blob version, and every fill
// of the key queued from a read that began before this call.
func (s *Store) invalidate(info blockstore.Info) {
	if s.fills == nil {
		return
	}
	s.fills.invalidate(info.Key, func() {
		lay := s.layout(info)
		for seg := range lay.nseg {
			k := ramKey{key: info.Key, version: info.Version, sum: info.Checksum, seg: uint32(seg)}
			if s.ram != nil {
				s.ram.invalidate(k)
			}
			if s.ssd != nil {
				s.ssd.invalidate(k.hash())
			}
		}
	})
}

// fetch returns bytes covering segment seg of the blob: the segment itself
// from RAM or SSD, or the whole chunk holding it from the backend (off is
// the blob offset of data[0]). Concurrent misses of one chunk share one
// backend read.
func (s *Store) fetch(ctx context.Context, info blockstore.Info, lay layout, seg int) (data []byte, off int64, tier Tier, err error) {
	k := ramKey{key: info.Key, version: info.Version, sum: info.Checksum, seg: uint32(seg)}
	h := k.hash()
	segOff := int64(seg) * lay.seg
	segLen := min(lay.seg, info.Size-segOff)
	start := time.Now()
	if s.ram != nil {
		if v, ok := s.ram.get(k); ok && int64(len(v.data)) == segLen {
			s.ram.markRead(k, v)
			s.ramC.hit(len(v.data), time.Since(start))
			return v.data, segOff, TierRAM, nil
		}
		s.ramC.misses.Add(1)
	}
	var epoch uint64
	if s.fills != nil {
		// Before any read of the bytes: an invalidation after this point
		// drops the fill (fill.go).
		epoch = s.fills.epoch(info.Key)
	}
	if s.ssd != nil {
		if d, ok := s.ssd.get(ctx, k, h); ok && int64(len(d)) == segLen {
			s.ssdC.hit(len(d), time.Since(start))
			if s.ram != nil && segLen <= s.opts.RAMMaxItemBytes {
				s.fills.enqueue(fillReq{info: info, lay: lay, off: segOff, data: d, epoch: epoch, promote: true})
			}
			return d, segOff, TierSSD, nil
		}
		s.ssdC.misses.Add(1)
	}
	ci := int(segOff / lay.chunk)
	cOff, cLen := info.ChunkBounds(ci)
	if info.NumChunks() <= 1 {
		cOff, cLen = 0, info.Size
	}
	data, leader, err := s.flights.do(ctx, flightKey{key: info.Key, version: info.Version, chunk: ci},
		func(ctx context.Context) ([]byte, error) {
			s.fg.begin()
			d, err := s.backend.ReadChunk(ctx, info, ci)
			s.fg.end(len(d))
			return d, err
		})
	if err != nil {
		s.hddC.misses.Add(1)
		return nil, 0, TierHDD, err
	}
	if int64(len(data)) != cLen {
		s.hddC.misses.Add(1)
		return nil, 0, TierHDD, fmt.Errorf("tiering: chunk %d of %q: %d bytes, want %d: %w", ci, info.Key, len(data), cLen, blockstore.ErrCorrupt)
	}
	if leader && s.fills != nil && len(data) > 0 {
		s.fills.enqueue(fillReq{info: info, lay: lay, off: cOff, data: data, epoch: epoch})
	} else if !leader {
		s.coalesced.Add(1)
	}
	s.hddC.hit(int(segLen), time.Since(start))
	return data, cOff, TierHDD, nil
}

// applyFill runs on the filler goroutine (fill.go), under the fill
// queue's lock: it offers the segments of bytes a reader got from the
// backend to the caches, RAM when they fit there (the SSD sees them when
// RAM evicts them), else the SSD directly; or it promotes an item read
// from the SSD into RAM.
func (s *Store) applyFill(r fillReq) {
	info, lay := r.info, r.lay
	if r.promote {
		k := ramKey{key: info.Key, version: info.Version, sum: info.Checksum, seg: uint32(r.off / lay.seg)}
		s.ram.set(k, ramValue{data: r.data, objSize: info.Size, fromSSD: true})
		s.ramC.admissions.Add(1)
		return
	}
	for o := int64(0); o < int64(len(r.data)); o += lay.seg {
		seg := (r.off + o) / lay.seg
		part := r.data[o:min(o+lay.seg, int64(len(r.data)))]
		k := ramKey{key: info.Key, version: info.Version, sum: info.Checksum, seg: uint32(seg)}
		own := ownedSegment(r.data, part)
		switch {
		case s.ram != nil && int64(len(own)) <= s.opts.RAMMaxItemBytes:
			s.ram.set(k, ramValue{data: own, objSize: info.Size})
			s.ramC.admissions.Add(1)
		case s.ssd != nil:
			s.ssd.offer(k, k.hash(), info.Size, own)
		}
	}
}

// ownedSegment returns part of data (a chunk as read, never modified) as a
// cache item: data itself when part is all of it and its allocation is not
// much larger (no copy), else a copy, since a slice of the chunk would pin
// the whole chunk in the cache.
func ownedSegment(data, part []byte) []byte {
	if len(part) == len(data) && cap(data)-len(data) <= len(data)/8 {
		return data[:len(data):len(data)]
	}
	own := make([]byte, len(part))
	copy(own, part)
	return own
}

func (c *tierCounters) hit(n int, d time.Duration) {
	c.hits.Add(1)
	c.hitBytes.Add(uint64(n))
	c.latency.record(d)
}

// captureReader keeps a copy of a small body as it streams to the backend,
// for write-through; beyond limit it stops copying.
type captureReader struct {
	r     io.Reader
	buf   []byte
	limit int64
	over  bool
}

func (c *captureReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if !c.over && n > 0 {
		if int64(len(c.buf)+n) > c.limit {
			c.over, c.buf = true, nil
		} else {
			c.buf = append(c.buf, p[:n]...)
		}
	}
	return n, err
}

var errNegativeOffset = errors.New("tiering: negative offset")
