// Package keylock serializes work per key: exact per-key locks (two keys
// never wait on each other) in striped maps, dropped when nobody holds or
// waits for them, so memory is bounded by the keys in use. The node's HTTP
// layer holds one around a conditional write's check and write; the
// cluster's replica side holds one around an apply and the lookups that
// bracket it.
//
// A key's lock is exclusive (Lock) or shared (RLock): any number of shared
// holders, or one exclusive holder. A waiting exclusive locker keeps new
// shared lockers out, so a steady stream of shared holders cannot starve
// it. The S3 API holds a bucket's lock shared while it writes an object
// into the bucket and exclusive while it deletes the bucket.
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

// keyLock is one key's lock; every field is guarded by its stripe's mutex.
type keyLock struct {
	refs    int  // holders plus waiters
	writer  bool // held exclusive
	readers int  // shared holders
	writers int  // exclusive lockers waiting
	// wake is closed (and cleared) when the lock is released in a way a
	// waiter may now take it; waiters make it when there is none.
	wake chan struct{}
}

// free reports whether a locker (shared or not) may take the lock now.
func (kl *keyLock) free(shared bool) bool {
	if shared {
		return !kl.writer && kl.writers == 0
	}
	return !kl.writer && kl.readers == 0
}

func (kl *keyLock) wakeAll() {
	if kl.wake != nil {
		close(kl.wake)
		kl.wake = nil
	}
}

// New returns an empty Set.
func New() *Set {
	l := &Set{seed: maphash.MakeSeed()}
	for i := range l.stripes {
		l.stripes[i].locks = make(map[string]*keyLock)
	}
	return l
}

// Lock waits for key's lock, exclusive, or for ctx; on success the caller
// must call the returned unlock exactly once.
func (l *Set) Lock(ctx context.Context, key string) (unlock func(), err error) {
	return l.lock(ctx, key, false)
}

// RLock waits for key's lock, shared (with other RLock holders, never with
// a Lock holder), or for ctx; on success the caller must call the returned
// unlock exactly once.
func (l *Set) RLock(ctx context.Context, key string) (unlock func(), err error) {
	return l.lock(ctx, key, true)
}

func (l *Set) lock(ctx context.Context, key string, shared bool) (func(), error) {
	s := &l.stripes[maphash.String(l.seed, key)%uint64(len(l.stripes))]
	s.mu.Lock()
	kl := s.locks[key]
	if kl == nil {
		kl = &keyLock{}
		s.locks[key] = kl
	}
	kl.refs++
	if !shared {
		kl.writers++
	}
	// drop forgets this locker; the stripe mutex is held.
	drop := func() {
		kl.refs--
		if kl.refs == 0 {
			delete(s.locks, key)
		}
	}
	for !kl.free(shared) {
		if kl.wake == nil {
			kl.wake = make(chan struct{})
		}
		wake := kl.wake
		s.mu.Unlock()
		select {
		case <-wake:
			s.mu.Lock()
		case <-ctx.Done():
			s.mu.Lock()
			if !shared {
				kl.writers--
				kl.wakeAll() // shared lockers held back by this one may go
			}
			drop()
			s.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	if shared {
		kl.readers++
	} else {
		kl.writers--
		kl.writer = true
	}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		if shared {
			kl.readers--
			if kl.readers == 0 {
				kl.wakeAll()
			}
		} else {
			kl.writer = false
			kl.wakeAll()
		}
		drop()
		s.mu.Unlock()
	}, nil
}
