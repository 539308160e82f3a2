package tiering

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"strata/blockstore"
)

// fillStripes is the number of invalidation epochs: an invalidation of a
// key bumps its stripe's epoch, and a queued fill of any key on that stripe
// read before the bump is dropped. A collision costs a dropped fill, never
// a stale item.
const fillStripes = 1024

// fillQueueEntries bounds the number of queued fills whatever their size.
const fillQueueEntries = 4096

// fillQueue moves cache fills off the request path: a reader whose miss
// was served by the backend (or the SSD) queues the bytes it already holds
// and returns; one filler goroutine cuts them into items and inserts them
// into RAM (whose evictions are offered to the SSD) or offers them to the
// SSD directly. The queue is bounded by the bytes it pins (a fill that
// does not fit is dropped and counted: a reader never waits for a cache),
// and a fill never lands after an invalidation of its key that happened
// after its read began (the epochs), so a Put or Delete cannot be
// followed by a late copy of the version it replaced.
type fillQueue struct {
	limit int64 // bytes the queue may pin
	ch    chan fillReq
	bytes atomic.Int64

	// mu orders applying a fill against invalidations: invalidate bumps
	// the epoch and drops the items under mu, the filler checks the epoch
	// and inserts under mu.
	mu     sync.Mutex
	epochs [fillStripes]atomic.Uint64

	stop chan struct{}
	wg   sync.WaitGroup

	queued, applied, droppedFull, droppedStale atomic.Uint64
}

// fillReq is one queued fill: data holds the blob bytes from offset off,
// as a reader got them (never modified afterwards; the reader may still be
// using them), to be cached under info's identity with layout lay. promote
// marks one item read from the SSD (already cut to its segment).
type fillReq struct {
	info    blockstore.Info
	lay     layout
	off     int64
	data    []byte
	epoch   uint64
	promote bool
}

func newFillQueue(limit int64) *fillQueue {
	return &fillQueue{limit: limit, ch: make(chan fillReq, fillQueueEntries), stop: make(chan struct{})}
}

// stripe is the epoch slot of key.
func fillStripe(key string) int { return int(itemHash(key, 0, 0, 0) % fillStripes) }

// epoch is the current invalidation epoch of key; take it before reading
// the bytes a fill will carry.
func (q *fillQueue) epoch(key string) uint64 { return q.epochs[fillStripe(key)].Load() }

// enqueue queues a fill without blocking; it reports false (and counts a
// drop) when the queue is full by bytes or entries. An entry larger than
// the whole bound is taken only when nothing is queued, so the bound is
// limit plus at most one chunk.
func (q *fillQueue) enqueue(r fillReq) bool {
	n := int64(len(r.data))
	if after := q.bytes.Add(n); after > q.limit && after != n {
		q.bytes.Add(-n)
		q.droppedFull.Add(1)
		return false
	}
	select {
	case q.ch <- r:
		q.queued.Add(1)
		return true
	default:
		q.bytes.Add(-n)
		q.droppedFull.Add(1)
		return false
	}
}

// run applies queued fills with apply until stop is closed. apply runs
// under q.mu, after the epoch check.
func (q *fillQueue) run(apply func(fillReq)) {
	defer q.wg.Done()
	for {
		select {
		case <-q.stop:
			return
		case r := <-q.ch:
			q.mu.Lock()
			if q.epochs[fillStripe(r.info.Key)].Load() == r.epoch {
				apply(r)
				q.applied.Add(1)
			} else {
				q.droppedStale.Add(1)
			}
			q.mu.Unlock()
			q.bytes.Add(-int64(len(r.data)))
		}
	}
}

// invalidate bumps key's epoch and runs drop under the same lock the
// filler applies fills under: no fill read before this call lands after it.
func (q *fillQueue) invalidate(key string, drop func()) {
	q.mu.Lock()
	q.epochs[fillStripe(key)].Add(1)
	drop()
	q.mu.Unlock()
}

func (q *fillQueue) start(apply func(fillReq)) {
	q.wg.Add(1)
	go q.run(apply)
}

// close stops the filler; fills still queued are dropped (the caches are
// only warmth).
func (q *fillQueue) close() {
	close(q.stop)
	q.wg.Wait()
}

// WaitFills waits until every cache fill queued before the call has been
// applied (or dropped as stale), so that a read after it sees what the
// reads before it cached: for tests and benchmarks that check tiers. It
// returns ctx's error if ctx ends first, ErrClosed on a closed store.
func (s *Store) WaitFills(ctx context.Context) error {
	if s.fills == nil {
		return nil
	}
	q := s.fills
	target := q.queued.Load()
	for q.applied.Load()+q.droppedStale.Load() < target {
		if s.closed.Load() {
			return ErrClosed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Microsecond):
		}
	}
	return nil
}

// idle reports whether no fill is queued or being applied (tests).
func (q *fillQueue) idle() bool {
	return q.bytes.Load() == 0 && len(q.ch) == 0
}

func (q *fillQueue) stats() FillStats {
	return FillStats{
		Queued:          q.queued.Load(),
		Applied:         q.applied.Load(),
		DroppedFull:     q.droppedFull.Load(),
		DroppedStale:    q.droppedStale.Load(),
		QueuedBytes:     q.bytes.Load(),
		QueueLimitBytes: q.limit,
	}
}
