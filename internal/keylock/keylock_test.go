package keylock

import (
	"context"
	"errors"
	"hash/maphash"
	"runtime"
	"testing"
)

func TestSet(t *testing.T) {
	l := New()
	ctx := context.Background()
	unlockA, err := l.Lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	// Another key is independent.
	unlockB, err := l.Lock(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	unlockB()
	// The same key waits; a cancelled wait gives up and leaves no trace.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Lock(cctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("lock of a held key with a cancelled context: %v", err)
	}
	got := make(chan struct{})
	go func() {
		unlock, err := l.Lock(ctx, "a")
		if err == nil {
			unlock()
		}
		close(got)
	}()
	unlockA()
	<-got
	for i := range l.stripes {
		if n := len(l.stripes[i].locks); n != 0 {
			t.Fatalf("stripe %d keeps %d idle locks", i, n)
		}
	}
}

// cancelled is a context that is already done: a lock call with it
// succeeds only when the lock is free at once.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// waitingWriters is how many Lock calls wait on key (white box).
func (l *Set) waitingWriters(key string) int {
	s := &l.stripes[maphash.String(l.seed, key)%uint64(len(l.stripes))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if kl := s.locks[key]; kl != nil {
		return kl.writers
	}
	return 0
}

func TestSharedLocks(t *testing.T) {
	cases := []struct {
		name        string
		held, asked bool // shared?
		wantFree    bool
	}{
		{"shared with shared", true, true, true},
		{"exclusive with shared", true, false, false},
		{"shared with exclusive", false, true, false},
		{"exclusive with exclusive", false, false, false},
	}
	lock := func(l *Set, ctx context.Context, shared bool) (func(), error) {
		if shared {
			return l.RLock(ctx, "k")
		}
		return l.Lock(ctx, "k")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := New()
			unlock, err := lock(l, context.Background(), c.held)
			if err != nil {
				t.Fatal(err)
			}
			u2, err := lock(l, cancelled(), c.asked)
			if (err == nil) != c.wantFree {
				t.Fatalf("second lock: err %v, want free %v", err, c.wantFree)
			}
			if err == nil {
				u2()
			}
			unlock()
			if u, err := lock(l, cancelled(), c.asked); err != nil {
				t.Fatalf("lock after release: %v", err)
			} else {
				u()
			}
			noIdleLocks(t, l)
		})
	}
}

// TestWaitingWriterHoldsReadersBack: while a Lock waits for shared holders
// to leave, new RLocks wait too (the writer is not starved); it gets the
// lock once the holders left; a writer that gives up lets readers in again.
func TestWaitingWriterHoldsReadersBack(t *testing.T) {
	l := New()
	ctx := context.Background()
	r1, err := l.RLock(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func())
	go func() {
		unlock, err := l.Lock(ctx, "k")
		if err != nil {
			t.Error(err)
		}
		got <- unlock
	}()
	for l.waitingWriters("k") == 0 {
		runtime.Gosched()
	}
	if _, err := l.RLock(cancelled(), "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("RLock with a writer waiting: %v, want it to wait", err)
	}
	r1()
	w := <-got
	if _, err := l.RLock(cancelled(), "k"); err == nil {
		t.Fatal("RLock while the writer holds the lock")
	}
	w()

	// A writer that gives up waiting lets readers in.
	r1, _ = l.RLock(ctx, "k")
	wctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error)
	go func() { _, err := l.Lock(wctx, "k"); gaveUp <- err }()
	for l.waitingWriters("k") == 0 {
		runtime.Gosched()
	}
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Lock: %v", err)
	}
	r2, err := l.RLock(cancelled(), "k")
	if err != nil {
		t.Fatalf("RLock after the writer gave up: %v", err)
	}
	r2()
	r1()
	noIdleLocks(t, l)
}

func noIdleLocks(t *testing.T, l *Set) {
	t.Helper()
	for i := range l.stripes {
		if n := len(l.stripes[i].locks); n != 0 {
			t.Fatalf("stripe %d keeps %d idle locks", i, n)
		}
	}
}
