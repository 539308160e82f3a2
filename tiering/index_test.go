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
			idx := newItemIndex()
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
	idx := newItemIndex()
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

// checkIndex verifies the index's structure: the shards tile the
// directory, every entry sits in its shard where its hash leads, and the
// counters (items, slots, shards, shards at full depth) agree.
func checkIndex(t *testing.T, idx *itemIndex) {
	t.Helper()
	var count, slots, shards, atGlobal int
	for i := 0; i < len(idx.dir); {
		s := idx.dir[i]
		span := 1 << (idx.depth - s.depth)
		if s.depth > idx.depth || i%span != 0 {
			t.Fatalf("shard of depth %d at directory slot %d of depth %d", s.depth, i, idx.depth)
		}
		for j := i; j < i+span; j++ {
			if idx.dir[j] != s {
				t.Fatalf("directory slot %d does not point at its shard", j)
			}
		}
		n := 0
		for k := 0; k < s.n; k++ {
			fp, v := s.at(k)
			if v == 0 {
				continue
			}
			n++
			if s.depth > 0 && int(fp>>(32-s.depth)) != i>>(idx.depth-s.depth) {
				t.Fatalf("entry %x in the wrong shard", fp)
			}
			if s.find(fp, v>>locExtraShift) != k {
				t.Fatalf("entry %x not where its hash leads", fp)
			}
		}
		if n != s.count || s.count >= s.n {
			t.Fatalf("shard counts %d entries of %d slots, holds %d", s.count, s.n, n)
		}
		count += n
		slots += s.n
		shards++
		if s.depth == idx.depth {
			atGlobal++
		}
		i += span
	}
	if count != idx.count || slots != idx.slots || shards != idx.shards || atGlobal != idx.atGlobal {
		t.Fatalf("index counts items %d slots %d shards %d at-depth %d; found %d %d %d %d",
			idx.count, idx.slots, idx.shards, idx.atGlobal, count, slots, shards, atGlobal)
	}
	if idx.depth > 0 && atGlobal == 0 {
		t.Fatalf("directory of depth %d with no shard that needs it", idx.depth)
	}
}

// TestIndexBytesPerItemAtEverySize fills the index to a million items and
// empties it again, and at every size above a few thousand items, while it
// grows and after it shrinks, wants at most 16 bytes per item by its own
// accounting (tables, shard headers, directory); it also wants no single
// operation to rehash more than one shard's worth of entries (no
// stop-the-world growth), and an empty index to cost well under 1 KiB (no
// floor for tiny caches).
func TestIndexBytesPerItemAtEverySize(t *testing.T) {
	const floorItems = 3000
	n := 300_000
	idx := newItemIndex()
	if b := idx.bytes(); b > 512 {
		t.Fatalf("empty index costs %d bytes", b)
	}
	hash := func(i int) uint64 { return mix.Mix64(uint64(i) + 777) }
	worst, worstAt := 0.0, 0
	maxMoved := uint64(0)
	check := func(phase string) {
		if idx.count < floorItems {
			return
		}
		per := float64(idx.bytes()) / float64(idx.count)
		if per > worst {
			worst, worstAt = per, idx.count
		}
		if per > 16 {
			t.Fatalf("%s at %d items: %.2f index bytes per item, want <= 16", phase, idx.count, per)
		}
	}
	for i := range n {
		before := idx.rehashed
		idx.put(hash(i), makeLoc(uint32(i%4096), uint32(i%30000), 3), 0)
		maxMoved = max(maxMoved, idx.rehashed-before)
		check("growing")
	}
	checkIndex(t, idx)
	grownDepth, grownShards := idx.depth, idx.shards
	// Remove in a scattered order, down to nothing.
	r := rand.New(rand.NewPCG(3, 4))
	order := r.Perm(n)
	for k, i := range order {
		before := idx.rehashed
		if _, ok := idx.remove(hash(i)); !ok {
			t.Fatalf("item %d missing", i)
		}
		maxMoved = max(maxMoved, idx.rehashed-before)
		check("shrinking")
		if k == n/2 {
			checkIndex(t, idx)
		}
	}
	checkIndex(t, idx)
	t.Logf("%d items: depth %d, %d shards; worst %.2f bytes/item (at %d items); most entries moved by one operation %d; empty again: %d bytes, depth %d",
		n, grownDepth, grownShards, worst, worstAt, maxMoved, idx.bytes(), idx.depth)
	if limit := uint64(shardSplitSlots); maxMoved > limit {
		t.Errorf("one operation moved %d entries, want at most %d (one shard)", maxMoved, limit)
	}
	if b := idx.bytes(); b > 512 || idx.depth != 0 {
		t.Errorf("emptied index costs %d bytes at depth %d, want the size of a new one", b, idx.depth)
	}
}

// TestIndexShrinksWithChurn keeps the index at a steady size for a long
// time (inserts of new items and removals of old ones, as a cache turns
// over), then at a tenth of that size, and wants the bytes per item within
// bounds at both.
func TestIndexShrinksWithChurn(t *testing.T) {
	idx := newItemIndex()
	hash := func(i int) uint64 { return mix.Mix64(uint64(i)*3 + 1) }
	lo, hi := 0, 0
	run := func(live, ops int) float64 {
		worst := 0.0
		for range ops {
			idx.put(hash(hi), makeLoc(1, 1, 1), 0)
			hi++
			for hi-lo > live {
				idx.remove(hash(lo))
				lo++
			}
			if idx.count >= 3000 {
				worst = max(worst, float64(idx.bytes())/float64(idx.count))
			}
		}
		return worst
	}
	for _, tc := range []struct{ live, ops int }{{100_000, 300_000}, {10_000, 100_000}, {100_000, 200_000}} {
		worst := run(tc.live, tc.ops)
		checkIndex(t, idx)
		t.Logf("steady at %d items: worst %.2f bytes/item, %d shards", tc.live, worst, idx.shards)
		if worst > 16 {
			t.Errorf("steady at %d items: %.2f bytes per item", tc.live, worst)
		}
	}
}

// BenchmarkIndexGrow inserts b.N items into an empty index and reports its
// memory: bytes per item by its accounting and by the Go heap.
func BenchmarkIndexGrow(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	idx := newItemIndex()
	for i := 0; b.Loop(); i++ {
		idx.put(mix.Mix64(uint64(i)+12345), makeLoc(uint32(i%4096), uint32(i%30000), 3), 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(idx.bytes())/float64(idx.count), "index-B/item")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(idx.count), "heap-B/item")
	runtime.KeepAlive(idx)
}
