package tiering

import (
	"math/rand/v2"
	"runtime"
	"strata/internal/mix"
	"testing"
)

// TestIndexMatchesMap drives the index and a Go map with the same random
// puts, removes and lookups and checks they always agree.
func TestIndexMatchesMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys int
		ops  int
	}{
		{"small", 100, 20000},
		{"grows", 50000, 200000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			idx := newItemIndex(0)
			ref := map[uint64]packedLoc{}
			hashes := make([]uint64, tc.keys)
			for i := range hashes {
				hashes[i] = mix.Mix64(uint64(i) + 1)
			}
			for range tc.ops {
				h := hashes[r.IntN(len(hashes))]
				switch r.IntN(3) {
				case 0, 1:
					l := makeLoc(r.Uint32N(1000), r.Uint32N(maxUnitsPerRegion), 1+r.Uint32N(100))
					old, replaced, ok := idx.put(h, l, 0)
					if !ok {
						t.Fatal("put refused")
					}
					want, had := ref[h]
					if replaced != had || (had && old != want) {
						t.Fatalf("put replaced=%v old=%x, want %v %x", replaced, old, had, want)
					}
					ref[h] = l
				case 2:
					old, ok := idx.remove(h)
					want, had := ref[h]
					if ok != had || (had && old != want) {
						t.Fatalf("remove = %x %v, want %x %v", old, ok, want, had)
					}
					delete(ref, h)
				}
				if idx.count != len(ref) {
					t.Fatalf("count %d, want %d", idx.count, len(ref))
				}
			}
			for _, h := range hashes {
				got, ok := idx.get(h)
				want, had := ref[h]
				if ok != had || (had && got != want) {
					t.Fatalf("get %x = %x %v, want %x %v", h, got, ok, want, had)
				}
			}
		})
	}
}

func TestIndexHitsAndRemoveIf(t *testing.T) {
	idx := newItemIndex(0)
	for i := range 5000 {
		idx.put(mix.Mix64(uint64(i)), makeLoc(uint32(i%10), uint32(i), 1), 0)
	}
	h := mix.Mix64(7)
	l, _ := idx.get(h)
	idx.update(h, l.withHits(l.hits()+1))
	if l2, _ := idx.get(h); l2.hits() != 1 || l2.withoutMeta() != l.withoutMeta() {
		t.Fatalf("hits update: %x -> %x", l, l2)
	}
	n := idx.removeIf(func(l packedLoc) bool { return l.region() == 3 })
	if n != 500 || idx.count != 4500 {
		t.Fatalf("removeIf removed %d, count %d", n, idx.count)
	}
	for i := range 5000 {
		_, ok := idx.get(mix.Mix64(uint64(i)))
		if ok != (i%10 != 3) {
			t.Fatalf("item %d present=%v", i, ok)
		}
	}
}

// TestIndexBytesPerItem measures the RAM cost of the SSD index per cached
// item, from the table size and from the Go heap, at several item counts.
func TestIndexBytesPerItem(t *testing.T) {
	counts := []int{10_000, 100_000, 1_000_000}
	if testing.Short() {
		counts = counts[:2]
	}
	for _, n := range counts {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		idx := newItemIndex(0)
		for i := range n {
			idx.put(mix.Mix64(uint64(i)+12345), makeLoc(uint32(i%4096), uint32(i%30000), 3), 0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		table := float64(idx.bytes()) / float64(n)
		heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
		t.Logf("items=%d slots=%d load=%.3f index bytes/item: table %.2f, heap delta %.2f",
			n, idx.n, float64(idx.count)/float64(idx.n), table, heap)
		if table > 16.0+1e-9 {
			t.Errorf("%d items: %.2f index bytes per item, want <= 16", n, table)
		}
		runtime.KeepAlive(idx)
	}
}
