package tiering

import (
	"runtime"
	"testing"
	"time"
)

// TestColdShareFollowsTheWorkload replays two access streams through the
// admission policy's cold-share models and wants the share chosen for
// each: where the hot set keeps moving (each object read a few times at a
// short distance, then never), admitting first reads saves a miss per
// object and a share above 0 wins; where a stable hot set is mixed with a
// scan of objects read once, admitting first reads only flushes the hot
// set, and the share stays 0.
func TestColdShareFollowsTheWorkload(t *testing.T) {
	const (
		item  = 4 << 10
		cache = 4 << 20 // 1024 items
		steps = 400_000
	)
	for _, tc := range []struct {
		name    string
		next    func(i int) uint64
		wantHot bool // a share above 0
	}{
		{"hot set moves", func(i int) uint64 {
			// Phases of 512 new objects (half the cache), each read 4
			// times round-robin, between reads of objects read once.
			const set, reads = 512, 4
			if i%2 == 1 {
				return 1<<41 + uint64(i)
			}
			i /= 2
			phase := i / (set * reads)
			return uint64(phase*set + i%set)
		}, true},
		{"stable hot set and a scan", func(i int) uint64 {
			if i%2 == 0 {
				return 1<<40 + uint64(i/2)%768 // 768 hot objects, three quarters of the cache
			}
			return 1<<41 + uint64(i) // read once
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAdmissionPolicy(admissionConfig{
				sketchWidth: 1 << 14, sketchWindow: sketchWindowTurnovers * cache,
				ssdBytes: cache * 10 / 11, cacheBytes: cache,
			})
			for i := range steps {
				a.recordAccess(tc.next(i)*0x9e3779b97f4a7c15, item)
			}
			if a.cold.sinceFull < coldWarmWindows*a.sketch.window {
				t.Fatalf("models full for %d bytes read after %d reads, want at least %d", a.cold.sinceFull, steps, coldWarmWindows*a.sketch.window)
			}
			miss := make([]float64, len(a.cold.minis))
			for i, m := range a.cold.minis {
				miss[i] = 1 - float64(m.hitBytes)/float64(m.reads)
			}
			t.Logf("share %.3f; models' byte miss ratios at shares %v: %.3f", a.cold.share, coldShares(), miss)
			if got := a.cold.share > 0; got != tc.wantHot {
				t.Fatalf("share %.3f (models' byte miss ratios at shares %v: %.3f), want above 0: %v", a.cold.share, coldShares(), miss, tc.wantHot)
			}
		})
	}
}

// TestColdShareModelsStayBounded reads many more distinct small objects
// than a model may hold and wants every model at or under its item bound,
// having halved its sample to stay there.
func TestColdShareModelsStayBounded(t *testing.T) {
	c := newColdChooser(1 << 30) // a model of 128 MiB: 128Ki items of 1 KiB
	sk := newFreqSketch(1<<16, 0, 1<<40, 0, time.Time{})
	for i := range uint64(1 << 20) {
		h := i * 0x9e3779b97f4a7c15
		for range 2 { // read twice: admitted by frequency
			c.record(h, 1<<10, 2, sk.add(h, 1<<10, time.Time{}), sk)
		}
	}
	if c.shift <= coldSampleShift {
		t.Errorf("sample shift %d, want it above %d after 1Mi objects", c.shift, coldSampleShift)
	}
	for i, m := range c.minis {
		if n := coldIndexed(t, c, i); n > coldMiniMaxItems || m.items() != n {
			t.Errorf("model %d: %d items indexed, %d in its log, want equal and at most %d", i, n, m.items(), coldMiniMaxItems)
		}
	}
}

// coldIndexed counts the objects the shared index places in model i, and
// fails t for any it places where the model's log does not hold it.
func coldIndexed(t *testing.T, c *coldChooser, i int) int {
	t.Helper()
	n := 0
	for h, s := range c.where {
		if s == (coldSlots{}) {
			t.Fatalf("object %x indexed in no model", h)
		}
		if s[i] == 0 {
			continue
		}
		m := &c.minis[i]
		if j := int(s[i]) - 1; j < m.head || j >= len(m.fifo) || m.fifo[j].h != h {
			t.Fatalf("model %d: object %x indexed at %d, not in the log [%d, %d) there", i, h, j, m.head, len(m.fifo))
		}
		n++
	}
	return n
}

// TestColdAdmissionKeepsTheWriteAllowance admits every cold candidate (share
// 1) once the SSD is full and wants the bytes written at most half of
// those offered, plus the allowance's bound.
func TestColdAdmissionKeepsTheWriteAllowance(t *testing.T) {
	const ssd, item = 64 << 20, 64 << 10
	a := newAdmissionPolicy(admissionConfig{sketchWidth: 1024, ssdBytes: ssd, cacheBytes: ssd})
	a.keepOnReclaim(1, false) // the SSD evicted: it is full
	a.cold.share = 1
	var offered, written int64
	for i := range uint64(10_000) {
		offered += item
		if a.decide(i*0x9e3779b97f4a7c15, item, item) == admitYes {
			written += item
		}
	}
	if written == 0 || written > offered/2+ssd/8 {
		t.Fatalf("wrote %d of %d bytes offered, want some, at most half plus %d", written, offered, ssd/8)
	}
}

func TestInColdShare(t *testing.T) {
	for _, tc := range []struct {
		share    float64
		min, max int
	}{
		{0, 0, 0},
		{1.0 / 8, 1100, 1400},
		{1, 10_000, 10_000},
	} {
		n := 0
		for i := range uint64(10_000) {
			if inColdShare(i, tc.share) {
				n++
			}
		}
		if n < tc.min || n > tc.max {
			t.Errorf("share %.3f: %d of 10000 objects in it, want %d to %d", tc.share, n, tc.min, tc.max)
		}
	}
}

// TestColdShareModelsFitTheirMemory fills every model to its item bound
// and wants the heap they hold within coldChooserBytes, what MemoryBytes
// counts for them.
func TestColdShareModelsFitTheirMemory(t *testing.T) {
	sk := newFreqSketch(1024, 0, 1<<40, 0, time.Time{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newColdChooser(1 << 40) // models far larger than their items
	for i := range uint64(1 << 20) {
		c.record(i*0x9e3779b97f4a7c15, 1, 2, 2, sk)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	for i, m := range c.minis {
		if m.items() < coldMiniMaxItems/2 {
			t.Fatalf("model %d holds %d items, want it near its bound %d", i, m.items(), coldMiniMaxItems)
		}
	}
	if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); held > coldChooserBytes {
		t.Errorf("models hold %d bytes of heap, MemoryBytes counts %d", held, coldChooserBytes)
	} else {
		t.Logf("models hold %d bytes of heap, MemoryBytes counts %d", held, coldChooserBytes)
	}
	runtime.KeepAlive(c)
}
