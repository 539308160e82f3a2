package node

import (
	"context"
	"time"
)

// semaphore bounds concurrent requests of one class. Past the bound a
// request waits at most the configured admission wait, then is refused, so
// queued work (and its memory) stays bounded.
type semaphore struct {
	slots chan struct{}
	wait  time.Duration
}

func newSemaphore(n int, wait time.Duration) *semaphore {
	return &semaphore{slots: make(chan struct{}, n), wait: wait}
}

// acquire takes a slot, or returns errBusy after the admission wait, or
// ctx.Err(). On success the caller must call release once.
func (s *semaphore) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	if s.wait <= 0 {
		return errBusy
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tryAcquire takes a slot if one is free now; it never waits. On true
// the caller must call release once.
func (s *semaphore) tryAcquire() bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *semaphore) release() { <-s.slots }

// inUse reports how many slots are taken.
func (s *semaphore) inUse() int { return len(s.slots) }
