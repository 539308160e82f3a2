package tiering

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"strata/ioengine"
	"strata/ioengine/memfs"
)

// fillSSD opens an SSD cache of capacity bytes on fs and fills all but two
// of its regions with items of itemBytes (admitting everything, reclaiming
// nothing), then waits until every region is on flash. It returns the
// cache, open.
func fillSSD(tb testing.TB, fs *memfs.FS, capacity, itemBytes int64) *ssdCache {
	tb.Helper()
	cfg := ssdConfig{
		fs: fs, path: "/ssd/cache", capacity: capacity, regionSize: defaultRegionSize, buffers: 4,
		queueBytes: 2 * defaultRegionSize, maxInFlight: 8, fileMode: 0o600, logger: slog.New(slog.DiscardHandler),
		adm: newAdmissionPolicy(admissionConfig{sketchWidth: 1024, admitAll: true}),
	}
	s, err := openSSDCache(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	data := randBytes(1, int(itemBytes))
	fp := s.core.footprint(encodedItemLen(len("bench/00000000"), int(itemBytes)))
	perRegion := (defaultRegionSize - s.core.footprint(regionHeaderSize)) / fp
	n := (capacity/defaultRegionSize - 2) * perRegion
	for i := range n {
		k := ramKey{key: fmt.Sprintf("bench/%08d", i), version: 1, sum: 2}
		for s.queuedBytes.Load()+itemBytes > cfg.queueBytes {
			s.waitIdle(tb)
		}
		s.offer(k, k.hash(), itemBytes, data)
	}
	s.flushAll(tb)
	return s
}

// crashAndReopen crashes s's filesystem (only synced bytes survive), closes
// s and opens its cache again on the crashed copy, closed at the end of t.
func crashAndReopen(t *testing.T, fs *memfs.FS, s *ssdCache) *ssdCache {
	t.Helper()
	crashed := fs.CrashClone()
	s.close()
	cfg := s.cfg
	cfg.fs = crashed
	r, err := openSSDCache(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.close() })
	return r
}

// TestSSDRebuildIndexesEveryItem fills an SSD cache, crashes, and wants the
// rebuild to index exactly the items that were on flash, at their places.
func TestSSDRebuildIndexesEveryItem(t *testing.T) {
	fs := memfs.New(memfs.Options{Alignment: 4096})
	s := fillSSD(t, fs, 64<<20, 20<<10)
	s.mu.Lock()
	want := map[uint64]itemLoc{}
	s.core.index.each(func(fp uint32, v uint64) {
		want[joinHash(fp, v)] = s.core.unpack(packedLoc(v & (1<<locHitsShift - 1)))
	})
	items, fifo := s.core.liveItems, append([]uint32(nil), s.core.fifo...)
	s.mu.Unlock()
	r := crashAndReopen(t, fs, s)
	if !strings.HasPrefix(r.start, "warm: rebuilt") || r.core.liveItems != items {
		t.Fatalf("start %q, %d items; want rebuilt with %d", r.start, r.core.liveItems, items)
	}
	for h, loc := range want {
		got, ok := r.core.lookup(h)
		if !ok || got.region != loc.region || got.off != loc.off || got.size != loc.size {
			t.Fatalf("item %x at %+v after rebuild, want %+v", h, got, loc)
		}
	}
	if fmt.Sprint(r.core.fifo) != fmt.Sprint(fifo) {
		t.Fatalf("reclaim order %v after rebuild, want %v", r.core.fifo, fifo)
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSSDRebuild measures the rebuild of the SSD index after a crash,
// per GiB of filled SSD cache, on memfs (the CPU cost: reads are memory copies,
// then CRC32C and index inserts; a device adds its read time, about 1 s
// per GiB at 1 GiB/s of reads), as wall-clock and as CPU time (the wall
// clock of a loaded machine overstates it):
//
//	go test -run '^$' -bench SSDRebuild -benchtime 5x ./tiering/
func BenchmarkSSDRebuild(b *testing.B) {
	const capacity = 128 << 20
	for _, item := range []int64{4 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("item=%dKiB", item>>10), func(b *testing.B) {
			fs := memfs.New(memfs.Options{Alignment: 4096})
			s := fillSSD(b, fs, capacity, item)
			crashed := fs.CrashClone()
			s.close()
			cfg := s.cfg
			var items int64
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				cfg.fs = crashed.CrashClone()
				before := cpuTime()
				b.StartTimer()
				r, err := openSSDCache(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu += cpuTime() - before
				items = r.core.liveItems
				r.close()
				b.StartTimer()
			}
			b.StopTimer()
			filled := float64(capacity - 2*defaultRegionSize)
			perGiB := float64(b.Elapsed().Seconds()) / float64(b.N) * float64(1<<30) / filled
			b.ReportMetric(perGiB, "s/GiB")
			b.ReportMetric(cpu.Seconds()/float64(b.N)*float64(1<<30)/filled, "cpu-s/GiB")
			b.ReportMetric(float64(items), "items")
		})
	}
}

// TestSSDRebuildStopsAtRegionEnd reuses a region for fewer items than it
// held before and wants the rebuild to index only the new ones: the older
// items after them on flash (still intact) are past the region's end mark.
func TestSSDRebuildStopsAtRegionEnd(t *testing.T) {
	fs := memfs.New(memfs.Options{Alignment: 4096})
	s := fillSSD(t, fs, 4*defaultRegionSize, 20<<10) // two regions full
	data := randBytes(2, 20<<10)
	for i := 0; s.c.regionsWritten.Load() < 5; i++ { // reclaims region 0 and refills it
		k := ramKey{key: fmt.Sprintf("more/%08d", i), version: 1, sum: 2}
		s.waitIdle(t)
		s.offer(k, k.hash(), int64(len(data)), data)
	}
	s.flushAll(t)
	k := ramKey{key: "last", version: 1, sum: 2}
	s.offer(k, k.hash(), int64(len(data)), data) // a region with one item
	s.flushAll(t)
	s.mu.Lock()
	want := map[uint32]int32{}
	for r, m := range s.core.regions {
		if m.state == regionSealed {
			want[uint32(r)] = m.items
		}
	}
	lastLoc, _ := s.core.lookup(k.hash())
	s.mu.Unlock()
	if want[lastLoc.region] != 1 {
		t.Fatalf("region %d holds %d items, want the one just written", lastLoc.region, want[lastLoc.region])
	}
	r := crashAndReopen(t, fs, s)
	for reg, n := range want {
		if got := r.core.regions[reg].items; got != n {
			t.Errorf("region %d: %d items after rebuild, %d before the crash", reg, got, n)
		}
	}
}

// FuzzSSDRebuild puts arbitrary bytes after a valid header in a region of
// a crashed cache file and rebuilds: it must not fail or panic, and every
// item it indexes must decode where the index points, under its own hash.
func FuzzSSDRebuild(f *testing.F) {
	const regionSize = 64 << 10
	item := make([]byte, 200)
	n := encodeItem(item, "key", 1, 2, 0, []byte("payload"))
	f.Add(item[:n])
	f.Add(append(append([]byte{}, item[:n]...), make([]byte, 100)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		fs := memfs.New(memfs.Options{Alignment: 4096})
		if err := fs.MkdirAll("/ssd"); err != nil {
			t.Fatal(err)
		}
		file, err := fs.OpenFile("/ssd/cache", ioengine.FlagCreate)
		if err != nil {
			t.Fatal(err)
		}
		region := make([]byte, regionSize)
		encodeRegionHeader(region, 0, 1, regionSize)
		copy(region[ssdUnit(regionSize):], b)
		file.WriteAt(region, 0)
		file.WriteAt(make([]byte, regionSize), regionSize)
		file.Close()
		cfg := ssdConfig{
			fs: fs, path: "/ssd/cache", capacity: 2 * regionSize, regionSize: regionSize, buffers: 3,
			queueBytes: regionSize, maxInFlight: 2, fileMode: 0o600, logger: slog.New(slog.DiscardHandler),
			adm: newAdmissionPolicy(admissionConfig{sketchWidth: 1024}),
		}
		s, err := openSSDCache(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.core.index.each(func(fp uint32, v uint64) {
			loc := s.core.unpack(packedLoc(v & (1<<locHitsShift - 1)))
			it, err := decodeItem(region[loc.off : loc.off+loc.size])
			if err != nil || it.hash()&^(1<<24-1) != joinHash(fp, v) {
				t.Fatalf("indexed item at %+v does not decode under its hash: %v", loc, err)
			}
		})
	})
}
