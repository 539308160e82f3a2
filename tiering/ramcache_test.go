package tiering

import (
	"fmt"
	"runtime"
	"testing"
)

// TestRAMWeightCoversHeap measures what a RAM cache item really costs on
// the Go heap (the payload with its allocation rounding, the key, otter's
// node and table slot) and checks the weight charged for it covers that,
// without overcharging by more than a quarter: so ram_cache_size bounds the
// heap the cache takes, and the memory budget built on it holds.
func TestRAMWeightCoversHeap(t *testing.T) {
	for _, size := range []int{100, 1000, 4096, 10000, 40000, 64 << 10, 1 << 20} {
		n := (64 << 20) / (size + 256)
		r, err := newRAMCache(1<<40, nil)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var weight int64
		for i := range n {
			k := ramKey{key: fmt.Sprintf("photos/2026/%08d.jpg", i), version: uint64(i) + 1, sum: uint32(i)}
			v := ramValue{data: make([]byte, size), objSize: int64(size)}
			r.set(k, v)
			v.size = int64(cap(v.data))
			weight += int64(ramWeight(k, v))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		ratio := float64(heap) / float64(weight)
		t.Logf("%7d-byte items: %6.0f heap bytes each, weight %6.0f (%.3f)", size, float64(heap)/float64(n), float64(weight)/float64(n), ratio)
		if ratio > 1.02 || ratio < 0.75 {
			t.Errorf("%d-byte items cost %.0f heap bytes each, weighed %.0f: ratio %.3f, want 0.75..1.02",
				size, float64(heap)/float64(n), float64(weight)/float64(n), ratio)
		}
		runtime.KeepAlive(r)
	}
}
