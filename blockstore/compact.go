package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"strata/ioengine"
)

// CompactReport is what one compaction pass did.
type CompactReport struct {
	// Volumes are the volumes compacted and removed, in order.
	Volumes []uint32
	// Failed are candidates left in place: a record still needed could not
	// be read or copied (the error is logged), or an entry still names them.
	Failed []uint32
	// RecordsCopied and BytesCopied count the records (blobs, chunks,
	// tombstones, rewritten manifests) copied to an active volume.
	RecordsCopied, BytesCopied int64
	// BytesReclaimed is the used length of the volumes removed.
	BytesReclaimed int64
	// TombstonesDropped counts tombstones not copied (expired).
	TombstonesDropped int64
	// ManifestsRewritten counts chunked blobs whose manifest was rewritten
	// because its record or some of its chunks moved.
	ManifestsRewritten int64
	// Lost counts copies that a concurrent write, delete or drop made
	// useless before the switch (the write wins; the copy is garbage).
	Lost int64
}

// CompactStats are the compaction counters since Open.
type CompactStats struct {
	Passes, VolumesCompacted      uint64
	RecordsCopied, BytesCopied    uint64
	BytesReclaimed                uint64
	TombstonesDropped, CopiesLost uint64
	LastPass                      time.Time // when the last pass ended
	LastError                     string    // of the last pass that failed
}

type compactCounters struct {
	passes, volumes, records, copied, reclaimed, tombstones, lost atomic.Uint64
	mu                                                            sync.Mutex
	lastPass                                                      time.Time
	lastErr                                                       string
}

// compactState is the store's compaction machinery.
type compactState struct {
	mu       sync.Mutex // one pass at a time
	stop     chan struct{}
	loopDone chan struct{}
	retired  []retiredVolume // removed volumes whose handles stay open a while
	counters compactCounters
	pass     passTracker    // the running and last passes (pass.go)
	runs     sync.WaitGroup // passes StartPass started; Close waits for them
	// step, when set (tests), is called after each durable step of a
	// volume's compaction, so a crash test can take the state there.
	step func(what string, vol uint32)
}

func (c *compactState) stepped(what string, vol uint32) {
	if c.step != nil {
		c.step(what, vol)
	}
}

// retiredVolume is a compacted volume whose file is removed but whose
// handle stays open for retireGrace, so a reader holding an Info from
// before the switch still reads its bytes (the removed file lives on
// through the open handle).
type retiredVolume struct {
	v  *volume
	at time.Time
}

const retireGrace = time.Minute

// switchBatch bounds the moves one switch transaction carries, so a volume
// of a million small records does not hold bbolt's writer for seconds.
const switchBatch = 1 << 14

func (c *compactState) init(now func() time.Time) {
	c.stop = make(chan struct{})
	c.loopDone = make(chan struct{})
	c.pass.init(PassCompact, now)
}

// startCompactor runs the background loop when Options.CompactInterval is set.
func (s *Store) startCompactor() {
	s.compaction.init(s.opts.Now)
	if s.opts.CompactInterval <= 0 {
		close(s.compaction.loopDone)
		return
	}
	go s.compactLoop()
}

// stopCompactor ends a running pass and the loop (Close).
func (s *Store) stopCompactor() {
	if s.compaction.stop == nil {
		return
	}
	close(s.compaction.stop)
	<-s.compaction.loopDone
	s.compaction.runs.Wait()
}

func (s *Store) compactLoop() {
	defer close(s.compaction.loopDone)
	t := time.NewTicker(s.opts.CompactInterval)
	defer t.Stop()
	for {
		select {
		case <-s.compaction.stop:
			return
		case <-t.C:
		}
		s.compaction.mu.Lock()
		s.compaction.pass.begin(TriggerBackground)
		rep, err := s.compactPass(context.Background())
		switch {
		case errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled):
			return
		case err != nil:
			s.log.Error("blockstore: compaction pass failed", "err", err)
		case len(rep.Volumes) > 0:
			s.log.Info("blockstore: compaction pass", "volumes", rep.Volumes, "copied_bytes", rep.BytesCopied,
				"reclaimed_bytes", rep.BytesReclaimed, "tombstones_dropped", rep.TombstonesDropped)
		}
	}
}

// Compact runs one compaction pass: every sealed volume whose garbage
// ratio is at least Options.CompactThreshold, highest ratio first, has its
// live records copied to an active volume (at background priority and
// Options.CompactBytesPerSec), their index entries switched, and is then
// removed. See the package doc for the steps and what a crash does.
// Only one pass runs at a time: Compact waits for a running one (the
// background loop's, or one StartPass started) to end first.
func (s *Store) Compact(ctx context.Context) (CompactReport, error) {
	if s.compaction.stop == nil {
		return CompactReport{}, ErrClosed
	}
	s.compaction.mu.Lock()
	s.compaction.pass.begin(TriggerRequest)
	return s.compactPass(ctx)
}

// startCompactPass starts a requested pass in a goroutine unless one is
// running (StartPass).
func (s *Store) startCompactPass() bool {
	if s.compaction.stop == nil || !s.compaction.mu.TryLock() {
		return false
	}
	s.compaction.pass.begin(TriggerRequest)
	s.compaction.runs.Add(1)
	go func() {
		defer s.compaction.runs.Done()
		rep, err := s.compactPass(context.Background())
		switch {
		case errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled):
		case err != nil:
			s.log.Error("blockstore: requested compaction pass failed", "err", err)
		default:
			s.log.Info("blockstore: requested compaction pass", "volumes", rep.Volumes, "copied_bytes", rep.BytesCopied,
				"reclaimed_bytes", rep.BytesReclaimed, "tombstones_dropped", rep.TombstonesDropped)
		}
	}()
	return true
}

// compactPass runs the pass the tracker has just begun, with the
// compaction lock held; it releases the lock and ends the pass.
func (s *Store) compactPass(ctx context.Context) (rep CompactReport, err error) {
	defer s.compaction.mu.Unlock()
	defer func() {
		r := rep
		r.Volumes, r.Failed = slices.Clone(r.Volumes), slices.Clone(r.Failed)
		s.compaction.pass.end(err, &r, nil)
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // Close ends a pass at once
		select {
		case <-s.compaction.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := s.enter(); err != nil {
		return rep, err
	}
	defer s.exit()
	s.closeRetired(false)
	// The counts lag writes by up to one commit: bring them up to date.
	if err := s.index.flush(); err != nil {
		return rep, err
	}
	lim := &rateLimiter{rate: s.opts.CompactBytesPerSec, start: time.Now()}
	cands := s.compactCandidates()
	var total int64
	for _, v := range cands {
		used := v.end.Load()
		total += used - min(s.index.garbageOf(v.id, used), used)
	}
	copied0 := s.compaction.counters.copied.Load()
	s.compaction.pass.setProgress(func() (int64, int64) {
		return int64(s.compaction.counters.copied.Load() - copied0), total
	})
	for _, v := range cands {
		if err = ctx.Err(); err != nil {
			break
		}
		if verr := s.compactVolume(ctx, v, lim, &rep); verr != nil {
			if errors.Is(verr, errVolumeKept) {
				rep.Failed = append(rep.Failed, v.id)
				s.log.Error("blockstore: volume not compacted", "volume", v.id, "err", verr)
				continue
			}
			err = verr
			break
		}
	}
	c := &s.compaction.counters
	c.passes.Add(1)
	c.mu.Lock()
	c.lastPass = s.opts.Now()
	if err != nil {
		c.lastErr = err.Error()
	}
	c.mu.Unlock()
	return rep, err
}

// errVolumeKept: one volume could not be compacted; the pass goes on.
var errVolumeKept = errors.New("volume kept")

// compactCandidates are the sealed volumes at or above the threshold,
// highest garbage ratio first.
func (s *Store) compactCandidates() []*volume {
	active := map[*volume]bool{}
	for _, d := range s.dirs {
		if v := d.app.activeVolume(); v != nil {
			active[v] = true
		}
	}
	type cand struct {
		v     *volume
		ratio float64
	}
	var cands []cand
	s.volMu.RLock()
	for _, v := range s.volumes {
		st := uint8(v.state.Load())
		if active[v] || (st != volSealed && st != volFailed) || v.dir.failedErr() != nil {
			continue // a failed disk is out of service: not read, not written
		}
		used := v.end.Load()
		if r := ratio(s.index.garbageOf(v.id, used), used); used > 0 && r >= s.opts.CompactThreshold {
			cands = append(cands, cand{v, r})
		}
	}
	s.volMu.RUnlock()
	slices.SortFunc(cands, func(a, b cand) int {
		if a.ratio != b.ratio {
			if a.ratio > b.ratio {
				return -1
			}
			return 1
		}
		return int(a.v.id) - int(b.v.id)
	})
	out := make([]*volume, len(cands))
	for i, c := range cands {
		out[i] = c.v
	}
	return out
}

// liveRef is an index entry that needs something in the volume being
// compacted: its record, or (chunked) some of its chunks.
type liveRef struct {
	key string
	e   indexEntry
	// legacy: a chunked entry without chunk spans (written before they
	// were kept); its manifest must be read to know whether it needs the
	// volume.
	legacy bool
}

// move is one entry's switch from old to new.
type move struct {
	key      string
	old, new indexEntry
}

// compactVolume moves what the index still needs out of v, switches the
// entries, drops expired tombstones and removes v. Order, each step
// durable before the next:
//
//  1. copies appended to an active volume (fdatasync'd by the appender),
//     each counted as garbage of its new volume until switched;
//  2. one bbolt transaction per batch switches the entries that still
//     point at the old copy (a concurrent write wins; its copy stays
//     garbage);
//  3. tombstone expiries go through the indexer, in order with writes;
//  4. a pass over the index confirms no entry names v any more;
//  5. v's state becomes volCompacted in the index, then the file is
//     removed and the directory fsynced.
func (s *Store) compactVolume(ctx context.Context, v *volume, lim *rateLimiter, rep *CompactReport) error {
	ix := s.index
	if err := ix.writable(); err != nil {
		return err
	}
	if err := ix.flush(); err != nil {
		return err
	}
	refs, err := s.collectLive(ctx, v.id)
	if err != nil {
		return err
	}
	// Records in v in file order, so the reads sweep the disk once; chunked
	// blobs whose manifest lies elsewhere after them.
	slices.SortStableFunc(refs, func(a, b liveRef) int {
		ai, bi := a.e.loc.volume != v.id, b.e.loc.volume != v.id
		switch {
		case ai != bi:
			if ai {
				return 1
			}
			return -1
		case a.e.loc.offset < b.e.loc.offset:
			return -1
		case a.e.loc.offset > b.e.loc.offset:
			return 1
		}
		return 0
	})
	var moves []move
	var expire []keyEntry
	kept := func(format string, args ...any) error {
		return fmt.Errorf("%w: volume %d: %s", errVolumeKept, v.id, fmt.Sprintf(format, args...))
	}
	cp := &copier{s: s, d: v.dir, lim: lim, rep: rep}
	defer cp.release()
	sc := &scanReader{class: ioengine.ClassBackground, h: v.h, limit: v.end.Load(), align: int64(v.h.Alignment()), window: 1 << 20}
	switchNow := func() error {
		if err := cp.flush(ctx); err != nil {
			return err
		}
		if len(moves) == 0 {
			return nil
		}
		lost, err := s.switchMoves(v.id, moves)
		if err != nil {
			return err
		}
		rep.Lost += int64(lost)
		s.compaction.counters.lost.Add(uint64(lost))
		moves = moves[:0]
		return nil
	}
	for _, r := range refs {
		if err := ctx.Err(); err != nil {
			return err
		}
		var m move
		var ok bool
		var err error
		switch {
		case r.e.flags&entryChunked != 0:
			m, ok, err = s.moveChunked(ctx, v, r, lim, rep)
		case r.e.tombstone() && s.tombstoneDroppable(ctx, r.key, &r.e, v.id):
			expire = append(expire, keyEntry{r.key, r.e})
			continue
		default:
			err = s.moveRecord(ctx, cp, sc, r, func(m move) { moves = append(moves, m) })
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrClosed) {
				return err
			}
			return kept("key %q: %v", r.key, err)
		}
		if ok {
			moves = append(moves, m)
		}
		if len(moves) >= switchBatch {
			if err := switchNow(); err != nil {
				return err
			}
		}
	}
	if err := switchNow(); err != nil {
		return err
	}
	if len(expire) > 0 {
		ix.expire(expire)
		if err := ix.flush(); err != nil {
			return err
		}
		s.compaction.stepped("expired", v.id)
		rep.TombstonesDropped += int64(len(expire))
		s.compaction.counters.tombstones.Add(uint64(len(expire)))
	}
	// A Compose in flight may have read part locations in v before the
	// switch: it finishes (and names v, if it does) before the check.
	s.composeMu.Lock()
	key, named, err := s.volumeNamed(ctx, v.id)
	if err == nil && named {
		err = kept("key %q still names it after the switch", key)
	}
	if err == nil {
		err = s.removeVolume(v)
	}
	s.composeMu.Unlock()
	if err != nil {
		return err
	}
	used := v.end.Load()
	rep.Volumes = append(rep.Volumes, v.id)
	rep.BytesReclaimed += used
	s.compaction.counters.volumes.Add(1)
	s.compaction.counters.reclaimed.Add(uint64(used))
	return nil
}

// collectLive returns the committed entries that need volume vol.
func (s *Store) collectLive(ctx context.Context, vol uint32) ([]liveRef, error) {
	var out []liveRef
	n := 0
	err := s.index.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			e, err := decodeEntry(v)
			if err != nil || e.corrupt() {
				return nil // fsck reports it; nothing here can be moved
			}
			if r, ok := needs(string(k), &e, vol); ok {
				out = append(out, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("blockstore: compaction: reading the index: %w", err)
	}
	return out, nil
}

// needs reports whether e needs volume vol (or may: a legacy chunked entry).
func needs(key string, e *indexEntry, vol uint32) (liveRef, bool) {
	if e.loc.volume == vol && e.loc.length > 0 {
		return liveRef{key: key, e: *e}, true
	}
	if e.flags&entryChunked == 0 {
		return liveRef{}, false
	}
	t := tailOf(e)
	if len(t.spans) == 0 {
		return liveRef{key: key, e: *e, legacy: true}, true
	}
	for _, sp := range t.spans {
		if sp.vol == vol {
			return liveRef{key: key, e: *e}, true
		}
	}
	return liveRef{}, false
}

// volumeNamed reports a key whose committed or pending entry still needs
// vol (legacy chunked entries aside: their manifests were read).
func (s *Store) volumeNamed(ctx context.Context, vol uint32) (string, bool, error) {
	ix := s.index
	ix.mu.RLock()
	for k, e := range ix.pending {
		if r, ok := needs(k, &e, vol); ok && !r.legacy && !e.dropped() && !e.corrupt() {
			ix.mu.RUnlock()
			return k, true, nil
		}
	}
	ix.mu.RUnlock()
	refs, err := s.collectLive(ctx, vol)
	if err != nil {
		return "", false, err
	}
	for _, r := range refs {
		if !r.legacy {
			return r.key, true, nil
		}
	}
	return "", false, nil
}

// readRaw reads the record bytes at loc (background priority) into an
// aligned buffer the caller releases, and checks they decode as the record
// of key at version with the given kind.
func (s *Store) readRaw(ctx context.Context, loc location, key string, version uint64, kind uint8) (record, []byte, *ioengine.Buffer, error) {
	v, ok := s.volume(loc.volume)
	if !ok {
		return record{}, nil, nil, fmt.Errorf("%w: volume %d is missing", ErrCorrupt, loc.volume)
	}
	align := int64(v.h.Alignment())
	start := alignDown(loc.offset, align)
	end := alignUp(loc.offset+loc.length, align)
	buf := s.getBuf(int(end - start))
	n, err := v.h.ReadAt(ctx, ioengine.ClassBackground, buf.B[:end-start], start)
	if err != nil && !(errors.Is(err, io.EOF) && int64(n) >= loc.offset+loc.length-start) {
		s.putBuf(buf)
		v.dir.noteIOError(s, err)
		return record{}, nil, nil, fmt.Errorf("read at %s: %w", loc, err)
	}
	rb := buf.B[loc.offset-start : loc.offset-start+loc.length]
	rec, _, err := decodeRecord(rb)
	switch {
	case err != nil:
	case int64(rec.recordLen()) != loc.length || !bytes.Equal(rec.key, []byte(key)) || rec.version != version || rec.flags != kind:
		err = fmt.Errorf("%w: the record at %s is not %q at version %d", ErrCorrupt, loc, key, version)
	}
	if err != nil {
		s.putBuf(buf)
		s.stats.corruptions.Add(1)
		return record{}, nil, nil, err
	}
	return rec, rb, buf, nil
}

// copyOut appends rec (its bytes as they are) to an active volume of d,
// or another directory when d has no room, as garbage until switched.
func (s *Store) copyOut(ctx context.Context, d *dataDir, rec []byte, lim *rateLimiter, rep *CompactReport) (location, error) {
	if err := lim.wait(ctx, int64(2*len(rec))); err != nil { // read and write
		return location{}, err
	}
	buf := s.getBuf(len(rec))
	defer s.putBuf(buf)
	n := copy(buf.B, rec)
	loc, err := s.writeCopy(ctx, d, buf.B[:n]) // no entry until switched
	if err != nil {
		return location{}, err
	}
	s.copied(loc, n, rep)
	return loc, nil
}

// copied counts one durable copy.
func (s *Store) copied(loc location, n int, rep *CompactReport) {
	s.compaction.stepped("copied", loc.volume)
	rep.RecordsCopied++
	rep.BytesCopied += int64(n)
	s.compaction.counters.records.Add(1)
	s.compaction.counters.copied.Add(uint64(n))
}

// copier appends small records in batches, all queued at once, so the
// appender packs them into groups as it does concurrent puts (one copy at
// a time would pad every record to the alignment).
type copier struct {
	s     *Store
	d     *dataDir
	lim   *rateLimiter
	rep   *CompactReport
	bufs  []*ioengine.Buffer
	recs  [][]byte
	then  []func(location)
	bytes int
}

// add queues a copy of rec (its bytes as they are); then runs with its new
// location once it is durable (at the latest in flush).
func (c *copier) add(ctx context.Context, rec []byte, then func(location)) error {
	if err := c.lim.wait(ctx, int64(2*len(rec))); err != nil {
		return err
	}
	buf := c.s.getBuf(len(rec))
	n := copy(buf.B, rec)
	c.bufs, c.recs, c.then = append(c.bufs, buf), append(c.recs, buf.B[:n]), append(c.then, then)
	c.bytes += n
	// An eighth of a group: enough to pack small records densely, small
	// enough that puts queued behind a batch wait little.
	if c.bytes >= c.s.opts.MaxBatchBytes/8 || len(c.recs) >= 256 {
		return c.flush(ctx)
	}
	return nil
}

// flush writes what is queued and waits for it. A copy a directory could
// not take (no room for a volume) goes through Store.write, which tries
// the others.
func (c *copier) flush(ctx context.Context) error {
	defer c.release()
	if len(c.recs) == 0 {
		return nil
	}
	if err := c.s.index.writable(); err != nil {
		return err
	}
	if err := c.yield(ctx); err != nil {
		return err
	}
	reqs := make([]*appendReq, 0, len(c.recs))
	var firstErr error
	for _, rec := range c.recs {
		req := &appendReq{rec: rec, done: make(chan appendResult, 1), copy: true}
		if err := c.d.app.submit(ctx, req); err != nil {
			firstErr = err
			break
		}
		reqs = append(reqs, req)
	}
	for i, req := range reqs { // wait for every queued one: they own the buffers
		res := <-req.done
		switch {
		case firstErr != nil:
		case res.err == nil:
			c.s.copied(res.loc, len(req.rec), c.rep)
			c.then[i](res.loc)
		case res.retry:
			loc, err := c.s.writeCopy(ctx, c.s.pickDir([]*dataDir{c.d}, true), req.rec)
			if err != nil {
				firstErr = err
				continue
			}
			c.s.copied(loc, len(req.rec), c.rep)
			c.then[i](loc)
		default:
			firstErr = res.err
		}
	}
	return firstErr
}

// Copies give way to foreground writes: a batch waits, up to yieldMax,
// while the disk's appender has writes queued, so puts are not stuck
// behind copies in group commits. Under a steady put load compaction then
// goes at about one batch per yieldMax.
const (
	yieldStep = time.Millisecond
	yieldMax  = 20 * time.Millisecond
)

func (c *copier) yield(ctx context.Context) error {
	for waited := time.Duration(0); waited < yieldMax; waited += yieldStep {
		if used, _ := c.d.app.budget.state(); used == 0 {
			return nil
		}
		t := time.NewTimer(yieldStep)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func (c *copier) release() {
	for _, b := range c.bufs {
		c.s.putBuf(b)
	}
	c.bufs, c.recs, c.then, c.bytes = c.bufs[:0], c.recs[:0], c.then[:0], 0
}

// moveRecord queues a copy of a blob or tombstone record, read through
// sc (the volume's records in file order: a few large sequential reads
// rather than one per record); done gets its move once the copy is durable.
func (s *Store) moveRecord(ctx context.Context, cp *copier, sc *scanReader, r liveRef, done func(move)) error {
	rb, err := sc.at(ctx, r.e.loc.offset, int(r.e.loc.length))
	if err != nil {
		cp.d.noteIOError(s, err)
		return err
	}
	rec, _, err := decodeRecord(rb)
	switch {
	case err != nil:
	case int64(len(rb)) != r.e.loc.length || int64(rec.recordLen()) != r.e.loc.length || string(rec.key) != r.key || rec.version != r.e.version || (rec.flags == flagTombstone) != r.e.tombstone() || rec.flags&(flagChunk|flagManifest) != 0:
		err = fmt.Errorf("%w: the record at %s is not %q at version %d", ErrCorrupt, r.e.loc, r.key, r.e.version)
	}
	if err != nil {
		s.stats.corruptions.Add(1)
		return err
	}
	return cp.add(ctx, rb, func(loc location) {
		ne := r.e
		ne.loc = loc
		done(move{key: r.key, old: r.e, new: ne})
	})
}

// moveChunked relocates the chunks of a chunked blob that lie in v and
// writes its manifest anew (same version, key, content type and checksums;
// only the chunk locations and its generation change): manifests name
// chunks by location. ok is false when the blob turned out not to need v.
func (s *Store) moveChunked(ctx context.Context, v *volume, r liveRef, lim *rateLimiter, rep *CompactReport) (move, bool, error) {
	rec, _, buf, err := s.readRaw(ctx, r.e.loc, r.key, r.e.version, flagManifest)
	if err != nil {
		return move{}, false, err
	}
	h := rec.recordHeader
	ct := string(rec.contentType)
	ext := slices.Clone(rec.ext) // metadata and MD5 stay as they are
	m, err := decodeManifest(rec.payload)
	s.putBuf(buf)
	if err != nil {
		return move{}, false, err
	}
	touches := r.e.loc.volume == v.id
	for _, c := range m.chunks {
		touches = touches || c.loc.volume == v.id
	}
	if !touches {
		return move{}, false, nil
	}
	for i, c := range m.chunks {
		if c.loc.volume != v.id {
			continue
		}
		// A composed manifest's records keep the key and version of the
		// part they were written for.
		key, version, kind, _, _ := m.record(i, r.key, r.e.version)
		_, cb, cbuf, err := s.readRaw(ctx, c.loc, key, version, kind)
		if err != nil {
			return move{}, false, fmt.Errorf("chunk %d: %w", i, err)
		}
		loc, err := s.copyOut(ctx, v.dir, cb, lim, rep)
		s.putBuf(cbuf)
		if err != nil {
			return move{}, false, fmt.Errorf("chunk %d: %w", i, err)
		}
		m.chunks[i].loc = loc
	}
	payload := m.encodeAny(make([]byte, 0, m.encodedLen()))
	gen := tailOf(&r.e).gen + 1
	room := payloadOffset(r.key, ct, len(ext))
	mb := s.getBuf(room + len(payload) + recordTrailerLen)
	defer s.putBuf(mb)
	copy(mb.B[room:], payload)
	h.rawLen, h.payloadLen, h.chunkIndex = len(payload), len(payload), gen
	loc, err := s.copyOut(ctx, v.dir, finishRecord(mb.B, h, r.key, ct, ext), lim, rep)
	if err != nil {
		return move{}, false, fmt.Errorf("manifest: %w", err)
	}
	rep.ManifestsRewritten++
	ne := r.e
	ne.loc = loc
	ne = withSpans(ne, &m, gen)
	return move{key: r.key, old: r.e, new: ne}, true, nil
}

// switchMoves points every entry that is still at its old copy at its new
// one, in one bbolt transaction, after the copies' garbage counts are
// committed. A copy whose entry changed meanwhile lost: it stays garbage,
// and its volume joins the current entry's shadow (it is an older record
// of the key). It returns how many lost.
func (s *Store) switchMoves(vol uint32, moves []move) (lost int, err error) {
	ix := s.index
	if err := ix.writable(); err != nil {
		return 0, err
	}
	if err := ix.flush(); err != nil {
		return 0, err
	}
	s.compaction.stepped("copies committed", vol)
	var live liveDelta
	started := time.Now()
	defer func() { ix.commitTime.Add(int64(time.Since(started))) }()
	err = ix.update(func(tx *bolt.Tx) error {
		live, lost = liveDelta{}, 0
		kb := tx.Bucket(bucketKeys)
		kb.FillPercent = 0.9
		for _, m := range moves {
			k := []byte(m.key)
			var c indexEntry
			ok := false
			if v := kb.Get(k); v != nil {
				c, ok = decodeEntryOrZero(v)
			}
			if !ok || c.loc != m.old.loc || c.version != m.old.version || c.flags != m.old.flags {
				lost++
				if ok {
					if nc, changed := ix.addShadow(c, m.new.loc.volume); changed {
						if err := kb.Put(k, nc.encode(nil)); err != nil {
							return err
						}
					}
				}
				continue
			}
			ne := m.new
			nt := tailOf(&ne)
			nt.shadow = tailOf(&c).shadow
			ne.tail = nt.encode()
			live.install(&ne, &c)
			if err := kb.Put(k, ne.encode(nil)); err != nil {
				return err
			}
		}
		return putLive(tx, live)
	})
	if err != nil {
		return 0, fmt.Errorf("blockstore: compaction switch: %w", err)
	}
	for _, m := range moves {
		s.manifests.drop(m.key) // its cached manifest names the old locations
	}
	ix.commits.Add(1)
	ix.addLive(live)
	s.compaction.stepped("switched", vol)
	return lost, nil
}

// expire queues the deletion of expired tombstones, each only if the
// key's entry is still that tombstone when the indexer commits it (in
// order with writes queued before it).
func (ix *index) expire(stones []keyEntry) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, ke := range stones {
		ix.queue = append(ix.queue, indexOp{kind: opExpire, key: ke.key, e: ke.e})
	}
	ix.signal()
}

// commitExpire deletes key's entry if it is still the tombstone e; the
// tombstone's record is then garbage.
func commitExpire(kb *bolt.Bucket, key []byte, e *indexEntry, live liveDelta) error {
	v := kb.Get(key)
	if v == nil {
		return nil
	}
	cur, ok := decodeEntryOrZero(v)
	if !ok || !cur.tombstone() || cur.version != e.version || cur.loc != e.loc {
		return nil
	}
	live.remove(&cur)
	return kb.Delete(key)
}

// removeVolume records v as compacted, then removes its file and fsyncs
// the directory. The handle stays open for retireGrace (see retiredVolume).
func (s *Store) removeVolume(v *volume) error {
	ix := s.index
	end := v.end.Load()
	err := ix.update(func(tx *bolt.Tx) error {
		r := volumeRecord{state: volCompacted, watermark: end, end: end}
		if err := tx.Bucket(bucketVolumes).Put(volumeKey(v.id), r.encode()); err != nil {
			return err
		}
		if gb := tx.Bucket(bucketLive); gb != nil {
			return gb.Delete(volumeKey(v.id))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("blockstore: recording volume %d compacted: %w", v.id, err)
	}
	s.compaction.stepped("marked compacted", v.id)
	v.state.Store(uint32(volCompacted))
	s.compaction.retired = append(s.compaction.retired, retiredVolume{v: v, at: s.opts.Now()})
	if err := s.removeVolumeFile(v.dir, v.id); err != nil {
		return err // the next Open finishes the removal
	}
	// Only a removal that is durable lets a tombstone whose shadow names
	// v go (see tombstoneDroppable).
	ix.garbage.mu.Lock()
	ix.garbage.gone[v.id] = true
	delete(ix.garbage.live, v.id)
	ix.garbage.mu.Unlock()
	s.log.Info("blockstore: volume compacted and removed", "volume", v.id, "dir", v.dir.dev.Dir(), "bytes", end)
	return nil
}

func (s *Store) removeVolumeFile(d *dataDir, id uint32) error {
	fsys := d.dev.FS()
	path := filepath.Join(d.dev.Dir(), volumeFileName(id))
	if err := fsys.Remove(path); err != nil && !errors.Is(err, errNotExist) {
		return fmt.Errorf("blockstore: removing compacted volume %s: %w", path, err)
	}
	s.compaction.stepped("file removed", id)
	if err := fsys.SyncDir(d.dev.Dir()); err != nil {
		return fmt.Errorf("blockstore: sync directory after removing %s: %w", path, err)
	}
	s.compaction.stepped("directory synced", id)
	return nil
}

// closeRetired closes the handles of removed volumes past their grace
// (all of them with force).
func (s *Store) closeRetired(force bool) {
	now := s.opts.Now()
	keep := s.compaction.retired[:0]
	for _, r := range s.compaction.retired {
		if !force && now.Sub(r.at) < retireGrace {
			keep = append(keep, r)
			continue
		}
		s.volMu.Lock()
		delete(s.volumes, r.v.id)
		s.volMu.Unlock()
		r.v.h.Close()
	}
	s.compaction.retired = keep
}

// finishRemovals (recovery) takes the volumes the index records as
// compacted out of vols and removes their files, which a crash before the
// directory fsync can leave behind. A check only leaves them out.
func (s *Store) finishRemovals(d *dataDir, vols []*volume, stored map[uint32]volumeRecord) ([]*volume, error) {
	out := vols[:0]
	removed := false
	for _, v := range vols {
		if r, ok := stored[v.id]; !ok || r.state != volCompacted {
			out = append(out, v)
			continue
		}
		s.volMu.Lock()
		delete(s.volumes, v.id)
		s.volMu.Unlock()
		v.h.Close()
		if s.check != nil {
			continue
		}
		if err := d.dev.FS().Remove(v.path()); err != nil && !errors.Is(err, errNotExist) {
			return nil, fmt.Errorf("blockstore: removing compacted volume %s: %w", v.path(), err)
		}
		removed = true
		s.log.Info("blockstore: removed a compacted volume a crash left behind", "volume", v.id, "dir", d.dev.Dir())
	}
	if removed {
		if err := d.dev.FS().SyncDir(d.dev.Dir()); err != nil {
			return nil, fmt.Errorf("blockstore: sync %s: %w", d.dev.Dir(), err)
		}
	}
	return out, nil
}

// rateLimiter paces a pass to rate bytes per second (<= 0: unlimited).
type rateLimiter struct {
	rate  int64
	start time.Time
	bytes int64
	// Tests replace the clock and the sleep.
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// wait accounts n more bytes and sleeps until the pass is back at rate.
func (r *rateLimiter) wait(ctx context.Context, n int64) error {
	if r.rate <= 0 {
		return ctx.Err()
	}
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	r.bytes += n
	due := r.start.Add(time.Duration(float64(r.bytes) / float64(r.rate) * float64(time.Second)))
	d := due.Sub(now())
	if d <= 0 {
		return ctx.Err()
	}
	if r.sleep != nil {
		return r.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// compactStats is the Stats view of the counters.
func (s *Store) compactStats() CompactStats {
	c := &s.compaction.counters
	c.mu.Lock()
	last, lastErr := c.lastPass, c.lastErr
	c.mu.Unlock()
	return CompactStats{
		Passes:            c.passes.Load(),
		VolumesCompacted:  c.volumes.Load(),
		RecordsCopied:     c.records.Load(),
		BytesCopied:       c.copied.Load(),
		BytesReclaimed:    c.reclaimed.Load(),
		TombstonesDropped: c.tombstones.Load(),
		CopiesLost:        c.lost.Load(),
		LastPass:          last,
		LastError:         lastErr,
	}
}
