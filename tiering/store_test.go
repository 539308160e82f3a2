package tiering

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"strata/blockstore"
	"strata/internal/poll"
	"strata/ioengine/memfs"
)

func TestReadPathTiers(t *testing.T) {
	fb := newFakeBackend(64 << 10)
	o := smallOpts(t, fb)
	e := openEnv(t, o)

	small := randBytes(1, 8<<10)
	e.put("small", small)
	if tier := e.mustGet("small", small); tier != "ram" {
		t.Errorf("small blob just written: tier %q, want ram (write-through)", tier)
	}

	big := randBytes(2, 40<<10) // 3 segments, not written through
	e.put("big", big)
	if tier := e.mustGet("big", big); tier != "hdd" {
		t.Errorf("first read: tier %q, want hdd", tier)
	}
	if tier := e.mustGet("big", big); tier != "ram" {
		t.Errorf("second read: tier %q, want ram", tier)
	}

	// Drop it from RAM: the next read must come from the SSD once admitted
	// (it was read twice), without touching the backend.
	info, _ := e.s.Stat(context.Background(), "big")
	for seg := range 3 {
		k := ramKey{key: "big", version: info.Version, sum: info.Checksum, seg: uint32(seg)}
		v, _ := e.s.ram.get(k)
		e.s.onRAMEvict(k, v)
		e.s.ram.invalidate(k)
	}
	e.s.ssd.waitIdle(t)
	reads := fb.reads.Load()
	if tier := e.mustGet("big", big); tier != "ssd" {
		t.Errorf("after RAM eviction: tier %q, want ssd", tier)
	}
	if fb.reads.Load() != reads {
		t.Errorf("SSD hit read the backend")
	}
	// Promoted items are clean on the SSD: evicting them again writes nothing.
	st := e.s.Stats()
	k := ramKey{key: "big", version: info.Version, sum: info.Checksum, seg: 0}
	v, ok := e.s.ram.get(k)
	if !ok || !v.fromSSD {
		t.Fatalf("SSD hit not promoted to RAM as clean: ok=%v fromSSD=%v", ok, v.fromSSD)
	}
	e.s.onRAMEvict(k, v)
	e.s.ssd.waitIdle(t)
	st2 := e.s.Stats()
	if st2.SSD.Admissions != st.SSD.Admissions || st2.SSDCache.SkippedPresent != st.SSDCache.SkippedPresent+1 {
		t.Errorf("evicting a promoted item: admissions %d -> %d, skipped %d -> %d",
			st.SSD.Admissions, st2.SSD.Admissions, st.SSDCache.SkippedPresent, st2.SSDCache.SkippedPresent)
	}
	if st2.RAM.Hits == 0 || st2.SSD.Hits == 0 || st2.HDD.Hits == 0 {
		t.Errorf("tier hits: ram %d ssd %d hdd %d", st2.RAM.Hits, st2.SSD.Hits, st2.HDD.Hits)
	}
}

func TestRangeReadsTouchOnlyTheirChunks(t *testing.T) {
	fb := newFakeBackend(64 << 10)
	o := smallOpts(t, fb)
	e := openEnv(t, o)
	data := randBytes(3, 1<<20) // 16 chunks of 64 KiB, segments of 16 KiB
	e.put("big", data)
	obj, err := e.s.Open(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	for _, tc := range []struct {
		off, n    int64
		wantReads int64 // cumulative
	}{
		{7<<16 + 100, 100, 1},
		{7<<16 + 100, 100, 1},    // same segment: no new read
		{(64 << 10) - 10, 20, 3}, // spans chunks 0 and 1
		{(1 << 20) - 5, 5, 4},    // last bytes
		{7<<16 + 40000, 10, 4},   // same chunk as the first read: RAM
	} {
		p := make([]byte, tc.n)
		if _, err := obj.ReadAt(p, tc.off); err != nil {
			t.Fatalf("ReadAt(%d, %d): %v", tc.off, tc.n, err)
		}
		if !bytes.Equal(p, data[tc.off:tc.off+tc.n]) {
			t.Fatalf("ReadAt(%d, %d): wrong bytes", tc.off, tc.n)
		}
		e.s.waitFilled(t)
		if got := fb.reads.Load(); got != tc.wantReads {
			t.Fatalf("after ReadAt(%d, %d): %d backend reads, want %d", tc.off, tc.n, got, tc.wantReads)
		}
	}
	if _, err := obj.ReadAt(make([]byte, 10), int64(len(data))-4); err != io.EOF {
		t.Fatalf("read past end: %v, want io.EOF", err)
	}
	if pos, err := obj.Seek(-100, io.SeekEnd); err != nil || pos != int64(len(data))-100 {
		t.Fatalf("Seek: %d %v", pos, err)
	}
	rest, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(rest, data[len(data)-100:]) {
		t.Fatalf("read after seek: %v", err)
	}
}

func TestOverwriteAndDeleteNeverServeStale(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ram, ssd int64
	}{
		{"ram", 256 << 10, 0},
		{"ssd", 0, 4 << 20},
		{"both", 256 << 10, 4 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb := newFakeBackend(64 << 10)
			o := smallOpts(t, fb)
			o.RAMCacheBytes, o.SSDCacheBytes = tc.ram, tc.ssd
			e := openEnv(t, o)
			for _, size := range []int{5 << 10, 40 << 10} {
				key := fmt.Sprintf("k%d", size)
				v1, v2 := randBytes(10, size), randBytes(11, size)
				e.put(key, v1)
				for range 3 {
					e.mustGet(key, v1)
					if e.s.ssd != nil {
						e.s.ssd.waitIdle(t)
					}
				}
				e.put(key, v2)
				e.mustGet(key, v2)
				if err := e.s.Delete(context.Background(), key, blockstore.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
				if _, _, err := e.get(key); !errors.Is(err, blockstore.ErrNotFound) {
					t.Fatalf("get after delete: %v, want ErrNotFound", err)
				}
			}
			if e.s.ssd != nil && e.s.ram == nil {
				e.s.ssd.waitIdle(t)
				if st := e.s.Stats(); st.SSD.Admissions == 0 || st.SSD.Items != 0 {
					t.Fatalf("ssd: %d admissions, %d items left after deletes (want >0, 0)", st.SSD.Admissions, st.SSD.Items)
				}
			}
		})
	}
}

// admitToSSD reads each key until the SSD cache holds it (RAM off), then
// writes every region to flash.
func admitToSSD(t *testing.T, e *testEnv, keys []string, want map[string][]byte) {
	t.Helper()
	for _, k := range keys {
		for i := 0; ; i++ {
			if tier := e.mustGet(k, want[k]); tier == "ssd" {
				break
			}
			e.s.ssd.waitIdle(t)
			if i > 5 {
				t.Fatalf("%q never admitted to the SSD: %+v %+v", k, e.s.Stats().SSD, e.s.Stats().SSDCache)
			}
		}
	}
	e.s.ssd.flushAll(t)
}

func TestSSDDamagedUnderRunningStore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			junk := randBytes(99, 4<<20)
			if _, err := f.WriteAt(junk, 0); err != nil {
				t.Fatal(err)
			}
			f.Sync()
		}},
		{"one flipped byte per item", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for off := int64(100); off < 4<<20; off += 512 {
				b := []byte{0}
				f.ReadAt(b, off)
				b[0] ^= 0x40
				f.WriteAt(b, off)
			}
			f.Sync()
		}},
		{"truncated", func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb := newFakeBackend(64 << 10)
			o := smallOpts(t, fb)
			o.RAMCacheBytes = 0
			e := openEnv(t, o)
			want := map[string][]byte{}
			var keys []string
			for i := range 6 {
				k := fmt.Sprintf("blob%d", i)
				want[k] = randBytes(uint64(20+i), 3<<10+i*9000)
				e.put(k, want[k])
				keys = append(keys, k)
			}
			admitToSSD(t, e, keys, want)
			tc.damage(t, o.SSDPath)
			for _, k := range keys {
				if tier := e.mustGet(k, want[k]); tier != "hdd" {
					t.Errorf("%s after damage: tier %q, want hdd", k, tier)
				}
			}
			st := e.s.Stats().SSDCache
			if st.ChecksumMismatches+st.ReadErrors == 0 {
				t.Errorf("no mismatch or read error counted: %+v", st)
			}
		})
	}
}

// content is self-describing so a concurrent reader can check any version.
func content(key string, gen int) []byte {
	head := fmt.Sprintf("%s|%d|", key, gen)
	return append([]byte(head), randBytes(uint64(len(key)*1000+gen), 1000+gen*997%30000)...)
}

func checkContent(b []byte) error {
	parts := bytes.SplitN(b, []byte("|"), 3)
	if len(parts) != 3 {
		return errors.New("no header")
	}
	var gen int
	fmt.Sscanf(string(parts[1]), "%d", &gen)
	if !bytes.Equal(b, content(string(parts[0]), gen)) {
		return fmt.Errorf("content of %s gen %d differs", parts[0], gen)
	}
	return nil
}

func TestConcurrentGetPutDelete(t *testing.T) {
	fb := newFakeBackend(16 << 10)
	o := smallOpts(t, fb)
	o.RAMCacheBytes = 128 << 10
	o.SSDCacheBytes = 2 << 20
	e := openEnv(t, o)
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range 150 {
				key := fmt.Sprintf("k%d", (w*7+i*3)%12)
				switch i % 5 {
				case 0:
					d := content(key, w*1000+i)
					if _, err := e.s.Put(ctx, key, bytes.NewReader(d), int64(len(d)), blockstore.PutOptions{}); err != nil {
						errc <- err
						return
					}
				case 1:
					if err := e.s.Delete(ctx, key, blockstore.DeleteOptions{}); err != nil && !errors.Is(err, blockstore.ErrNotFound) {
						errc <- err
						return
					}
				default:
					b, _, err := e.get(key)
					if errors.Is(err, blockstore.ErrNotFound) {
						continue
					}
					if err != nil {
						errc <- err
						return
					}
					if err := checkContent(b); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	st := e.s.Stats()
	t.Logf("ram hits %d, ssd hits %d, hdd reads %d, ssd admissions %d", st.RAM.Hits, st.SSD.Hits, st.HDD.Hits, st.SSD.Admissions)
}

func TestCoalescedMisses(t *testing.T) {
	fb := newFakeBackend(64 << 10)
	o := smallOpts(t, fb)
	e := openEnv(t, o)
	data := randBytes(5, 40<<10)
	info := e.put("hot", data)
	gate := make(chan struct{})
	fb.mu.Lock()
	fb.readGate = gate
	fb.mu.Unlock()

	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, _, err := e.get("hot")
			if err == nil && !bytes.Equal(got, data) {
				err = errors.New("wrong bytes")
			}
			errs[i] = err
		}()
	}
	fk := flightKey{key: "hot", version: info.Version, chunk: 0}
	poll.Until(t, fmt.Sprintf("%d readers waiting on one backend read", n-1), func() bool { return e.s.flights.waiting(fk) >= n-1 })
	close(gate)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := fb.reads.Load(); got != 1 {
		t.Fatalf("%d concurrent misses made %d backend reads, want 1", n, got)
	}
	if got := e.s.Stats().Coalesced; got != n-1 {
		t.Fatalf("coalesced %d, want %d", got, n-1)
	}
}

func TestWarmRestartAfterCleanShutdown(t *testing.T) {
	fb := newFakeBackend(64 << 10)
	o := smallOpts(t, fb)
	o.RAMCacheBytes = 0
	e := openEnv(t, o)
	want := map[string][]byte{}
	var keys []string
	for i := range 20 {
		k := fmt.Sprintf("w%d", i)
		want[k] = randBytes(uint64(i), 2<<10+i*3000)
		e.put(k, want[k])
		keys = append(keys, k)
	}
	admitToSSD(t, e, keys, want)
	items := e.s.Stats().SSD.Items
	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	e2 := openEnv(t, o)
	st := e2.s.Stats()
	if st.SSD.Items != items || len(st.SSDCache.Start) < 4 || st.SSDCache.Start[:4] != "warm" {
		t.Fatalf("after clean shutdown: start %q, %d items (had %d)", st.SSDCache.Start, st.SSD.Items, items)
	}
	reads := fb.reads.Load()
	for _, k := range keys {
		if tier := e2.mustGet(k, want[k]); tier != "ssd" {
			t.Errorf("%s after warm restart: tier %q, want ssd", k, tier)
		}
	}
	if fb.reads.Load() != reads {
		t.Errorf("warm reads touched the backend")
	}
	if _, err := os.Stat(o.SSDPath + ".index"); !os.IsNotExist(err) {
		t.Errorf("index file still present after load: %v", err)
	}
}

// TestWarmRebuildAfterCrash crashes (memfs crash clone: only synced bytes
// survive) with and without a previous warm restart: the saved index is
// never trusted after a crash, the cache is rebuilt from its regions
// instead, items are served from the SSD again, and an item damaged on
// flash is never served (it is read from the HDD tier).
func TestWarmRebuildAfterCrash(t *testing.T) {
	fs := memfs.New(memfs.Options{Alignment: 4096})
	fb := newFakeBackend(64 << 10)
	o := smallOpts(t, fb)
	o.RAMCacheBytes = 0
	o.FS = fs
	o.SSDPath = "/ssd/cache"
	want := map[string][]byte{}
	infos := map[string]blockstore.Info{}
	var keys []string
	e := openEnv(t, o)
	for i := range 10 {
		k := fmt.Sprintf("c%d", i)
		want[k] = randBytes(uint64(i), 3<<10+i*2000)
		infos[k] = e.put(k, want[k])
		keys = append(keys, k)
	}
	admitToSSD(t, e, keys, want)
	// Damage the first segment of one blob on flash: the scan of its region
	// stops there, so it and the items after it in that region are lost.
	segs := func(k string) []ramKey {
		var ks []ramKey
		for seg := 0; seg*int(o.RAMMaxItemBytes) < len(want[k]); seg++ {
			ks = append(ks, ramKey{key: k, version: infos[k].Version, sum: infos[k].Checksum, seg: uint32(seg)})
		}
		return ks
	}
	bad := keys[len(keys)/2]
	e.s.ssd.mu.Lock()
	badLoc, ok := e.s.ssd.core.lookup(segs(bad)[0].hash())
	items := e.s.ssd.core.liveItems
	lost := map[string]bool{}
	var lostItems int64
	for _, k := range keys {
		for _, rk := range segs(k) {
			if l, ok := e.s.ssd.core.lookup(rk.hash()); ok && l.region == badLoc.region && l.off >= badLoc.off {
				lost[k] = true
				lostItems++
			}
		}
	}
	e.s.ssd.mu.Unlock()
	if !ok {
		t.Fatalf("%s not on the SSD", bad)
	}
	crashed := fs.CrashClone()
	e.s.Close()
	f, err := crashed.OpenFile("/ssd/cache", 0)
	if err != nil {
		t.Fatal(err)
	}
	pos := int64(badLoc.region)*o.RegionSize + badLoc.off + itemHeaderSize + int64(len(bad)) + 100
	b := make([]byte, 1)
	f.ReadAt(b, pos)
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// Crash without clean shutdown: rebuilt from the regions.
	o2 := o
	o2.FS = crashed
	e2 := openEnv(t, o2)
	if st := e2.s.Stats(); !strings.HasPrefix(st.SSDCache.Start, "warm: rebuilt") || st.SSD.Items != items-lostItems {
		t.Fatalf("after crash: start %q with %d items, want rebuilt with %d of %d", st.SSDCache.Start, st.SSD.Items, items-lostItems, items)
	}
	for _, k := range keys {
		tier := e2.mustGet(k, want[k]) // right bytes, whatever the tier
		if wantTier := map[bool]string{true: "hdd", false: "ssd"}[lost[k]]; tier != wantTier {
			t.Errorf("%s after crash: tier %q, want %s", k, tier, wantTier)
		}
	}
	e2.s.Close()

	// The clean shutdown above saved an index on fs: warm from it once...
	e3 := openEnv(t, o)
	if st := e3.s.Stats(); !strings.HasPrefix(st.SSDCache.Start, "warm: ") || strings.Contains(st.SSDCache.Start, "rebuilt") {
		t.Fatalf("after clean shutdown: start %q, want warm from the index", st.SSDCache.Start)
	}
	// ...but a crash after that warm start does not reuse the index: it
	// rebuilds from the regions again.
	crashed2 := fs.CrashClone()
	e3.s.Close()
	o4 := o
	o4.FS = crashed2
	e4 := openEnv(t, o4)
	if st := e4.s.Stats(); !strings.HasPrefix(st.SSDCache.Start, "warm: rebuilt") {
		t.Fatalf("crash after warm start: start %q, want rebuilt", st.SSDCache.Start)
	}
	for _, k := range keys {
		if tier := e4.mustGet(k, want[k]); tier != "ssd" && !lost[k] {
			t.Errorf("%s after the second crash: tier %q", k, tier)
		}
	}
	crashed3 := crashed2.CrashClone() // no index: the warm start removed it
	e4.s.Close()

	// With the rebuild turned off (or given no time), a crash starts cold.
	for _, d := range []time.Duration{-1, time.Nanosecond} {
		o5 := o
		o5.FS = crashed3.CrashClone()
		o5.SSDRebuildTime = d
		e5 := openEnv(t, o5)
		if st := e5.s.Stats(); !strings.HasPrefix(st.SSDCache.Start, "cold") || st.SSD.Items != 0 {
			t.Errorf("rebuild time %v: start %q with %d items, want cold", d, st.SSDCache.Start, st.SSD.Items)
		}
		e5.s.Close()
	}
}

func TestWriteBudgetRespected(t *testing.T) {
	for _, tc := range []struct {
		name          string
		perSec, perDy int64
	}{
		{"per second", 100 << 10, 0},
		{"per day", 0, 24 * (100 << 10)}, // one hour of budget = 100 KiB
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb := newFakeBackend(64 << 10)
			o := smallOpts(t, fb)
			o.RAMCacheBytes = 0
			o.SSDWriteBytesPerSec, o.SSDWriteBytesPerDay = tc.perSec, tc.perDy
			clock := time.Unix(1_000_000, 0)
			o.Now = func() time.Time { return clock } // frozen: no refill
			e := openEnv(t, o)
			for i := range 60 {
				k := fmt.Sprintf("b%d", i)
				d := randBytes(uint64(i), 8<<10)
				e.put(k, d)
				e.mustGet(k, d)
				e.mustGet(k, d)
			}
			e.s.ssd.waitIdle(t)
			st := e.s.Stats()
			if err := e.s.Close(); err != nil {
				t.Fatal(err)
			}
			written := e.s.ssd.c.bytesWritten.Load()
			limit := max(tc.perSec, e.s.adm.budget.perSec.burstOr(0), tc.perDy/24)
			// Padding to the 4 KiB alignment is charged too, after the fact.
			slack := int64(e.s.ssd.c.regionsWritten.Load()) * 4096
			t.Logf("written %d bytes, budget %d (+%d alignment), rejected %d", written, limit, slack, st.SSDCache.RejectedBudget)
			if int64(written) > limit+slack {
				t.Fatalf("wrote %d bytes, budget %d", written, limit)
			}
			if st.SSDCache.RejectedBudget == 0 || st.SSD.Admissions == 0 {
				t.Fatalf("admissions %d, budget rejections %d", st.SSD.Admissions, st.SSDCache.RejectedBudget)
			}
		})
	}
}

func TestSSDOffWhenUnusable(t *testing.T) {
	fb := newFakeBackend(64 << 10)
	o := smallOpts(t, fb)
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o.SSDPath = filepath.Join(blocker, "ssd", "cache") // a path under a regular file
	e := openEnv(t, o)
	d := randBytes(1, 30<<10)
	e.put("x", d)
	e.mustGet("x", d)
	if e.s.Stats().SSD.Enabled {
		t.Fatal("SSD tier enabled on an unusable path")
	}
}

func TestReadChunkThroughTiers(t *testing.T) {
	fb := newFakeBackend(64 << 10)
	e := openEnv(t, smallOpts(t, fb))
	data := randBytes(8, 200<<10) // chunks of 64 KiB, segments of 16 KiB
	info := e.put("c", data)
	for _, wantTier := range []Tier{TierHDD, TierRAM} {
		for idx := range info.NumChunks() {
			got, tier, err := e.s.ReadChunk(context.Background(), info, idx)
			off, n := info.ChunkBounds(idx)
			if err != nil || !bytes.Equal(got, data[off:off+n]) {
				t.Fatalf("chunk %d: %v", idx, err)
			}
			if tier != wantTier {
				t.Errorf("chunk %d: tier %q, want %q", idx, tier, wantTier)
			}
		}
		e.s.waitFilled(t)
	}
	if _, _, err := e.s.ReadChunk(context.Background(), info, 99); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("bad chunk index: %v", err)
	}
}
