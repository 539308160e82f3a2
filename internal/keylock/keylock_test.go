package keylock

import (
	"context"
	"errors"
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
