package tiering

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"strata/blockstore"
	"strata/internal/poll"
)

// The fill queue is bounded by bytes: what does not fit is dropped and
// counted, never waited for; a chunk above the whole bound is taken only
// into an empty queue.
func TestFillQueueBoundedByBytes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limit     int64
		sizes     []int
		wantTaken []bool
	}{
		{"fits", 100, []int{40, 60}, []bool{true, true}},
		{"over the bound drops", 100, []int{40, 40, 40, 20}, []bool{true, true, false, true}},
		{"big into empty queue", 100, []int{500, 1}, []bool{true, false}},
		{"big behind others drops", 100, []int{1, 500}, []bool{true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newFillQueue(tc.limit) // no filler running: nothing leaves
			var dropped uint64
			for i, n := range tc.sizes {
				got := q.enqueue(fillReq{info: blockstore.Info{Key: "k"}, data: make([]byte, n)})
				if got != tc.wantTaken[i] {
					t.Fatalf("enqueue %d of %d bytes: %v, want %v (queued %d bytes)", i, n, got, tc.wantTaken[i], q.bytes.Load())
				}
				if !got {
					dropped++
				}
			}
			if st := q.stats(); st.DroppedFull != dropped || st.QueuedBytes > max(tc.limit, int64(tc.sizes[0])) {
				t.Fatalf("stats %+v, want %d dropped and at most %d bytes queued", st, dropped, tc.limit)
			}
		})
	}
}

// A reader sends no copy of what it missed: it returns before the filler
// runs, and the item reaches RAM once the filler has applied it.
func TestFillHappensOffTheReadPath(t *testing.T) {
	fb := newFakeBackend(1 << 20)
	o := smallOpts(t, fb)
	o.SSDCacheBytes = 0
	e := openEnv(t, o)
	d := randBytes(1, 8<<10)
	info := e.put("k", d)
	k := ramKey{key: info.Key, version: info.Version, sum: info.Checksum}
	e.s.ram.invalidate(k) // as if evicted: the next read misses
	// Hold the filler: it applies fills under fills.mu.
	e.s.fills.mu.Lock()
	obj, err := e.s.Open(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, d) || obj.Tier() != string(TierHDD) {
		t.Fatalf("read with the filler held: %v, equal %v, tier %s", err, bytes.Equal(got, d), obj.Tier())
	}
	if e.s.ram.containsQuietly(k) {
		t.Fatal("the item is in RAM before the filler ran")
	}
	e.s.fills.mu.Unlock()
	e.s.waitFilled(t)
	if !e.s.ram.containsQuietly(k) {
		t.Fatalf("the filler did not cache the missed item: %+v", e.s.Stats().Fill)
	}
	if tier := e.mustGet("k", d); tier != string(TierRAM) {
		t.Fatalf("read after the fill: tier %s", tier)
	}
}

// A fill whose backend read began before a Put or Delete of its key is
// dropped, so the replaced version's bytes do not come back into the
// caches after the invalidation; reads see the new version.
func TestFillRacingInvalidationIsDropped(t *testing.T) {
	for _, op := range []string{"put", "delete"} {
		t.Run(op, func(t *testing.T) {
			fb := newFakeBackend(1 << 20)
			e := openEnv(t, smallOpts(t, fb))
			v1, v2 := randBytes(1, 8<<10), randBytes(2, 8<<10)
			old := e.put("k", v1)
			oldK := ramKey{key: old.Key, version: old.Version, sum: old.Checksum}
			e.s.ram.invalidate(oldK)

			gate := make(chan struct{})
			fb.mu.Lock()
			fb.readGate = gate
			fb.mu.Unlock()
			obj, err := e.s.Open(context.Background(), "k")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan []byte)
			go func() {
				b, _ := io.ReadAll(obj)
				done <- b
			}()
			poll.Until(t, "the reader to be in the backend", func() bool { return fb.reads.Load() == 1 })
			switch op {
			case "put":
				e.put("k", v2)
			case "delete":
				if err := e.s.Delete(context.Background(), "k", blockstore.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			fb.mu.Lock()
			fb.readGate = nil
			fb.mu.Unlock()
			close(gate)
			if b := <-done; !bytes.Equal(b, v1) {
				t.Fatal("the reader of the old version got other bytes")
			}
			e.s.waitFilled(t)
			if e.s.ram.containsQuietly(oldK) || e.s.ssd.contains(oldK.hash()) {
				t.Fatalf("the old version came back into the caches after the %s: %+v", op, e.s.Stats().Fill)
			}
			if st := e.s.Stats().Fill; st.DroppedStale == 0 {
				t.Fatalf("no stale fill dropped: %+v", st)
			}
			got, _, err := e.get("k")
			switch op {
			case "put":
				if err != nil || !bytes.Equal(got, v2) {
					t.Fatalf("read after the put: %v, new bytes %v", err, bytes.Equal(got, v2))
				}
			case "delete":
				if err == nil {
					t.Fatal("read after the delete found the blob")
				}
			}
		})
	}
}

// Readers and writers of the same keys at once: every read returns the
// bytes of one written version whole, and once the writers stop every
// read returns the last one (run with -race).
func TestFillConcurrentReadersAndWriters(t *testing.T) {
	fb := newFakeBackend(64 << 10)
	e := openEnv(t, smallOpts(t, fb))
	const keys, versions = 4, 30
	content := func(k, v int) []byte { return randBytes(uint64(k*1000+v), 20<<10+k) } // 2 segments
	valid := map[string]bool{}
	for k := range keys {
		for v := range versions {
			valid[string(content(k, v))] = true
		}
		e.put(fmt.Sprintf("k%d", k), content(k, 0))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("k%d", (i+r)%keys)
				obj, err := e.s.Open(context.Background(), key)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(obj)
				obj.Close()
				if err == nil && !valid[string(b)] {
					errs <- fmt.Errorf("read of %s returned bytes of no version (%d bytes)", key, len(b))
					return
				}
			}
		}()
	}
	for v := 1; v < versions; v++ {
		for k := range keys {
			d := content(k, v)
			if _, err := e.s.Put(context.Background(), fmt.Sprintf("k%d", k), bytes.NewReader(d), int64(len(d)), blockstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e.s.waitFilled(t)
	for k := range keys {
		for range 2 {
			e.mustGet(fmt.Sprintf("k%d", k), content(k, versions-1))
		}
	}
}
