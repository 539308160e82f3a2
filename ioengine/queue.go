package ioengine

import (
	"context"
	"sync"
)

// Class is the priority class of an operation at the device queue.
type Class int

const (
	// ClassRead is for foreground reads: served first.
	ClassRead Class = iota
	// ClassWrite is for foreground writes and syncs.
	ClassWrite
	// ClassBackground is for compaction, scrub and cache fills: served last.
	ClassBackground

	numClasses = 3
)

func (c Class) String() string {
	switch c {
	case ClassRead:
		return "read"
	case ClassWrite:
		return "write"
	case ClassBackground:
		return "background"
	}
	return "invalid"
}

func (c Class) valid() bool { return c >= ClassRead && c < numClasses }

// queue bounds the number of in-flight syscalls on one device. A caller takes
// a slot with acquire and gives it back with release. When all slots are
// busy, callers wait in one FIFO per class; a freed slot is handed directly
// to the oldest waiter of the most urgent non-empty class (strict priority).
//
// The fast path (a slot free, nobody waiting) is one lock round trip and no
// allocation; waiters are pooled.
type queue struct {
	mu       sync.Mutex
	limit    int
	inFlight int
	queued   int
	waiting  [numClasses]waiterRing

	waiters sync.Pool // *waiter
}

// waiter is one caller parked in the queue. ready has capacity 1; the slot is
// handed over by setting granted and sending on ready, both under q.mu.
type waiter struct {
	ready   chan struct{}
	granted bool
}

func newQueue(limit int) *queue {
	q := &queue{limit: limit}
	q.waiters.New = func() any { return &waiter{ready: make(chan struct{}, 1)} }
	return q
}

// acquire takes a slot for class c, waiting if none is free. If ctx ends
// first it returns ctx.Err() and holds no slot. waited reports whether the
// caller had to queue (callers skip timing the wait when it did not).
func (q *queue) acquire(ctx context.Context, c Class) (waited bool, err error) {
	q.mu.Lock()
	if q.inFlight < q.limit && q.queued == 0 {
		q.inFlight++
		q.mu.Unlock()
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		q.mu.Unlock()
		return true, err
	}
	w := q.waiters.Get().(*waiter)
	q.waiting[c].push(w)
	q.queued++
	q.mu.Unlock()

	select {
	case <-w.ready:
		q.putWaiter(w)
		return true, nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	if w.granted {
		// The slot arrived as the context ended. Its token is already in
		// w.ready (sent under q.mu); drain it and pass the slot on.
		q.mu.Unlock()
		<-w.ready
		q.putWaiter(w)
		q.release()
		return true, ctx.Err()
	}
	q.waiting[c].remove(w)
	q.queued--
	q.mu.Unlock()
	q.putWaiter(w)
	return true, ctx.Err()
}

func (q *queue) putWaiter(w *waiter) {
	w.granted = false
	q.waiters.Put(w)
}

// release gives a slot back: to the most urgent waiter if any, else to the pool.
func (q *queue) release() {
	q.mu.Lock()
	for c := range q.waiting {
		if w := q.waiting[c].pop(); w != nil {
			q.queued--
			w.granted = true
			w.ready <- struct{}{}
			q.mu.Unlock()
			return
		}
	}
	q.inFlight--
	q.mu.Unlock()
}

// depth returns the in-flight and queued counts.
func (q *queue) depth() (inFlight, queued int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.inFlight, q.queued
}

// waiterRing is a FIFO of waiters in a growable ring buffer, so steady-state
// push/pop allocate nothing.
type waiterRing struct {
	buf  []*waiter
	head int
	n    int
}

func (r *waiterRing) push(w *waiter) {
	if r.n == len(r.buf) {
		grown := make([]*waiter, max(8, 2*len(r.buf)))
		for i := 0; i < r.n; i++ {
			grown[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = w
	r.n++
}

func (r *waiterRing) pop() *waiter {
	if r.n == 0 {
		return nil
	}
	w := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return w
}

// remove deletes w (a cancelled waiter) keeping the order of the others.
func (r *waiterRing) remove(w *waiter) {
	for i := 0; i < r.n; i++ {
		if r.buf[(r.head+i)%len(r.buf)] != w {
			continue
		}
		for j := i; j < r.n-1; j++ {
			r.buf[(r.head+j)%len(r.buf)] = r.buf[(r.head+j+1)%len(r.buf)]
		}
		r.buf[(r.head+r.n-1)%len(r.buf)] = nil
		r.n--
		return
	}
}
