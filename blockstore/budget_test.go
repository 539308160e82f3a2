package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

// writeGate holds every volume write until opened.
type writeGate struct{ open chan struct{} }

func (g *writeGate) Inject(op errorfs.Op) errorfs.Fault {
	if op.Kind == errorfs.OpWrite && strings.HasSuffix(op.Path, volumeSuffix) {
		<-g.open
	}
	return errorfs.Fault{}
}

// TestAppenderQueueBoundedByBytes: with the disk stalled, writers of large
// records fill the queue up to MaxQueueBytes and then wait; the queue never
// holds more, and every write completes once the disk moves.
func TestAppenderQueueBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	gate := &writeGate{open: make(chan struct{})}
	opts := testOptions(t, errorfs.Wrap(memfs.New(memfs.Options{}), gate))
	opts.Compression = CodecNone
	opts.MaxQueueBytes = 256 << 10
	s := mustOpen(t, opts)
	defer s.Close()

	const writers, size = 32, 60 << 10
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Put(ctx, fmt.Sprintf("k%02d", i), bytes.NewReader(make([]byte, size)), size, PutOptions{})
		}()
	}
	// Wait (with a deadline) until the queue is as full as it can get: the
	// next record would not fit.
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().QueuedBytes <= opts.MaxQueueBytes-size {
		if time.Now().After(deadline) {
			close(gate.open)
			t.Fatalf("queue never filled: %d bytes", s.Stats().QueuedBytes)
		}
		time.Sleep(time.Millisecond)
	}
	close(gate.open)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if st := s.Stats(); st.QueuePeakBytes > opts.MaxQueueBytes || st.QueuedBytes != 0 {
		t.Fatalf("queue peak %d bytes (bound %d), %d still queued", st.QueuePeakBytes, opts.MaxQueueBytes, st.QueuedBytes)
	}
	// A record larger than the whole bound still goes, alone.
	s2opts := testOptions(t, nil)
	s2opts.MaxQueueBytes = 16 << 10
	s2 := mustOpen(t, s2opts)
	defer s2.Close()
	put(t, s2, "big", make([]byte, 60<<10))
}

func TestByteBudget(t *testing.T) {
	ctx := context.Background()
	b := newByteBudget(100)
	if n, err := b.acquire(ctx, 60); n != 60 || err != nil {
		t.Fatal(n, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if n, err := b.acquire(cancelled, 60); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire over the bound with a cancelled context: %d %v", n, err)
	}
	got := make(chan int64)
	go func() {
		n, _ := b.acquire(ctx, 500) // larger than the bound: waits for empty
		got <- n
	}()
	b.release(60)
	if n := <-got; n != 100 {
		t.Fatalf("oversized acquire took %d, want the whole budget", n)
	}
	if used, peak := b.state(); used != 100 || peak != 100 {
		t.Fatalf("used %d peak %d", used, peak)
	}
	b.release(100)
}
