package blockstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"strata/ioengine"
)

// Scrub reads every record of every volume in the background and verifies
// its checksums, so rot is found before a reader trips on it (see doc.go,
// # Scrub).

// ScrubReport is what one Scrub pass found, over all disks.
type ScrubReport struct {
	Disks   int   // disks scrubbed (failed disks are skipped)
	Resumed bool  // a disk's pass continued one a restart or a cancel interrupted
	Volumes int   // volumes read (a resumed pass counts only what it read)
	Records int64 // records verified
	Bytes   int64 // bytes read
	// Corruptions counts corrupt records and stretches of corrupt bytes;
	// Marked, the keys among them whose current entry is now indexed as
	// corrupt (Get answers ErrCorrupt; Options.OnCorrupt was called).
	Corruptions int
	Marked      int
	ReadErrors  int // reads that failed (the disk's error count rises too)
	// Problems lists the first 100 corruptions, in plain words.
	Problems []Problem
}

// maxScrubProblems bounds ScrubReport.Problems.
const maxScrubProblems = 100

// ScrubStats is one disk's scrub state, in Stats.Disks.
type ScrubStats struct {
	// Volume and Offset are how far the pass in progress has come (it
	// resumes there after a restart); PassStarted is when it began, zero
	// when no pass is in progress.
	Volume      uint32
	Offset      int64
	Done        int64 // bytes of the disk's volumes behind the cursor (of UsedBytes)
	PassStarted time.Time
	// LastComplete is when the disk's last complete pass ended; zero if
	// none has (kept in the index across restarts).
	LastComplete time.Time
	Bytes        uint64 // bytes scrubbed since Open
	Records      uint64 // records verified since Open
	Corruptions  uint64 // corrupt records found since Open
	ReadErrors   uint64 // failed scrub reads since Open
}

// Scrub tuning.
const (
	// scrubWindow is the size of one scrub read: small enough that a
	// foreground read queued behind it waits little (it runs at background
	// priority, but a read in flight is not preempted).
	scrubWindow = 1 << 20
	// scrubPersistEvery is how many bytes a disk's pass reads between two
	// saves of its progress in the index (and at each volume's end).
	scrubPersistEvery = 64 << 20
	// scrubRetryAfter is how long the background loop waits after a
	// failed pass.
	scrubRetryAfter = time.Minute
)

// bucketScrub maps a disk id to its scrub progress (scrubProgress).
var bucketScrub = []byte("scrub")

// scrubProgress is a disk's scrub cursor as kept in the index.
type scrubProgress struct {
	volume    uint32 // the pass reads volumes with ids >= volume ...
	offset    int64  // ... from offset in volume itself
	maxVolume uint32 // and <= maxVolume (the newest when the pass began), so a pass ends under writes
	started   int64  // unix ns when the pass began; 0: no pass in progress
	completed int64  // unix ns when the last complete pass ended; 0: never
}

// scrubProgressFormat is the first byte of an encoded scrubProgress.
const scrubProgressFormat = 1

func (p scrubProgress) encode() []byte {
	b := []byte{scrubProgressFormat}
	b = binary.AppendUvarint(b, uint64(p.volume))
	b = binary.AppendUvarint(b, uint64(p.offset))
	b = binary.AppendUvarint(b, uint64(p.maxVolume))
	b = binary.AppendUvarint(b, uint64(p.started))
	return binary.AppendUvarint(b, uint64(p.completed))
}

func decodeScrubProgress(b []byte) (scrubProgress, error) {
	var p scrubProgress
	if len(b) < 1 || b[0] != scrubProgressFormat {
		return p, fmt.Errorf("%w: scrub progress format", ErrCorrupt)
	}
	b = b[1:]
	var vals [5]uint64
	for i := range vals {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return p, fmt.Errorf("%w: scrub progress field %d", ErrCorrupt, i)
		}
		vals[i] = v
		b = b[n:]
	}
	if len(b) != 0 || vals[0] > 1<<32-1 || vals[1] > 1<<62 || vals[2] > 1<<32-1 || vals[3] > 1<<62 || vals[4] > 1<<62 {
		return p, fmt.Errorf("%w: scrub progress out of range", ErrCorrupt)
	}
	return scrubProgress{
		volume: uint32(vals[0]), offset: int64(vals[1]), maxVolume: uint32(vals[2]),
		started: int64(vals[3]), completed: int64(vals[4]),
	}, nil
}

// scrubState is one disk's scrub cursor and counters.
type scrubState struct {
	mu                                      sync.Mutex
	progress                                scrubProgress
	bytes, records, corruptions, readErrors uint64
}

func (st *scrubState) stats() ScrubStats {
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.progress
	return ScrubStats{
		Volume: p.volume, Offset: p.offset,
		PassStarted: scrubStatsTime(p.started), LastComplete: scrubStatsTime(p.completed),
		Bytes: st.bytes, Records: st.records, Corruptions: st.corruptions, ReadErrors: st.readErrors,
	}
}

func (st *scrubState) get() scrubProgress {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.progress
}

func (st *scrubState) set(p scrubProgress) {
	st.mu.Lock()
	st.progress = p
	st.mu.Unlock()
}

func (st *scrubState) count(bytes, records, corruptions, readErrors uint64) {
	st.mu.Lock()
	st.bytes += bytes
	st.records += records
	st.corruptions += corruptions
	st.readErrors += readErrors
	st.mu.Unlock()
}

// scrubber is the store's scrub machinery.
type scrubber struct {
	ctx    context.Context // cancelled by Close: ends passes and the loop
	cancel context.CancelFunc
	sem    chan struct{} // one pass at a time
	done   chan struct{} // closed when the background loop ends; nil without one
	// sleep waits d or until ctx ends (tests replace it with a fake clock).
	sleep func(ctx context.Context, d time.Duration) error
	// persistEvery is scrubPersistEvery; tests shorten it.
	persistEvery int64
	pass         passTracker    // the running and last passes (pass.go)
	runs         sync.WaitGroup // passes StartPass started; stopScrub waits for them
}

// startScrub loads each disk's scrub progress and, with a ScrubInterval,
// starts the background loop. Open calls it last.
func (s *Store) startScrub() error {
	s.scrub.ctx, s.scrub.cancel = context.WithCancel(context.Background())
	s.scrub.sem = make(chan struct{}, 1)
	s.scrub.sleep = sleepCtx
	s.scrub.persistEvery = scrubPersistEvery
	s.scrub.pass.init(PassScrub, s.opts.Now)
	err := s.index.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketScrub)
		if b == nil {
			return nil
		}
		for _, d := range s.dirs {
			v := b.Get([]byte(d.diskID))
			if v == nil {
				continue
			}
			p, err := decodeScrubProgress(v)
			if err != nil {
				s.log.Warn("blockstore: scrub progress unreadable; the disk's next pass starts from the beginning", "dir", d.dev.Dir(), "err", err)
				continue
			}
			d.scrub.set(p)
		}
		return nil
	})
	if err != nil {
		s.scrub.cancel()
		return fmt.Errorf("blockstore: reading scrub progress: %w", err)
	}
	if s.opts.ScrubInterval > 0 {
		s.scrub.done = make(chan struct{})
		go s.scrubLoop()
	}
	return nil
}

// stopScrub ends any pass and the loop; Close calls it before it waits for
// operations in flight.
func (s *Store) stopScrub() {
	if s.scrub.cancel == nil {
		return
	}
	s.scrub.cancel()
	if s.scrub.done != nil {
		<-s.scrub.done
	}
	s.scrub.runs.Wait()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
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

// scrubLoop runs a pass whenever a disk is due: at once when a pass is in
// progress (a restart interrupted it) or a disk never completed one, else
// ScrubInterval after the oldest disk's last complete pass.
func (s *Store) scrubLoop() {
	defer close(s.scrub.done)
	ctx := s.scrub.ctx
	for {
		if err := s.scrub.sleep(ctx, s.nextScrubIn()); err != nil {
			return
		}
		// A requested pass running now makes the disks due later: wait
		// for it and look again, rather than read everything twice.
		if st, _, _ := s.scrub.pass.status(0); st.Running {
			if _, err := s.WaitPass(ctx, PassScrub, st.ID); err != nil {
				return
			}
			continue
		}
		rep, err := s.scrubWith(ctx, TriggerBackground)
		switch {
		case ctx.Err() != nil || errors.Is(err, ErrClosed):
			return
		case err != nil:
			s.log.Error("blockstore: scrub pass failed; retrying later", "err", err, "retry_after", scrubRetryAfter)
			if err := s.scrub.sleep(ctx, scrubRetryAfter); err != nil {
				return
			}
		default:
			s.log.Info("blockstore: scrub pass complete", "disks", rep.Disks, "volumes", rep.Volumes, "records", rep.Records,
				"bytes", rep.Bytes, "corruptions", rep.Corruptions, "marked", rep.Marked, "read_errors", rep.ReadErrors)
		}
	}
}

// nextScrubIn is how long until a disk is due for a pass.
func (s *Store) nextScrubIn() time.Duration {
	now := s.opts.Now()
	wait := s.opts.ScrubInterval
	for _, d := range s.dirs {
		if d.failedErr() != nil {
			continue
		}
		p := d.scrub.get()
		if p.started != 0 || p.completed == 0 {
			return 0
		}
		wait = min(wait, time.Unix(0, p.completed).Add(s.opts.ScrubInterval).Sub(now))
	}
	return max(wait, 0)
}

// Scrub runs one scrub pass over every disk that is in service, at most
// Options.ScrubBytesPerSec per disk (the disks in parallel), at background
// I/O priority, and returns when it is complete. A disk's pass interrupted
// before (by a restart, or a cancelled Scrub) resumes where it stopped;
// otherwise a new pass starts. Only one pass runs at a time: Scrub waits
// for a background pass to end first. A corrupt record is logged and
// counted (Stats.Corruptions, the disk's ScrubStats); if it holds its
// key's current version, the key is indexed as corrupt (Get answers
// ErrCorrupt until a write at that version or newer replaces it) and
// Options.OnCorrupt is called. A cancelled ctx (or Close) stops the pass
// and keeps its progress. The error is for a pass that could not run or
// finish; what it found is in the report.
func (s *Store) Scrub(ctx context.Context) (ScrubReport, error) {
	return s.scrubWith(ctx, TriggerRequest)
}

func (s *Store) scrubWith(ctx context.Context, trigger string) (ScrubReport, error) {
	if s.closed.Load() {
		return ScrubReport{}, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.scrub.ctx, cancel)
	defer stop()
	select {
	case s.scrub.sem <- struct{}{}:
	case <-ctx.Done():
		return ScrubReport{}, s.scrubStopped(ctx)
	}
	s.scrub.pass.begin(trigger)
	return s.scrubPass(ctx)
}

// startScrubPass starts a requested pass in a goroutine unless one is
// running (StartPass).
func (s *Store) startScrubPass() bool {
	select {
	case s.scrub.sem <- struct{}{}:
	default:
		return false
	}
	if s.scrub.ctx.Err() != nil {
		<-s.scrub.sem
		return false
	}
	s.scrub.pass.begin(TriggerRequest)
	s.scrub.runs.Add(1)
	go func() {
		defer s.scrub.runs.Done()
		rep, err := s.scrubPass(s.scrub.ctx)
		switch {
		case errors.Is(err, ErrClosed):
		case err != nil:
			s.log.Error("blockstore: requested scrub pass failed", "err", err)
		default:
			s.log.Info("blockstore: requested scrub pass complete", "disks", rep.Disks, "volumes", rep.Volumes, "records", rep.Records,
				"bytes", rep.Bytes, "corruptions", rep.Corruptions, "marked", rep.Marked, "read_errors", rep.ReadErrors)
		}
	}()
	return true
}

// scrubPass runs the pass the tracker has just begun, with the scrub
// semaphore held; it releases the semaphore and ends the pass.
func (s *Store) scrubPass(ctx context.Context) (rep ScrubReport, err error) {
	defer func() { <-s.scrub.sem }()
	defer func() {
		r := rep
		r.Problems = slices.Clone(r.Problems)
		s.scrub.pass.end(err, nil, &r)
	}()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		dirs []*dataDir
	)
	for _, d := range s.dirs {
		if d.failedErr() == nil {
			dirs = append(dirs, d)
		}
	}
	finished := make([]atomic.Bool, len(dirs))
	s.scrub.pass.setProgress(func() (done, total int64) { return s.scrubProgressOf(dirs, finished) })
	for i, d := range dirs {
		rep.Disks++
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &scrubRun{s: s, d: d}
			err := r.pass(ctx)
			if err == nil {
				finished[i].Store(true)
			}
			mu.Lock()
			defer mu.Unlock()
			rep.merge(&r.rep)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", d.dev.Dir(), err))
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return rep, s.scrubStopped(ctx)
	}
	return rep, errors.Join(errs...)
}

// scrubProgressOf is a pass's progress over dirs: the used bytes of each
// disk, and of them those behind its cursor (all of a disk whose part is
// finished).
func (s *Store) scrubProgressOf(dirs []*dataDir, finished []atomic.Bool) (done, total int64) {
	stats := s.diskStats()
	for i, d := range dirs {
		ds := stats[d.idx]
		total += ds.UsedBytes
		if finished[i].Load() {
			done += ds.UsedBytes
		} else {
			done += min(ds.Scrub.Done, ds.UsedBytes)
		}
	}
	return done, total
}

// scrubStopped is the error of a pass that ctx or Close stopped.
func (s *Store) scrubStopped(ctx context.Context) error {
	if s.scrub.ctx.Err() != nil {
		return ErrClosed
	}
	return ctx.Err()
}

func (r *ScrubReport) merge(o *ScrubReport) {
	r.Resumed = r.Resumed || o.Resumed
	r.Volumes += o.Volumes
	r.Records += o.Records
	r.Bytes += o.Bytes
	r.Corruptions += o.Corruptions
	r.Marked += o.Marked
	r.ReadErrors += o.ReadErrors
	for _, p := range o.Problems {
		if len(r.Problems) < maxScrubProblems {
			r.Problems = append(r.Problems, p)
		}
	}
}

// scrubRun is one disk's part of a pass.
type scrubRun struct {
	s     *Store
	d     *dataDir
	rep   ScrubReport
	pace  pacer
	saved int64 // rep.Bytes when the progress was last saved
	// marked are the keys marked corrupt whose OnCorrupt call waits for
	// the end of the step: the hook may use the store, and must not run
	// inside enter (a Close waiting would deadlock it).
	marked []markedKey
}

type markedKey struct {
	key     string
	version uint64
}

// tell calls Options.OnCorrupt for the keys marked so far.
func (r *scrubRun) tell() {
	for _, m := range r.marked {
		if r.s.opts.OnCorrupt != nil {
			r.s.opts.OnCorrupt(m.key, m.version)
		}
	}
	r.marked = r.marked[:0]
}

// pass scrubs the disk's volumes in id order from its cursor, saving the
// cursor as it goes, and records the pass as complete at the end.
func (r *scrubRun) pass(ctx context.Context) error {
	s, d := r.s, r.d
	r.pace = pacer{rate: s.opts.ScrubBytesPerSec, now: s.opts.Now, sleep: s.scrub.sleep}
	p := d.scrub.get()
	if p.started != 0 {
		r.rep.Resumed = true
		s.log.Info("blockstore: scrub pass resumes", "dir", d.dev.Dir(), "volume", p.volume, "offset", p.offset)
	} else {
		p = scrubProgress{maxVolume: s.nextVolumeID.Load(), started: s.opts.Now().UnixNano(), completed: p.completed}
	}
	d.scrub.set(p)
	defer func() {
		if ctx.Err() != nil {
			r.save(d.scrub.get()) // keep what this pass did
		}
	}()
	for {
		v := s.nextScrubVolume(d, p.volume, p.maxVolume)
		if v == nil {
			break
		}
		if v.id != p.volume {
			p.volume, p.offset = v.id, 0
		}
		if _, err := r.volume(ctx, v, p); err != nil {
			return err
		}
		p.volume, p.offset = v.id+1, 0
		d.scrub.set(p)
		if err := r.save(p); err != nil {
			return err
		}
		if v.id == ^uint32(0) {
			break
		}
	}
	p = scrubProgress{completed: s.opts.Now().UnixNano()}
	d.scrub.set(p)
	return r.save(p)
}

// nextScrubVolume is the volume of d with the lowest id in [from, to].
func (s *Store) nextScrubVolume(d *dataDir, from, to uint32) *volume {
	s.volMu.RLock()
	defer s.volMu.RUnlock()
	var best *volume
	for id, v := range s.volumes {
		// A compacted volume is garbage on its way out (compact.go).
		if v.dir == d && id >= from && id <= to && (best == nil || id < best.id) && uint8(v.state.Load()) != volCompacted {
			best = v
		}
	}
	return best
}

// scrubLimit is where v's valid data ends now: the appender's end for an
// open or sealed volume, the index's recorded end for a failed one (the
// failed group's bytes are not data). ok false: not known yet.
func (s *Store) scrubLimit(v *volume) (limit int64, ok bool, err error) {
	if st := uint8(v.state.Load()); st != volFailed {
		return v.end.Load(), true, nil
	}
	err = s.index.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketVolumes).Get(volumeKey(v.id))
		if b == nil {
			return nil
		}
		rec, err := decodeVolumeRecord(b)
		if err == nil && rec.state == volFailed {
			limit, ok = rec.end, true
		}
		return err
	})
	return limit, ok, err
}

// volume scrubs v from p.offset to its end, in steps of persistEvery
// bytes, each inside enter/exit so Close waits for at most one read.
func (r *scrubRun) volume(ctx context.Context, v *volume, p scrubProgress) (int64, error) {
	s := r.s
	limit, ok, err := s.scrubLimit(v)
	if err != nil || !ok {
		return p.offset, err
	}
	r.rep.Volumes++
	sc := &scanReader{h: v.h, limit: limit, align: int64(v.h.Alignment()), window: scrubWindow,
		class: ioengine.ClassBackground, before: r.beforeRead}
	off := p.offset
	for off < limit {
		if err := s.enter(); err != nil {
			return off, err
		}
		next, err := r.scanRange(ctx, sc, v, off, min(limit, off+s.scrub.persistEvery))
		s.exit()
		r.tell()
		if errors.Is(err, ioengine.ErrClosed) {
			if _, still := s.volume(v.id); !still {
				return limit, nil // the volume went away (compacted): nothing left to check
			}
		}
		if err != nil {
			return off, err
		}
		off = next
		p.offset = off
		r.d.scrub.set(p)
		if r.rep.Bytes-r.saved >= s.scrub.persistEvery {
			if err := r.save(p); err != nil {
				return off, err
			}
		}
	}
	return off, nil
}

// beforeRead paces a scrub read of n bytes and counts it.
func (r *scrubRun) beforeRead(ctx context.Context, n int64) error {
	if err := r.pace.wait(ctx, n); err != nil {
		return err
	}
	r.rep.Bytes += n
	r.d.scrub.count(uint64(n), 0, 0, 0)
	return nil
}

// save stores the disk's progress in the index (its own small bbolt
// transaction). An index that cannot commit keeps it in memory only.
func (r *scrubRun) save(p scrubProgress) error {
	s := r.s
	if s.index.writable() != nil {
		return nil
	}
	r.saved = r.rep.Bytes
	err := s.index.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketScrub)
		if err != nil {
			return err
		}
		return b.Put([]byte(r.d.diskID), p.encode())
	})
	if err != nil && !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("blockstore: saving scrub progress: %w", err)
	}
	return nil
}

// scanRange verifies the records of v that start in [from, to) (the last
// may end past to) and returns where the next record starts. Padding is
// skipped; a header that does not decode is corruption up to the next
// valid record (or a scan window further, when none is near); a record
// whose body fails its checksums is a corrupt record (scrubCorrupt). A
// failed read skips that window (the records in it stay unverified this
// pass) and counts against the disk.
func (r *scrubRun) scanRange(ctx context.Context, sc *scanReader, v *volume, from, to int64) (int64, error) {
	s := r.s
	window := 2*alignUp(max(s.opts.maxRecordLen(), int64(groupLimit(s.opts.MaxBatchBytes))), formatAlign) + 2*formatAlign
	var scratch []byte
	p := from
	for p < to {
		if err := ctx.Err(); err != nil {
			return p, err
		}
		hb, err := sc.at(ctx, p, recordHeaderLen)
		if err != nil {
			if next, ok := r.readFailed(ctx, v, p, err); ok {
				p = next
				continue
			}
			return p, err
		}
		if len(hb) < recordHeaderLen {
			return sc.limit, nil
		}
		h, st, _ := parseHeader(hb)
		if st == headerZero {
			// Padding to the end of a group (or of a larger device
			// alignment) is zero up to the next boundary; anything else
			// there is damage, found below.
			next := min(alignDown(p, formatAlign)+formatAlign, sc.limit)
			zb, err := sc.at(ctx, p, int(next-p))
			if err != nil {
				if next, ok := r.readFailed(ctx, v, p, err); ok {
					p = next
					continue
				}
				return p, err
			}
			if isZero(zb) {
				p = next
				continue
			}
		}
		if st == headerValid && p+int64(h.recordLen()) <= sc.limit {
			rb, err := sc.at(ctx, p, h.recordLen())
			if err != nil {
				if next, ok := r.readFailed(ctx, v, p, err); ok {
					p = next
					continue
				}
				return p, err
			}
			r.rep.Records++
			r.d.scrub.count(0, 1, 0, 0)
			rec, st2, derr := decodeRecord(rb)
			if st2 == headerValid && rec.flags&flagManifest == 0 {
				scratch, derr = rec.appendContent(scratch[:0], false)
			}
			if st2 != headerValid || derr != nil {
				r.corruptRecord(ctx, v, p, h, rb, derr)
			}
			p = alignUp(p+int64(h.recordLen()), recordAlign)
			continue
		}
		bound := min(sc.limit, alignDown(p, formatAlign)+window)
		q, zeroGap, err := s.findRecord(ctx, sc, p, bound)
		if err != nil {
			if next, ok := r.readFailed(ctx, v, p, err); ok {
				p = next
				continue
			}
			return p, err
		}
		if q >= 0 && zeroGap && q%formatAlign == 0 && q-p < 64<<10 {
			p = q // a device with a larger alignment padded further
			continue
		}
		if q < 0 {
			q = max(bound, p+recordAlign)
		}
		r.corrupt(v, p, "", 0, fmt.Sprintf("%d corrupt bytes inside the volume (found by scrub)", q-p),
			"blockstore: scrub found corrupt bytes inside a volume", "to", q, "bytes", q-p)
		p = q
	}
	return p, nil
}

// readFailed handles a failed scrub read at p: counted against the disk,
// and the window skipped unless the pass is stopping or the disk failed.
func (r *scrubRun) readFailed(ctx context.Context, v *volume, p int64, err error) (next int64, ok bool) {
	if ctx.Err() != nil || !isDiskError(err) {
		return 0, false
	}
	r.d.noteIOError(r.s, err)
	r.rep.ReadErrors++
	r.d.scrub.count(0, 0, 0, 1)
	r.s.log.Error("blockstore: scrub read failed; skipping a window", "volume", v.id, "dir", r.d.dev.Dir(), "offset", p, "err", err)
	if r.d.failedErr() != nil {
		return 0, false
	}
	return alignDown(p, scrubWindow) + scrubWindow, true
}

// corrupt counts, logs and reports one corruption.
func (r *scrubRun) corrupt(v *volume, off int64, key string, version uint64, what, msg string, attrs ...any) {
	r.s.stats.corruptions.Add(1)
	r.d.scrub.count(0, 0, 1, 0)
	r.rep.Corruptions++
	if len(r.rep.Problems) < maxScrubProblems {
		r.rep.Problems = append(r.rep.Problems, Problem{Dir: r.d.dev.Dir(), Volume: v.id, Offset: off, Key: key, What: what})
	}
	attrs = append([]any{"volume", v.id, "dir", r.d.dev.Dir(), "offset", off}, attrs...)
	if key != "" {
		attrs = append(attrs, "key", key, "version", version)
	}
	r.s.log.Error(msg, attrs...)
}

// corruptRecord handles a record whose header decodes but whose body
// fails a checksum. If it holds its key's current version, the key is
// marked corrupt and Options.OnCorrupt is told. A tombstone is only
// reported: its index entry already says all it says.
func (r *scrubRun) corruptRecord(ctx context.Context, v *volume, off int64, h recordHeader, rb []byte, cause error) {
	key := string(rb[recordHeaderLen : recordHeaderLen+h.keyLen])
	if repaired, ok := repairKeyBit(rb, h); ok {
		key = repaired
	}
	loc := location{volume: v.id, offset: off, length: int64(h.recordLen())}
	current := false
	if h.flags&flagTombstone == 0 && ValidateKey(key) == nil {
		current = r.s.markCorruptIfCurrent(ctx, key, h, loc)
	}
	what := fmt.Sprintf("corrupt %s record at version %d (checksum fails)", h.kind(), h.version)
	if current {
		what += ": the key's current version, indexed as corrupt; repair it from a replica"
		r.rep.Marked++
	}
	r.corrupt(v, off, key, h.version, what, "blockstore: scrub found a corrupt record",
		"kind", h.kind(), "current", current, "err", cause)
	if current {
		r.marked = append(r.marked, markedKey{key, h.version})
	}
}

// markCorruptIfCurrent marks key corrupt when the damaged record at loc
// holds its current version: the entry's own record, or a chunk its
// manifest lists. It reports whether the record was current (an entry
// already marked corrupt there counts, so a repair is asked for again).
func (s *Store) markCorruptIfCurrent(ctx context.Context, key string, h recordHeader, loc location) bool {
	e, ok, err := s.index.lookup(key)
	if err != nil || !ok || e.tombstone() || e.version != h.version {
		return false
	}
	if h.flags&flagChunk != 0 {
		if e.corrupt() {
			return true
		}
		if e.flags&entryChunked == 0 {
			return false
		}
		m, err := s.manifestOf(ctx, e.info(key))
		if err != nil {
			return false // the manifest's own record is scrubbed on its own
		}
		listed := false
		for _, c := range m.chunks {
			listed = listed || c.loc == loc
		}
		if !listed {
			return false // a chunk of an earlier write at this version (a repair rewrote it)
		}
	} else if e.loc != loc {
		return false // another copy of this version (a repair rewrote it) is current
	}
	if e.corrupt() {
		return true
	}
	return s.index.markCorrupt(key, e)
}

// markCorrupt replaces key's entry, if it is still seen, with a corrupt
// entry at the same version and location: a pending entry at once, and an
// opCorrupt the indexer commits in order, only if bbolt still holds that
// version there. A later write at that version or newer replaces it.
func (ix *index) markCorrupt(key string, seen indexEntry) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.waitForRoom()
	cur, ok := ix.pending[key]
	if !ok {
		err := ix.db.View(func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucketKeys).Get([]byte(key)); v != nil {
				cur, ok = decodeEntryOrZero(v)
			}
			return nil
		})
		if err != nil {
			return false
		}
	}
	if !ok || cur != seen {
		return false
	}
	marked := seen
	marked.flags = entryCorrupt
	ix.pending[key] = marked
	ix.queue = append(ix.queue, indexOp{kind: opCorrupt, key: key, e: marked})
	ix.signal()
	return true
}

// commitCorrupt (in the indexer's transaction) stores the corrupt entry e
// for key k if bbolt still holds a live entry at e's version and location,
// and returns the live key and byte counts adjusted.
func commitCorrupt(kb *bolt.Bucket, k []byte, e *indexEntry, arena []byte, liveKeys, liveBytes int64, live liveDelta) ([]byte, int64, int64, error) {
	v := kb.Get(k)
	if v == nil {
		return arena, liveKeys, liveBytes, nil
	}
	cur, ok := decodeEntryOrZero(v)
	if !ok || !cur.live() || cur.version != e.version || cur.loc != e.loc {
		return arena, liveKeys, liveBytes, nil
	}
	start := len(arena)
	arena = e.encode(arena)
	if err := kb.Put(k, arena[start:len(arena):len(arena)]); err != nil {
		return arena, liveKeys, liveBytes, err
	}
	live.remove(&cur) // nothing of a corrupt entry can move (garbage.go)
	return arena, liveKeys - 1, liveBytes - cur.size, nil
}

// pacer holds reads to a byte rate: before a read of n bytes it waits
// until the bytes read so far are due at rate, with no credit for idle
// time, so B bytes take at least (B - the last read) / rate.
type pacer struct {
	rate  int64
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	next  time.Time // when the next read may start
}

func (p *pacer) wait(ctx context.Context, n int64) error {
	now := p.now()
	if p.next.After(now) {
		if err := p.sleep(ctx, p.next.Sub(now)); err != nil {
			return err
		}
		now = p.next
	}
	p.next = now.Add(time.Duration(float64(n) / float64(p.rate) * float64(time.Second)))
	return nil
}
