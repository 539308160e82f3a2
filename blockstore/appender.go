package blockstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"strata/ioengine"
)

// appendReq is one record waiting for a group commit.
type appendReq struct {
	// rec is the encoded record without padding. It starts an aligned
	// buffer with room up to the next alignment boundary, so a record that
	// is a group on its own is written without a copy.
	rec []byte
	// op, when kind == opKey, is applied to the index once durable (its
	// location is filled in by the appender). Chunk records carry none.
	op indexOp
	// also are key ops applied with op (see Store.writeOps).
	also []indexOp
	done chan appendResult
	// queued is the room taken in the appender's byte budget, given back
	// when the record leaves the queue for a group.
	queued int64
	// reserve: a tombstone, which may use the volume's tombstone reserve.
	reserve bool
	// copy: a compaction copy, which may make a volume in the disk's
	// space reserve (Options.SpaceReserve), as a tombstone may.
	copy bool
}

// mayUseSpaceReserve: the record may go to a volume made in the disk's
// space reserve.
func (r *appendReq) mayUseSpaceReserve() bool { return r.reserve || r.copy }

type appendResult struct {
	loc location
	err error
	// retry: nothing was written (no volume could be made); another
	// directory may take the record.
	retry bool
}

// dataDir is one data directory (one HDD): a device, its appender and its
// health as seen by writers.
type dataDir struct {
	idx    int
	dev    *ioengine.Device
	app    *appender
	lock   io.Closer // the directory lock, held for the life of the store
	diskID string    // from the identity file

	mu          sync.Mutex
	unavailable time.Time // no new volume until then (after ENOSPC or I/O errors)
	lastErr     error
	freeAt      time.Time // when free was measured
	free        int64
	lastAcked   ackedGroup // the last group acknowledged on this disk
	readOnly    error      // set when the disk failed to read back what it acked

	health diskHealth // I/O errors; failed past the threshold (diskhealth.go)
	scrub  scrubState // scrub cursor and counters (scrub.go)
}

// appender owns the active volume of one data directory: one goroutine
// drains the bounded queue into one aligned write and one fdatasync per
// group, then acks every waiter. There is no timer: a group is whatever
// queued while the previous one was on disk.
type appender struct {
	s      *Store
	d      *dataDir
	queue  chan *appendReq
	budget *byteBudget // bytes in queue
	stop   chan struct{}
	done   chan struct{}

	syncs       chan *written   // appender -> syncer
	completions chan completion // syncer (and appender, for groups never written) -> completer
	completed   chan struct{}   // closed when the completer is done

	// unsynced counts the groups handed to the syncer (or on their way)
	// whose fdatasync has not returned; synced rings (capacity 1, never
	// blocks the syncer) each time one returns. A group that is not full
	// is cut only when unsynced is 0, so what queues while a sync runs
	// joins the next group instead of a group cut early (see collect).
	unsynced atomic.Int32
	synced   chan struct{}

	sendMu sync.RWMutex // senders hold R while sending; closing takes W
	closed bool

	volMu sync.Mutex // guards vol for readers outside the goroutine
	vol   *volume    // active volume; nil until needed
	group []byte     // aligned group buffer, MaxBatchBytes + alignment
	carry *appendReq
}

// align is the group alignment: the device's, and never below the format's
// 4096, which the scanner relies on to tell padding from corruption.
func (a *appender) align() int64 { return max(int64(a.d.dev.Alignment()), formatAlign) }

func newAppender(s *Store, d *dataDir) *appender {
	align := max(d.dev.Alignment(), formatAlign)
	return &appender{
		s: s,
		d: d,
		// The byte budget is the bound; the channel only needs to hold
		// that many small records.
		queue:  make(chan *appendReq, min(max(s.opts.MaxQueueBytes/1024, 1024), 1<<16)),
		budget: newByteBudget(s.opts.MaxQueueBytes),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),

		syncs:       make(chan *written), // unbuffered: the next group is cut while this one syncs
		completions: make(chan completion, 4),
		completed:   make(chan struct{}),
		synced:      make(chan struct{}, 1),
		group:       ioengine.AlignedBytes(int(ioengine.AlignUp(int64(groupLimit(s.opts.MaxBatchBytes)), align))+align, align),
	}
}

// submit queues req; it waits for queue space (bytes, then a slot), not
// for the write.
func (a *appender) submit(ctx context.Context, req *appendReq) error {
	a.sendMu.RLock()
	defer a.sendMu.RUnlock()
	if a.closed {
		return ErrClosed
	}
	n, err := a.budget.acquire(ctx, int64(len(req.rec)))
	if err != nil {
		return err
	}
	req.queued = n
	select {
	case a.queue <- req:
		return nil
	case <-ctx.Done():
		a.budget.release(n)
		return ctx.Err()
	}
}

// close stops taking requests, commits what was queued and stops.
func (a *appender) close() {
	close(a.stop)
	<-a.done
}

func (a *appender) run() {
	go a.syncer()
	go a.completer()
	defer func() {
		close(a.syncs)
		<-a.completed
		close(a.done)
	}()
	for {
		var first *appendReq
		if a.carry != nil {
			first, a.carry = a.carry, nil
		} else {
			select {
			case first = <-a.queue:
			case <-a.stop:
				a.drain()
				return
			}
		}
		a.commitGroup(a.collect(first))
	}
}

// drain shuts the door on senders while still serving the queue (a sender
// blocked on a full queue holds the read lock), then commits the rest.
func (a *appender) drain() {
	locked := make(chan struct{})
	go func() {
		a.sendMu.Lock()
		a.closed = true
		a.sendMu.Unlock()
		close(locked)
	}()
	for {
		select {
		case req := <-a.queue:
			a.commitGroup(a.collect(req))
			continue
		case <-locked:
		}
		break
	}
	for {
		if a.carry != nil {
			req := a.carry
			a.carry = nil
			a.commitGroup(a.collect(req))
			continue
		}
		select {
		case req := <-a.queue:
			a.commitGroup(a.collect(req))
		default:
			return
		}
	}
}

// groupLimit is the most bytes one group may hold: the batch cap, plus
// 1/256 of it for record framing, so that four 1 MiB blobs make one 4 MiB
// group rather than three.
func groupLimit(maxBatch int) int { return maxBatch + maxBatch/256 }

// span is the bytes a record takes inside a group: records start 8-aligned.
func span(n int) int { return int(alignUp(int64(n), recordAlign)) }

// collect takes first plus whatever is queued, up to MaxBatchBytes. A large
// record (over half the cap) goes alone so it is written from its own
// buffer without a copy.
//
// A full group is cut at once: its write overlaps the previous group's
// fdatasync, and so is one of at least a quarter of the cap, whose write
// takes long enough to be worth overlapping. A smaller group is cut only
// once no written group waits for or is in its fdatasync (unsynced is 0):
// records that queue while a sync runs join it, so more writers make more
// records per fdatasync, and a lone writer is written at once (no timer).
func (a *appender) collect(first *appendReq) []*appendReq {
	group := []*appendReq{first}
	limit := groupLimit(a.s.opts.MaxBatchBytes)
	if len(first.rec) > a.s.opts.MaxBatchBytes/2 {
		return group
	}
	total := span(len(first.rec))
	// add takes req into the group; false: it does not fit (it is
	// carried to the next group, and this one is full).
	add := func(req *appendReq) bool {
		if len(req.rec) > a.s.opts.MaxBatchBytes/2 || total+span(len(req.rec)) > limit {
			a.carry = req
			return false
		}
		group = append(group, req)
		total += span(len(req.rec))
		return true
	}
	for {
		select {
		case req := <-a.queue:
			if !add(req) {
				return group
			}
			continue
		default:
		}
		// The queue is empty. Writers acked a moment ago may be about to
		// queue again; yield once and keep going only if one did. This is
		// not a timer: with no writer runnable it ends at once.
		runtime.Gosched()
		if len(a.queue) > 0 {
			continue
		}
		if a.unsynced.Load() == 0 || total >= a.s.opts.MaxBatchBytes/4 {
			return group
		}
		// The syncer is busy: gather until it is free or the group fills.
		select {
		case req := <-a.queue:
			if !add(req) {
				return group
			}
		case <-a.synced:
		}
	}
}

// commitGroup writes the group at the volume's end with one aligned
// write, then hands it to the syncer, so the next group's write can go to
// the disk while this one's fdatasync runs. The write is never retried.
func (a *appender) commitGroup(group []*appendReq) {
	for _, r := range group {
		a.budget.release(r.queued)
		r.queued = 0
	}
	if err := a.d.failedErr(); err != nil {
		a.fail(group, err, true) // nothing written: another disk takes it
		return
	}
	ctx := context.Background()
	align := a.align()
	total := 0
	for _, r := range group {
		total += span(len(r.rec))
	}
	// The last record needs no 8-byte tail; the group pads to alignment.
	last := len(group[len(group)-1].rec)
	used := total - span(last) + last
	size := alignUp(int64(used), align)

	deletes, privileged := 0, 0
	for _, r := range group {
		if r.reserve {
			deletes++
		}
		if r.mayUseSpaceReserve() {
			privileged++
		}
	}
	v, err := a.volumeFor(ctx, size, deletes == len(group), privileged == len(group))
	if err != nil {
		switch {
		case privileged > 0 && privileged < len(group) && errors.Is(err, ErrNoSpace):
			// No room for the puts, but copies and deletes may use the
			// space reserve.
			a.failAndCommitRest(group, err, (*appendReq).mayUseSpaceReserve)
			return
		case deletes > 0 && deletes < len(group) && errors.Is(err, ErrNoSpace):
			// No room for the puts (or copies), but the deletes may use
			// the tombstone reserve.
			a.failAndCommitRest(group, err, func(r *appendReq) bool { return r.reserve })
			return
		}
		a.fail(group, err, true)
		return
	}
	var buf []byte
	if len(group) == 1 {
		r := group[0]
		buf = r.rec[:size]
		clear(buf[len(r.rec):])
	} else {
		buf = a.group[:size]
		pos := 0
		for _, r := range group {
			copy(buf[pos:], r.rec)
			next := pos + span(len(r.rec))
			clear(buf[pos+len(r.rec) : min(next, len(buf))])
			pos = next
		}
		clear(buf[min(pos, len(buf)):])
	}
	off := v.end.Load()
	w := &written{v: v, off: off, size: size, group: group}
	a.unsynced.Add(1) // before the write: collect must not cut past it
	if _, err := v.h.WriteAt(ctx, ioengine.ClassWrite, buf, off); err != nil {
		// Stop writing here at once; the syncer reports it in order.
		a.d.noteIOError(a.s, err)
		v.state.Store(uint32(volFailed))
		w.err = fmt.Errorf("write %d bytes at %d: %w", len(buf), off, err)
	} else {
		v.end.Store(off + size)
	}
	a.syncs <- w
}

// written is a group whose write returned, on its way to fdatasync; or a
// volume state change (group == nil) that must reach the index after the
// groups written before it.
type written struct {
	v         *volume
	off, size int64
	group     []*appendReq
	err       error // the write failed
	seal      bool  // state change: v is sealed at off
}

// syncer makes each written group durable with one fdatasync, in write
// order. The first failed write or sync of a volume retires it: that group
// and every later one written to it fail without another fdatasync (a
// failed fdatasync is never retried), and the index learns the volume's
// valid data ends where the failed group began.
func (a *appender) syncer() {
	defer close(a.completions)
	for w := range a.syncs {
		if w.group == nil {
			if w.seal && !w.v.syncFailed {
				a.completions <- completion{ops: []indexOp{{kind: opVolState, vol: w.v.id, state: volSealed, end: w.off}}}
			}
			continue
		}
		a.syncGroup(w)
		a.unsynced.Add(-1)
		select {
		case a.synced <- struct{}{}:
		default: // already rung; collect re-reads unsynced
		}
	}
}

// syncGroup makes one written group durable and passes it on, or fails it.
func (a *appender) syncGroup(w *written) {
	v := w.v
	if v.syncFailed {
		a.fail(w.group, a.volumeError(v, v.failure), false)
		return
	}
	err := w.err
	if err == nil {
		if serr := v.h.Sync(context.Background(), ioengine.ClassWrite); serr != nil {
			a.d.noteIOError(a.s, serr)
			err = fmt.Errorf("fdatasync after write at %d: %w", w.off, serr)
		}
	}
	if err != nil {
		v.syncFailed, v.failure = true, err
		a.retire(v, w.off, err)
		a.fail(w.group, a.volumeError(v, err), false)
		return
	}
	a.completeGroup(w)
}

// completeGroup computes the records' locations and index ops of a durable
// group and passes them on to the completer.
func (a *appender) completeGroup(w *written) {
	v, group := w.v, w.group
	end := w.off + w.size
	ops := make([]indexOp, 0, len(group)+1)
	results := make([]appendResult, len(group))
	pos := int64(0)
	for i, r := range group {
		loc := location{volume: v.id, offset: w.off + pos, length: int64(len(r.rec))}
		results[i] = appendResult{loc: loc}
		if r.op.kind == opKey {
			op := r.op
			op.e.loc = loc
			ops = append(ops, op)
		}
		for _, op := range r.also {
			op.e.loc = location{volume: loc.volume, offset: loc.offset}
			ops = append(ops, op)
		}
		pos += int64(span(len(r.rec)))
	}
	ops = append(ops, indexOp{kind: opWatermark, vol: v.id, end: end})
	a.d.noteAcked(v, w.off, w.size)
	a.s.stats.groups.Add(1)
	a.s.stats.records.Add(uint64(len(group)))
	a.s.stats.bytes.Add(uint64(w.size))
	a.completions <- completion{ops: ops, group: group, results: results}
}

// completion is the index work and the acks of one group (or a volume
// state change). Completions are processed in order, so a volume's
// watermarks and state changes reach the index in order.
type completion struct {
	ops     []indexOp
	group   []*appendReq
	results []appendResult
}

// completer makes each durable group visible (pending index) and only then
// acks its waiters, so a Put is readable the moment it returns.
func (a *appender) completer() {
	defer close(a.completed)
	for c := range a.completions {
		if len(c.ops) > 0 {
			a.s.index.apply(c.ops)
		}
		for i, r := range c.group {
			r.done <- c.results[i]
		}
	}
}

// failAndCommitRest fails the records of group that keep does not accept
// (nothing written; another directory may take them) and commits the rest.
func (a *appender) failAndCommitRest(group []*appendReq, err error, keep func(*appendReq) bool) {
	var failed, rest []*appendReq
	for _, r := range group {
		if keep(r) {
			rest = append(rest, r)
		} else {
			failed = append(failed, r)
		}
	}
	a.fail(failed, err, true)
	a.commitGroup(rest)
}

// volumeFor returns the active volume if a group of size bytes fits, else
// makes a new one and seals the old. Only a group of deletes alone
// (tombstones) may fill the volume's last TombstoneReserve bytes; while
// no new volume can be made, the old one stays active for them. Only a
// group of copies and deletes (inReserve) may make a volume in the
// disk's SpaceReserve.
func (a *appender) volumeFor(ctx context.Context, size int64, deletes, inReserve bool) (*volume, error) {
	old := a.vol
	if old != nil && old.writable() {
		limit := old.size - a.s.opts.TombstoneReserve
		if deletes {
			limit = old.size
		}
		if old.end.Load()+size <= limit && (inReserve || !old.inReserve.Load()) {
			return old, nil
		}
	} else {
		if old != nil && uint8(old.state.Load()) == volFailed {
			a.afterFailure(ctx, old)
		}
		old = nil
	}
	// A new volume. Puts need room for it outside the space reserve;
	// copies and deletes may make it in the reserve, and it is then
	// theirs alone (puts refused meanwhile seal it once there is room).
	reserved := false
	if err := a.d.roomForPuts(a.s); err != nil {
		if !inReserve {
			return nil, err
		}
		reserved = true
	}
	v, err := a.replaceVolume(ctx, old, size, reserved)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// roomForPuts is nil when the disk has room for a volume of puts outside
// its space reserve: VolumeSize plus SpaceReserve free. A filesystem that
// cannot say lets the volume creation decide.
func (d *dataDir) roomForPuts(s *Store) error {
	reserve := s.opts.spaceReserve()
	if reserve == 0 {
		return nil
	}
	free, err := d.dev.FS().FreeSpace(d.dev.Dir())
	if err != nil {
		return nil
	}
	if need := uint64(s.opts.VolumeSize + reserve); free < need {
		return fmt.Errorf("%w: %s: %d bytes free; a volume for new blobs needs %d (volume_size plus the space reserve kept for compaction and deletes)",
			ErrNoSpace, d.dev.Dir(), free, need)
	}
	return nil
}

// replaceVolume makes a new active volume; old, if any, is sealed once the
// new one exists.
func (a *appender) replaceVolume(ctx context.Context, old *volume, size int64, reserved bool) (*volume, error) {
	if old == nil {
		a.setVol(nil)
	}
	if err := a.d.available(a.s); err != nil {
		return nil, err
	}
	v, err := a.s.createVolume(ctx, a.d)
	if err != nil {
		a.d.noteIOError(a.s, err)
		a.d.setUnavailable(a.s, err)
		if ioengine.IsNoSpace(err) {
			return nil, fmt.Errorf("%w: %s: %w", ErrNoSpace, a.d.dev.Dir(), err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrReadOnly, a.d.dev.Dir(), err)
	}
	v.inReserve.Store(reserved)
	if old != nil {
		a.seal(old)
	}
	a.setVol(v)
	if size > v.size {
		return nil, fmt.Errorf("%w: group of %d bytes exceeds volume size %d", ErrTooLarge, size, v.size)
	}
	return v, nil
}

// seal retires a full volume: read-only from now on, valid up to its end.
// The preallocated rest is given back to the filesystem.
func (a *appender) seal(v *volume) {
	end := v.end.Load()
	v.state.CompareAndSwap(uint32(volOpen), uint32(volSealed))
	if err := v.h.Truncate(context.Background(), ioengine.ClassBackground, end); err != nil {
		a.s.log.Warn("blockstore: trimming sealed volume", "volume", v.id, "err", err)
	}
	a.syncs <- &written{v: v, off: end, seal: true}
	a.s.log.Info("blockstore: volume sealed", "volume", v.id, "end", end)
}

// retire (in the syncer) marks a volume whose write or sync failed: nothing
// more is written to it, and its valid data ends where the failed group
// began. The appender sees the state and moves to a new volume.
func (a *appender) retire(v *volume, groupStart int64, cause error) {
	v.state.Store(uint32(volFailed))
	defer close(v.retired)
	a.s.stats.writeErrors.Add(1)
	a.s.log.Error("blockstore: volume failed; now read-only", "volume", v.id, "dir", a.d.dev.Dir(), "err", cause)
	a.completions <- completion{ops: []indexOp{{kind: opVolState, vol: v.id, state: volFailed, end: groupStart}}}
}

func (a *appender) volumeError(v *volume, err error) error {
	if ioengine.IsNoSpace(err) {
		return fmt.Errorf("%w: volume %d: %w", ErrNoSpace, v.id, err)
	}
	return fmt.Errorf("%w: volume %d failed: %w", ErrReadOnly, v.id, err)
}

func (a *appender) fail(group []*appendReq, err error, retry bool) {
	results := make([]appendResult, len(group))
	for i := range results {
		results[i] = appendResult{err: err, retry: retry}
	}
	a.completions <- completion{group: group, results: results}
}

// Back-off before a directory is tried again after it could not make a
// volume; a directory out of space is retried as soon as it reports room.
const (
	noSpaceBackoff = 5 * time.Second
	failedBackoff  = 10 * time.Second
)

// available reports whether the directory may make a new volume now.
func (d *dataDir) available(s *Store) error {
	if err := d.failedErr(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.readOnly != nil {
		return fmt.Errorf("%w: %s: %w", ErrReadOnly, d.dev.Dir(), d.readOnly)
	}
	if d.lastErr == nil || !s.opts.Now().Before(d.unavailable) {
		return nil
	}
	if ioengine.IsNoSpace(d.lastErr) {
		if free, err := d.dev.FS().FreeSpace(d.dev.Dir()); err == nil && free >= uint64(s.opts.VolumeSize) {
			return nil
		}
		return fmt.Errorf("%w: %s: %w", ErrNoSpace, d.dev.Dir(), d.lastErr)
	}
	return fmt.Errorf("%w: %s: %w", ErrReadOnly, d.dev.Dir(), d.lastErr)
}

func (d *dataDir) setUnavailable(s *Store, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastErr = err
	backoff := failedBackoff
	if ioengine.IsNoSpace(err) {
		backoff = noSpaceBackoff
	}
	d.unavailable = s.opts.Now().Add(backoff)
	s.log.Warn("blockstore: data directory cannot take new volumes", "dir", d.dev.Dir(), "err", err, "retry_after", backoff)
}

// accepting reports whether writes to d can succeed without making a
// volume, or d may make one. Deletes (and compaction's copies) may use the
// tombstone reserve and make a volume in the space reserve.
func (d *dataDir) accepting(s *Store, deletes bool) error {
	if err := d.failedErr(); err != nil {
		return err
	}
	if v := d.app.activeVolume(); v != nil && (deletes || v.roomForPuts(s, d.app.align())) {
		return nil
	}
	if err := d.available(s); err != nil || deletes {
		return err
	}
	return d.roomForPuts(s)
}

// freeBytes estimates room for new blobs: free filesystem space plus the
// unused part of the active volume. The filesystem figure is cached for a
// second.
func (d *dataDir) freeBytes(s *Store) int64 {
	d.mu.Lock()
	now := s.opts.Now()
	if d.freeAt.IsZero() || now.Sub(d.freeAt) > time.Second || now.Before(d.freeAt) {
		if f, err := d.dev.FS().FreeSpace(d.dev.Dir()); err == nil {
			d.free = int64(min(f, uint64(1<<62)))
		}
		d.freeAt = now
	}
	free := d.free
	d.mu.Unlock()
	if v := d.app.activeVolume(); v != nil {
		free += v.size - v.end.Load()
	}
	return free
}

// activeVolume is the writable volume, read without the appender's
// goroutine (for estimates only).
func (a *appender) activeVolume() *volume {
	a.volMu.Lock()
	defer a.volMu.Unlock()
	if a.vol != nil && a.vol.writable() {
		return a.vol
	}
	return nil
}

func (a *appender) setVol(v *volume) {
	a.volMu.Lock()
	a.vol = v
	a.volMu.Unlock()
}
