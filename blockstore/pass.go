package blockstore

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Passes on demand: StartPass starts a compaction or scrub pass in the
// background and returns at once; Pass and WaitPass report it (see
// doc.go, # Passes). Compact and Scrub run one and return when it is done.
// Every pass of a kind, background loop's and requested, goes through the
// same runner (compaction's lock, scrub's semaphore), so two passes of a
// kind never overlap.

// PassKind names a kind of maintenance pass.
type PassKind string

// The pass kinds.
const (
	PassCompact PassKind = "compact"
	PassScrub   PassKind = "scrub"
)

// What started a pass (PassStatus.Trigger).
const (
	// TriggerBackground: the store's own loop (Options.CompactInterval,
	// Options.ScrubInterval).
	TriggerBackground = "background"
	// TriggerRequest: a call of Compact, Scrub or StartPass.
	TriggerRequest = "request"
)

// PassStatus is one pass's state: running, or how it ended.
type PassStatus struct {
	Kind PassKind
	// ID identifies the pass: it grows with every pass of the store, and
	// is the pass's start in unix microseconds or one above the previous
	// pass's id, so ids stay unique across restarts unless the clock is
	// set back. 0: no pass has run since Open.
	ID      uint64
	Trigger string // TriggerBackground or TriggerRequest
	Running bool
	// Started and Finished bound the pass (Finished zero while running).
	Started, Finished time.Time
	// DoneBytes of TotalBytes is the pass's progress: for compaction the
	// live bytes of the volumes it compacts, copied so far; for a scrub
	// the used bytes of the disks it reads, verified so far (a resumed
	// pass starts with what it verified before). A finished pass that
	// succeeded reports DoneBytes == TotalBytes.
	DoneBytes, TotalBytes int64
	// Err says why the pass failed or stopped early; "" when it completed.
	Err string
	// Compact or Scrub is what a finished pass did (the other one is
	// nil; both nil while it runs).
	Compact *CompactReport
	Scrub   *ScrubReport
}

// passHistory is how many finished passes of a kind Pass can still report.
const passHistory = 16

// passTracker keeps the running pass of one kind and the last finished
// ones. The runner's guard (compaction's lock, scrub's semaphore) is held
// from begin to end, so there is at most one running pass.
type passTracker struct {
	kind PassKind
	now  func() time.Time

	mu       sync.Mutex
	cur      *PassStatus
	progress func() (done, total int64) // of the running pass; nil until known
	last     []PassStatus               // finished passes, oldest first
	lastID   uint64
	changed  chan struct{} // closed (and replaced) when a pass ends
}

func (t *passTracker) init(kind PassKind, now func() time.Time) {
	t.kind, t.now, t.changed = kind, now, make(chan struct{})
}

// begin records a new running pass and returns its id.
func (t *passTracker) begin(trigger string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	id := max(t.lastID+1, uint64(max(now.UnixMicro(), 0)))
	t.lastID = id
	t.cur = &PassStatus{Kind: t.kind, ID: id, Trigger: trigger, Running: true, Started: now}
	t.progress = nil
	return id
}

// setProgress gives the running pass its progress function.
func (t *passTracker) setProgress(f func() (done, total int64)) {
	t.mu.Lock()
	t.progress = f
	t.mu.Unlock()
}

// end records how the running pass ended and wakes its waiters.
func (t *passTracker) end(err error, compact *CompactReport, scrub *ScrubReport) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur == nil {
		return
	}
	st := *t.cur
	if t.progress != nil {
		st.DoneBytes, st.TotalBytes = t.progress()
	}
	st.Running, st.Finished = false, t.now()
	st.Compact, st.Scrub = compact, scrub
	if err != nil {
		st.Err = err.Error()
	} else {
		st.DoneBytes = st.TotalBytes
	}
	t.cur, t.progress = nil, nil
	t.last = append(t.last, st)
	if len(t.last) > passHistory {
		t.last = append(t.last[:0], t.last[len(t.last)-passHistory:]...)
	}
	close(t.changed)
	t.changed = make(chan struct{})
}

// runningLocked is the running pass with its progress now.
func (t *passTracker) runningLocked() PassStatus {
	st := *t.cur
	if t.progress != nil {
		st.DoneBytes, st.TotalBytes = t.progress()
		st.DoneBytes = min(st.DoneBytes, st.TotalBytes)
	}
	return st
}

// status is pass id (0: the running pass, else the last finished one; a
// zero PassStatus of the kind when none ran), and whether it is known.
func (t *passTracker) status(id uint64) (PassStatus, <-chan struct{}, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != nil && (id == 0 || id == t.cur.ID) {
		return t.runningLocked(), t.changed, true
	}
	if id == 0 {
		if len(t.last) == 0 {
			return PassStatus{Kind: t.kind}, t.changed, true
		}
		return t.last[len(t.last)-1], t.changed, true
	}
	for i := len(t.last) - 1; i >= 0; i-- {
		if t.last[i].ID == id {
			return t.last[i], t.changed, true
		}
	}
	return PassStatus{}, t.changed, false
}

func (s *Store) tracker(kind PassKind) (*passTracker, error) {
	switch kind {
	case PassCompact:
		return &s.compaction.pass, nil
	case PassScrub:
		return &s.scrub.pass, nil
	}
	return nil, fmt.Errorf("%w: pass kind %q (want %q or %q)", ErrInvalidArgument, kind, PassCompact, PassScrub)
}

// StartPass starts a pass of kind (PassCompact: one Compact pass;
// PassScrub: one Scrub pass) in the background and returns its status at
// once. When a pass of that kind is running (the background loop's or a
// requested one), it starts nothing and returns the running pass's status
// with an error wrapping ErrPassRunning. The pass runs until it is done or
// the store closes; Pass and WaitPass report it.
func (s *Store) StartPass(kind PassKind) (PassStatus, error) {
	t, err := s.tracker(kind)
	if err != nil {
		return PassStatus{}, err
	}
	if s.closed.Load() {
		return PassStatus{}, ErrClosed
	}
	var started bool
	if kind == PassCompact {
		started = s.startCompactPass()
	} else {
		started = s.startScrubPass()
	}
	st, _, _ := t.status(0)
	if !started {
		if s.closed.Load() {
			return PassStatus{}, ErrClosed
		}
		st.Running = true // the runner is held: a pass is about to report itself, if it has not yet
		return st, fmt.Errorf("%w: %s pass %d, started %s", ErrPassRunning, kind, st.ID, st.Started.UTC().Format(time.RFC3339))
	}
	return st, nil
}

// Pass reports pass id of kind: id 0 is the running pass, or else the
// last finished one (ID 0 when none ran since Open). A finished pass is
// remembered for the next 16 passes of its kind; an id not known (any
// more) gives an error wrapping ErrUnknownPass.
func (s *Store) Pass(kind PassKind, id uint64) (PassStatus, error) {
	t, err := s.tracker(kind)
	if err != nil {
		return PassStatus{}, err
	}
	st, _, ok := t.status(id)
	if !ok {
		return PassStatus{}, fmt.Errorf("%w: %s pass %d", ErrUnknownPass, kind, id)
	}
	return st, nil
}

// WaitPass waits until pass id of kind (0: the running one, if any) has
// finished, or ctx ends, and returns its status (with ctx's error if it
// ended first, and the status then).
func (s *Store) WaitPass(ctx context.Context, kind PassKind, id uint64) (PassStatus, error) {
	t, err := s.tracker(kind)
	if err != nil {
		return PassStatus{}, err
	}
	for {
		st, changed, ok := t.status(id)
		if !ok {
			return PassStatus{}, fmt.Errorf("%w: %s pass %d", ErrUnknownPass, kind, id)
		}
		if !st.Running {
			return st, nil
		}
		id = st.ID
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-changed:
		}
	}
}
