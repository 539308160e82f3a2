package tiering

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"strata/blockstore"
	"strata/internal/zipf"
	"strata/ioengine"
)

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
}

func fmtHist(h *hdrhistogram.Histogram) string {
	if h.TotalCount() == 0 {
		return "n=0"
	}
	return fmt.Sprintf("n=%-7d p50 %6dµs  p99 %6dµs  p99.9 %6dµs  max %6dµs", h.TotalCount(),
		h.ValueAtQuantile(50), h.ValueAtQuantile(99), h.ValueAtQuantile(99.9), h.Max())
}

// TestRealIO measures GET latency per tier and hit rates on a Zipf 0.9
// workload over a data set several times larger than RAM+SSD cache, with
// the real blockstore, and compares SSD-hit latency with raw O_DIRECT reads
// of the same sizes on the same device. Run with
//
//	STRATA_BENCH=1 go test -run TestRealIO -v -timeout 30m ./tiering/
//
// STRATA_BENCH_HDD and STRATA_BENCH_SSD choose the directories (default: a
// temp dir), e.g. those of scripts/tier-emulate.sh; STRATA_BENCH_DATA_MB,
// _RAM_MB, _SSD_MB, _GETS and _READERS size the run.
func TestRealIO(t *testing.T) {
	if os.Getenv("STRATA_BENCH") == "" {
		t.Skip("set STRATA_BENCH=1 to run the real I/O benchmark")
	}
	hddDir, ssdDir := os.Getenv("STRATA_BENCH_HDD"), os.Getenv("STRATA_BENCH_SSD")
	if hddDir == "" {
		hddDir = filepath.Join(t.TempDir(), "hdd")
	} else {
		hddDir = filepath.Join(hddDir, fmt.Sprintf("tiering-bench-%d", os.Getpid()))
		defer os.RemoveAll(hddDir)
	}
	if ssdDir == "" {
		ssdDir = filepath.Join(t.TempDir(), "ssd")
	} else {
		ssdDir = filepath.Join(ssdDir, fmt.Sprintf("tiering-bench-%d", os.Getpid()))
		defer os.RemoveAll(ssdDir)
	}
	dataBytes := envInt("STRATA_BENCH_DATA_MB", 1024) << 20
	ramBytes := envInt("STRATA_BENCH_RAM_MB", 32) << 20
	ssdBytes := envInt("STRATA_BENCH_SSD_MB", 192) << 20
	gets := int(envInt("STRATA_BENCH_GETS", 100_000))
	readers := int(envInt("STRATA_BENCH_READERS", 4))
	ctx := context.Background()

	bs, err := blockstore.Open(ctx, blockstore.Options{
		DataDirs:   []string{hddDir},
		IndexDir:   filepath.Join(ssdDir, "index"),
		VolumeSize: 1 << 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Options{
		Backend:       bs,
		RAMCacheBytes: ramBytes,
		SSDCacheBytes: ssdBytes,
		SSDPath:       filepath.Join(ssdDir, "cache"),
	})
	if err != nil {
		bs.Close()
		t.Fatal(err)
	}
	defer s.Close()

	// Data set: sizes log-uniform 4 KiB..256 KiB until dataBytes.
	var sizes []int
	var total int64
	r := rand.New(rand.NewPCG(1, 2))
	for total < dataBytes {
		n := int(math.Exp(math.Log(4<<10) + r.Float64()*(math.Log(256<<10)-math.Log(4<<10))))
		sizes = append(sizes, n)
		total += int64(n)
	}
	key := func(i int) string { return fmt.Sprintf("bench/%08d", i) }
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d := randBytes(uint64(i), sizes[i])
				if _, err := bs.Put(ctx, key(i), bytes.NewReader(d), int64(len(d)), blockstore.PutOptions{}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for i := range sizes {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Logf("loaded %d objects, %d MiB in %v (straight into the backend; caches cold)", len(sizes), total>>20, time.Since(start).Round(time.Millisecond))

	// Zipf 0.9 over the objects, ranks scattered over keys.
	z, err := zipf.New(uint64(len(sizes)), 0.9)
	if err != nil {
		t.Fatal(err)
	}
	perm := r.Perm(len(sizes))
	type workerHists struct {
		tier     map[string]*hdrhistogram.Histogram
		ssdSizes []int
	}
	run := func(n int, record bool) []workerHists {
		out := make([]workerHists, readers)
		var wg sync.WaitGroup
		for w := range readers {
			out[w] = workerHists{tier: map[string]*hdrhistogram.Histogram{"ram": newHist(), "ssd": newHist(), "hdd": newHist()}}
			wg.Add(1)
			go func() {
				defer wg.Done()
				rr := rand.New(rand.NewPCG(uint64(w), uint64(n)))
				buf := make([]byte, 256<<10)
				for range n / readers {
					i := perm[z.Next(rr)]
					t0 := time.Now()
					o, err := s.Open(ctx, key(i))
					if err != nil {
						t.Error(err)
						return
					}
					m, err := io.ReadFull(o, buf[:sizes[i]])
					tier := o.Tier()
					o.Close()
					el := time.Since(t0)
					if err != nil || m != sizes[i] {
						t.Errorf("get %s: %v", key(i), err)
						return
					}
					if record {
						out[w].tier[tier].RecordValue(el.Microseconds())
						if tier == "ssd" && len(out[w].ssdSizes) < 50_000 {
							out[w].ssdSizes = append(out[w].ssdSizes, sizes[i])
						}
					}
				}
			}()
		}
		wg.Wait()
		return out
	}
	start = time.Now()
	run(gets, false) // warm-up: fill the caches
	t.Logf("warm-up: %d GETs in %v", gets, time.Since(start).Round(time.Millisecond))
	// While the measured phase runs, one more goroutine issues raw O_DIRECT
	// reads on the cache file (sizes of Zipf-drawn objects plus the item
	// header, random aligned offsets): the device's own latency under the
	// same load, to compare SSD hits with.
	f, err := ioengine.OSFS().OpenFile(filepath.Join(ssdDir, "cache"), ioengine.FlagReadOnly|ioengine.FlagDirect)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	align := f.Alignment()
	rawRead := func(rr *rand.Rand, buf []byte, size int) (time.Duration, error) {
		n := ioengine.AlignUp(int64(size+itemHeaderSize+20), align)
		off := ioengine.AlignDown(rr.Int64N(ssdBytes-n), align)
		t0 := time.Now()
		_, err := f.ReadAt(buf[:n], off)
		return time.Since(t0), err
	}
	rawLoaded := newHist()
	stopRaw := make(chan struct{})
	rawDone := make(chan struct{})
	go func() {
		defer close(rawDone)
		rr := rand.New(rand.NewPCG(99, 98))
		buf := ioengine.AlignedBytes(512<<10, align)
		for {
			select {
			case <-stopRaw:
				return
			default:
			}
			d, err := rawRead(rr, buf, sizes[perm[z.Next(rr)]])
			if err != nil {
				t.Error(err)
				return
			}
			rawLoaded.RecordValue(d.Microseconds())
		}
	}()
	before := s.Stats()
	start = time.Now()
	res := run(gets, true)
	elapsed := time.Since(start)
	after := s.Stats()
	close(stopRaw)
	<-rawDone

	merged := map[string]*hdrhistogram.Histogram{"ram": newHist(), "ssd": newHist(), "hdd": newHist()}
	var ssdSizes []int
	for _, w := range res {
		for k, h := range w.tier {
			merged[k].Merge(h)
		}
		ssdSizes = append(ssdSizes, w.ssdSizes...)
	}
	served := float64(merged["ram"].TotalCount() + merged["ssd"].TotalCount() + merged["hdd"].TotalCount())
	t.Logf("measured: %d GETs by %d readers in %v (%.0f GET/s); data %d MiB = %.1fx (RAM %d MiB + SSD %d MiB)",
		gets, readers, elapsed.Round(time.Millisecond), float64(gets)/elapsed.Seconds(), total>>20,
		float64(total)/float64(ramBytes+ssdBytes), ramBytes>>20, ssdBytes>>20)
	for _, tier := range []string{"ram", "ssd", "hdd"} {
		h := merged[tier]
		t.Logf("GET served by %-3s %5.1f%%  %s", tier, 100*float64(h.TotalCount())/served, fmtHist(h))
	}
	d := after.SSDCache
	t.Logf("ssd cache: %d items, index %.1f bytes/item, written %d MiB in the measured phase, admissions %d, rejected cold %d, reinsertions %d, direct=%v",
		d.IndexItems, d.IndexBytesPerItem, (d.BytesWritten-before.SSDCache.BytesWritten)>>20,
		after.SSD.Admissions-before.SSD.Admissions, d.RejectedCold-before.SSDCache.RejectedCold,
		d.Reinsertions-before.SSDCache.Reinsertions, s.ssd.file.Direct())

	// Raw O_DIRECT reads of the SSD hits' sizes at random aligned offsets
	// of the cache file, same concurrency, same device, idle otherwise.
	if len(ssdSizes) == 0 {
		t.Logf("no SSD hits: no raw comparison")
		return
	}
	raw := make([]*hdrhistogram.Histogram, readers)
	var rwg sync.WaitGroup
	for w := range readers {
		raw[w] = newHist()
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			rr := rand.New(rand.NewPCG(uint64(w)+100, 7))
			buf := ioengine.AlignedBytes(512<<10, align)
			for j := w; j < len(ssdSizes); j += readers {
				d, err := rawRead(rr, buf, ssdSizes[j])
				if err != nil {
					t.Error(err)
					return
				}
				raw[w].RecordValue(d.Microseconds())
			}
		}()
	}
	rwg.Wait()
	rawAll := newHist()
	for _, h := range raw {
		rawAll.Merge(h)
	}
	t.Logf("raw O_DIRECT pread, same load:   %s", fmtHist(rawLoaded))
	t.Logf("raw O_DIRECT pread, idle device: %s (direct=%v)", fmtHist(rawAll), f.Direct())
	ratio := func(a, b *hdrhistogram.Histogram, q float64) float64 {
		return float64(a.ValueAtQuantile(q)) / float64(max(b.ValueAtQuantile(q), 1))
	}
	t.Logf("SSD-hit GET / raw read under the same load: p50 %.2fx, p99 %.2fx; / idle raw read: p50 %.2fx, p99 %.2fx",
		ratio(merged["ssd"], rawLoaded, 50), ratio(merged["ssd"], rawLoaded, 99),
		ratio(merged["ssd"], rawAll, 50), ratio(merged["ssd"], rawAll, 99))
}
