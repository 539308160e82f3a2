// Package keylock serializes work per key: exact per-key locks (two keys
// never wait on each other) in striped maps, dropped when nobody holds or
// waits for them, so memory is bounded by the keys in use. The node's HTTP
// layer holds one around a conditional write's check and write; the
// cluster's replica side holds one around an apply and the lookups that
// bracket it.
package keylock

import (
	"context"
	"hash/maphash"
	"sync"
)

// Set is a set of per-key locks; the zero value is not usable, use New.
type Set struct {
	seed    maphash.Seed
	stripes [64]lockStripe
}

type lockStripe struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	token chan struct{} // capacity 1: holding the lock = having sent into it
	refs  int           // holders plus waiters; guarded by the stripe mutex
}

// New returns an empty Set.
func New() *Set {
	l := &Set{seed: maphash.MakeSeed()}
	for i := range l.stripes {
		l.stripes[i].locks = make(map[string]*keyLock)
	}
	return l
}

// Lock waits for key's lock or for ctx; on success the caller must call the
// returned unlock exactly once.
func (l *Set) Lock(ctx context.Context, key string) (unlock func(), err error) {
	s := &l.stripes[maphash.String(l.seed, key)%uint64(len(l.stripes))]
	s.mu.Lock()
	kl := s.locks[key]
	if kl == nil {
		kl = &keyLock{token: make(chan struct{}, 1)}
		s.locks[key] = kl
	}
	kl.refs++
	s.mu.Unlock()

	release := func() {
		s.mu.Lock()
		kl.refs--
		if kl.refs == 0 {
			delete(s.locks, key)
		}
		s.mu.Unlock()
	}
	select {
	case kl.token <- struct{}{}:
		return func() { <-kl.token; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
