package blockstore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

// syncGate counts the fdatasyncs of volume files and, while armed, holds
// the next one until released; with failHeld set, the held one then fails
// with EIO.
type syncGate struct {
	syncs    atomic.Int64
	writes   atomic.Int64 // volume writes
	armed    atomic.Bool
	failHeld bool
	entered  chan struct{} // closed when the held sync has begun
	release  chan struct{}
}

// holdPut arms the gate and puts 1 KiB at key; it returns once that Put's
// fdatasync is held, with the channel its result will come on.
func (g *syncGate) holdPut(s *Store, key string) <-chan error {
	g.armed.Store(true)
	held := make(chan error, 1)
	go func() {
		_, err := s.Put(context.Background(), key, bytes.NewReader(make([]byte, 1<<10)), 1<<10, PutOptions{})
		held <- err
	}()
	<-g.entered
	return held
}

// awaitWrite waits until a volume write beyond the first seen ones was
// made (a condition, not a timed assertion: the deadline only ends a
// hung test), releasing the held sync and failing the test otherwise.
func (g *syncGate) awaitWrite(t *testing.T, seen int64, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for g.writes.Load() == seen {
		if time.Now().After(deadline) {
			close(g.release)
			t.Fatal(what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newSyncGate() *syncGate {
	return &syncGate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *syncGate) Inject(op errorfs.Op) errorfs.Fault {
	if op.Kind == errorfs.OpWrite && strings.HasSuffix(op.Path, volumeSuffix) {
		g.writes.Add(1)
	}
	if op.Kind == errorfs.OpSync && strings.HasSuffix(op.Path, volumeSuffix) {
		g.syncs.Add(1)
		if g.armed.CompareAndSwap(true, false) {
			close(g.entered)
			<-g.release
			if g.failHeld {
				return errorfs.Fault{Err: errorfs.EIO}
			}
		}
	}
	return errorfs.Fault{}
}

// TestGroupCommitBatchesWaitingWriters: while one group's fdatasync runs,
// every writer that queues meanwhile joins the next group, and that group
// takes one fdatasync for all of them. So records per fdatasync grow with
// the number of concurrent writers (1, 4, 16, 64 here). Syncs are counted
// through the fault-injecting FS; nothing is timed.
func TestGroupCommitBatchesWaitingWriters(t *testing.T) {
	ctx := context.Background()
	const size = 1 << 10
	prev := 0.0
	for _, writers := range []int{1, 4, 16, 64} {
		t.Run(fmt.Sprintf("writers=%d", writers), func(t *testing.T) {
			gate := newSyncGate()
			opts := testOptions(t, errorfs.Wrap(memfs.New(memfs.Options{}), gate))
			opts.Compression = CodecNone
			opts.MaxBatchBytes = 1 << 20 // 64 writers' records stay under a quarter of it
			s := mustOpen(t, opts)
			defer s.Close()
			put(t, s, "warm", make([]byte, size)) // the volume exists

			// A first write whose fdatasync is held.
			gate.armed.Store(true)
			held := make(chan error, 1)
			go func() {
				_, err := s.Put(ctx, "held", bytes.NewReader(make([]byte, size)), size, PutOptions{})
				held <- err
			}()
			<-gate.entered
			before, writes := gate.syncs.Load(), gate.writes.Load()

			// The writers queue while it is on disk.
			var wg sync.WaitGroup
			errs := make([]error, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := fmt.Sprintf("w%04d", i)
					_, errs[i] = s.Put(ctx, key, bytes.NewReader(bytes.Repeat([]byte{byte(i)}, size)), size, PutOptions{})
				}()
			}
			// Every writer's record is queued or gathered (not written:
			// the held group is still unsynced). Wait for that state.
			want := int64(writers * len(testRecord(t, "w0000", size)))
			deadline := time.Now().Add(30 * time.Second)
			for s.Stats().QueuedBytes != want {
				if n := gate.writes.Load() - writes; n > 0 {
					close(gate.release)
					t.Fatalf("a group with room left was written while the previous one's fdatasync ran (%d writes)", n)
				}
				if time.Now().After(deadline) {
					close(gate.release)
					t.Fatalf("writers never all queued: %d of %d bytes", s.Stats().QueuedBytes, want)
				}
				time.Sleep(time.Millisecond)
			}
			close(gate.release)
			if err := <-held; err != nil {
				t.Fatalf("held put: %v", err)
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("writer %d: %v", i, err)
				}
			}
			syncs := gate.syncs.Load() - before // the writers' fdatasyncs
			if syncs != 1 {
				t.Fatalf("%d writers queued during one sync took %d fdatasyncs, want 1 (one group)", writers, syncs)
			}
			perSync := float64(writers) / float64(syncs)
			if perSync <= prev && writers > 1 {
				t.Fatalf("records per fdatasync %.1f with %d writers, not above %.1f with fewer", perSync, writers, prev)
			}
			prev = perSync
			for i := range writers {
				key := fmt.Sprintf("w%04d", i)
				_, got, err := s.Get(ctx, key)
				if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{byte(i)}, size)) {
					t.Fatalf("get %s: %v", key, err)
				}
			}
		})
	}
}

// testRecord encodes the record a Put of size zero bytes under key (no
// content type, no metadata, no compression) appends.
func testRecord(t *testing.T, key string, size int) []byte {
	t.Helper()
	room := payloadOffset(key, "", 0)
	b := make([]byte, room+size+recordTrailerLen)
	h := recordHeader{rawLen: size, payloadLen: size, contentCRC: crc32c(b[room : room+size])}
	return finishRecord(b, h, key, "", nil)
}

// TestGroupCommitOverlapsLargeWrites: a group of at least a quarter of
// MaxBatchBytes does not wait for the previous fdatasync: it is written
// while that sync runs, so large records keep the write/sync pipeline.
func TestGroupCommitOverlapsLargeWrites(t *testing.T) {
	ctx := context.Background()
	gate := newSyncGate()
	opts := testOptions(t, errorfs.Wrap(memfs.New(memfs.Options{}), gate))
	opts.Compression = CodecNone
	s := mustOpen(t, opts)
	defer s.Close()
	put(t, s, "warm", make([]byte, 1<<10))

	held := gate.holdPut(s, "held")
	writes := gate.writes.Load()
	large := opts.MaxBatchBytes / 4
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "large", bytes.NewReader(make([]byte, large)), int64(large), PutOptions{})
		done <- err
	}()
	gate.awaitWrite(t, writes, "a group of a quarter of the cap waited for the previous fdatasync before its write")
	close(gate.release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
