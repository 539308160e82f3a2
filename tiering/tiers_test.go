package tiering

import (
	"fmt"
	"runtime"
	"strata/internal/mix"
	"sync/atomic"
	"testing"
	"time"
)

// TestRAMNoInsertSilentlyDropped: every item put into the RAM tier is
// either still there or was reported evicted (and so offered to the SSD).
func TestRAMNoInsertSilentlyDropped(t *testing.T) {
	var evicted atomic.Int64
	seen := map[ramKey]bool{}
	r, err := newRAMCache(64<<10, func(k ramKey, v ramValue) { evicted.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n {
		k := ramKey{key: fmt.Sprintf("k%d", i%1500), version: 1}
		if seen[k] {
			r.get(k)
			continue
		}
		seen[k] = true
		r.set(k, ramValue{data: make([]byte, 100+i%3000)})
	}
	r.c.CleanUp()
	present := int64(0)
	for k := range seen {
		if _, ok := r.get(k); ok {
			present++
		}
	}
	if present+evicted.Load() != int64(len(seen)) {
		t.Fatalf("%d inserted, %d present + %d evicted", len(seen), present, evicted.Load())
	}
	if w := r.weightedSize(); w > 64<<10 {
		t.Fatalf("weighted size %d above capacity", w)
	}
}

func TestSSDCoreReclaimReinsertsHitItems(t *testing.T) {
	c := newSSDCore(3, 64<<10)
	item := int64(16<<10) - c.unit // four fit a region after its header
	place := func(h uint64) itemLoc {
		t.Helper()
		for {
			loc, res := c.place(h, item)
			switch res {
			case placed:
				return loc
			case placeNeedFill:
				if r, ok := c.sealFill(); ok {
					c.markSealed(r)
				}
				if _, ok := c.openFill(); !ok {
					t.Fatal("no free region")
				}
			default:
				t.Fatalf("place: %v", res)
			}
		}
	}
	locs := map[uint64]itemLoc{}
	for i := range uint64(8) { // regions 0 and 1 full
		locs[i] = place(mix.Mix64(i))
	}
	c.touch(mix.Mix64(1))
	c.invalidate(mix.Mix64(2))
	if got := c.regions[locs[0].region].live; got != 3*item {
		t.Fatalf("live bytes of region %d: %d after one invalidation", locs[0].region, got)
	}
	if !c.needReclaim(2) {
		t.Fatal("want reclaim with 1 free region and reserve 2")
	}
	r, _ := c.beginReclaim()
	if r != locs[0].region {
		t.Fatalf("reclaimed region %d, want oldest %d", r, locs[0].region)
	}
	var reinsert []uint64
	for i := range uint64(4) {
		live, again := c.reclaimItem(r, mix.Mix64(i), locs[i].off)
		if live != (i != 2) || again != (i == 1) {
			t.Fatalf("item %d: live %v reinsert %v", i, live, again)
		}
		if again {
			reinsert = append(reinsert, mix.Mix64(i))
		}
	}
	c.endReclaim(r)
	for _, h := range reinsert {
		place(h)
	}
	if !c.contains(mix.Mix64(1)) || c.contains(mix.Mix64(0)) || c.contains(mix.Mix64(3)) || !c.contains(mix.Mix64(5)) {
		t.Fatal("wrong survivors after reclaim")
	}
}

func TestSSDReinsertionKeepsHotItems(t *testing.T) {
	fb := newFakeBackend(64 << 10)
	o := smallOpts(t, fb)
	o.RAMCacheBytes = 0
	o.SSDCacheBytes = 1 << 20 // 4 regions of 256 KiB
	e := openEnv(t, o)
	want := map[string][]byte{}
	hot := []string{"hot0", "hot1", "hot2"}
	for i, k := range hot {
		want[k] = randBytes(uint64(i), 10<<10)
		e.put(k, want[k])
	}
	admitToSSD(t, e, hot, want)
	for round := range 8 {
		var cold []string
		for i := range 12 {
			k := fmt.Sprintf("cold%d-%d", round, i)
			want[k] = randBytes(uint64(100*round+i), 12<<10)
			e.put(k, want[k])
			cold = append(cold, k)
		}
		admitToSSD(t, e, cold, want)
		for _, k := range hot {
			e.mustGet(k, want[k])
		}
	}
	e.s.ssd.flushAll(t)
	st := e.s.Stats()
	if st.SSDCache.Reinsertions == 0 || st.SSD.Evictions == 0 {
		t.Fatalf("reinsertions %d, evictions %d", st.SSDCache.Reinsertions, st.SSD.Evictions)
	}
	for _, k := range hot {
		if tier := e.mustGet(k, want[k]); tier != "ssd" {
			t.Errorf("hot %s: tier %q after churn, want ssd", k, tier)
		}
	}
}

func TestSSDAdmissionFilters(t *testing.T) {
	t.Run("large objects skipped", func(t *testing.T) {
		fb := newFakeBackend(64 << 10)
		o := smallOpts(t, fb)
		o.RAMCacheBytes = 0
		e := openEnv(t, o)
		d := randBytes(1, 100<<10) // above SSDMaxItemBytes (64 KiB)
		e.put("big", d)
		for range 4 {
			if tier := e.mustGet("big", d); tier != "hdd" {
				t.Fatalf("large object served from %q", tier)
			}
		}
		if st := e.s.Stats(); st.SSDCache.RejectedTooLarge == 0 || st.SSD.Admissions != 0 {
			t.Fatalf("too-large rejections %d, admissions %d", st.SSDCache.RejectedTooLarge, st.SSD.Admissions)
		}
	})
	t.Run("writer lagging drops", func(t *testing.T) {
		fb := newFakeBackend(64 << 10)
		o := smallOpts(t, fb)
		o.RAMCacheBytes = 0
		o.SSDAdmitQueueBytes = 1 // every enqueue overflows: as if the writer were stuck
		e := openEnv(t, o)
		d := randBytes(2, 10<<10)
		e.put("x", d)
		for range 4 {
			e.mustGet("x", d)
		}
		if st := e.s.Stats(); st.SSDCache.DroppedQueueFull == 0 || st.SSD.Admissions != 0 {
			t.Fatalf("dropped %d, admissions %d", st.SSDCache.DroppedQueueFull, st.SSD.Admissions)
		}
	})
	t.Run("empty SSD admits, a full one filters", func(t *testing.T) {
		a := newAdmissionPolicy(admissionConfig{sketchWidth: 1024})
		a.recordAccess(8, 1)
		if v := a.decide(8, 1, 1); v != admitYes {
			t.Fatalf("read once, nothing evicted yet: %v, want admitted (free flash costs no hit)", v)
		}
		a.keepOnReclaim(99, false) // the SSD evicted something: it is full
		if v := a.decide(8, 1, 1); v != rejectCold {
			t.Fatalf("read once, SSD full: %v, want cold", v)
		}
	})
	t.Run("sketch forgets by time", func(t *testing.T) {
		now := time.Unix(0, 0)
		a := newAdmissionPolicy(admissionConfig{sketchWidth: 1024, sketchWindow: 1 << 40, sketchPeriod: time.Minute, now: func() time.Time { return now }})
		a.keepOnReclaim(99, false)
		a.recordAccess(7, 1)
		a.recordAccess(7, 1)
		if v := a.decide(7, 1, 1); v != admitYes {
			t.Fatalf("reused item: %v", v)
		}
		if v := a.decide(8, 1, 1); v != rejectCold {
			t.Fatalf("unseen item: %v", v)
		}
		now = now.Add(2 * time.Minute)
		a.recordAccess(9, 1) // triggers halving
		if v := a.decide(7, 1, 1); v != rejectCold {
			t.Fatalf("after a window: %v, want cold", v)
		}
	})
	t.Run("sketch forgets by traffic", func(t *testing.T) {
		// The window is in bytes read, whatever the number of items: one
		// large read ages the sketch as much as many small ones.
		for _, tc := range []struct {
			name  string
			reads int
			size  int64
		}{{"one large read", 1, 1 << 20}, {"many small reads", 1024, 1 << 10}} {
			a := newAdmissionPolicy(admissionConfig{sketchWidth: 1024, sketchWindow: 1 << 20})
			a.keepOnReclaim(99, false)
			a.recordAccess(7, 1)
			a.recordAccess(7, 1)
			if v := a.decide(7, 1, 1); v != admitYes {
				t.Fatalf("%s: reused item: %v", tc.name, v)
			}
			for i := range tc.reads {
				a.recordAccess(uint64(1000+i), tc.size)
			}
			a.recordAccess(10, 1) // halving happens on the next access after the window
			if v := a.decide(7, 1, 1); v != rejectCold {
				t.Fatalf("%s: after 1 MiB of traffic: %v, want cold", tc.name, v)
			}
		}
	})
}

// TestRAMCapacityBoundsHeap fills the RAM tier far past its capacity and
// checks the Go heap it holds stays near the configured bytes.
func TestRAMCapacityBoundsHeap(t *testing.T) {
	const capacity = 16 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := newRAMCache(capacity, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4000 {
		n := 512 + (i*7919)%(64<<10)
		r.set(ramKey{key: fmt.Sprintf("key-%d", i), version: uint64(i)}, ramValue{data: make([]byte, n), objSize: int64(n)})
	}
	r.c.CleanUp()
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("capacity %d, weighted %d, items %d, heap held %d (%.2fx)", capacity, r.weightedSize(), r.items(), held, float64(held)/capacity)
	if held > capacity*5/4+(1<<20) {
		t.Fatalf("RAM tier holds %d heap bytes for a %d capacity", held, capacity)
	}
	runtime.KeepAlive(r)
}
