package cluster

import (
	"context"
	"hash/maphash"
	"sync"
)

// keyLocks serializes the replica applies of one key, so the entry looked
// up before an apply and the one after it bracket exactly that apply, and
// the digests fed from them (noteApplied) follow every change in order.
// Locks are exact per key, kept in striped maps, and dropped when nobody
// holds or waits for them. (The same shape as node's per-key write lock,
// which is unexported there.)
type keyLocks struct {
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

func newKeyLocks() *keyLocks {
	l := &keyLocks{seed: maphash.MakeSeed()}
	for i := range l.stripes {
		l.stripes[i].locks = make(map[string]*keyLock)
	}
	return l
}

// lock waits for key's lock or for ctx; on success the caller must call the
// returned unlock exactly once.
func (l *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
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
