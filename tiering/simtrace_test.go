package tiering

import (
	"errors"
	"io"
	"math"
	"os"
	"testing"

	"strata/internal/trace"
)

// sharedTrace is the real block trace with libCacheSim's reference figures
// (README.md beside it).
const sharedTrace = "/work/shared/traces/cloudPhysicsIO.oracleGeneral.bin"

const sharedTraceWorkingSet = 2_029_769_728

// loadSharedTrace returns the shared trace's requests, or skips the test.
func loadSharedTrace(t testing.TB) []simRequest {
	t.Helper()
	f, err := os.Open(sharedTrace)
	if err != nil {
		t.Skipf("shared trace not available, skipping the replay against libCacheSim: %v", err)
	}
	defer f.Close()
	r := trace.NewOracleReader(f)
	var reqs []simRequest
	for {
		q, err := r.Next()
		if errors.Is(err, io.EOF) {
			return reqs
		}
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, simRequest{id: q.ID, size: int64(q.Size), nextAccess: q.NextAccess})
	}
}

// TestSimLRUFIFOMatchLibCacheSim replays the shared trace through the LRU
// and FIFO baselines at the sizes of libCacheSim's own test
// (test/test_evictionAlgo.c) and wants its miss and byte-miss counts exactly.
func TestSimLRUFIFOMatchLibCacheSim(t *testing.T) {
	reqs := loadSharedTrace(t)
	want := []struct {
		lruMisses, lruByteMisses, fifoMisses, fifoByteMisses int64
	}{
		{93374, 4214303232, 93403, 4213112832},
		{89783, 4061242368, 89386, 4052646400},
		{83572, 3778040320, 84387, 3829170176},
		{81722, 3660569600, 84025, 3807412736},
		{72494, 3100927488, 72498, 3093146112},
		{72104, 3078128640, 72228, 3079525888},
		{71972, 3075403776, 72182, 3079210496},
		{71704, 3061662720, 72140, 3077547520},
	}
	for i, w := range want {
		size := int64(i+1) * 128 << 20
		lru, fifo := newWholeObjectBaseline(true, size), newWholeObjectBaseline(false, size)
		replay(lru, reqs)
		replay(fifo, reqs)
		if lru.res.requestMisses != w.lruMisses || lru.res.byteMisses != w.lruByteMisses {
			t.Errorf("LRU at %d MiB: %d misses, %d byte misses; libCacheSim: %d, %d",
				size>>20, lru.res.requestMisses, lru.res.byteMisses, w.lruMisses, w.lruByteMisses)
		}
		if fifo.res.requestMisses != w.fifoMisses || fifo.res.byteMisses != w.fifoByteMisses {
			t.Errorf("FIFO at %d MiB: %d misses, %d byte misses; libCacheSim: %d, %d",
				size>>20, fifo.res.requestMisses, fifo.res.byteMisses, w.fifoMisses, w.fifoByteMisses)
		}
	}
}

// TestSimBaselinesNearLibCacheSim replays the shared trace through every
// whole-object baseline at fractions of its working set and wants byte and
// object miss ratios within a small tolerance of libCacheSim's cachesim
// (README.md beside the trace), to the four digits it gives; Belady, which
// here is the stronger bound (simBelady), at most 0.001 below.
func TestSimBaselinesNearLibCacheSim(t *testing.T) {
	reqs := loadSharedTrace(t)
	const (
		tolerance       = 0.0001 // the reference has four digits
		beladyTolerance = 0.001
		// otter's W-TinyLFU against libCacheSim's: object miss ratios at the
		// smallest sizes are up to 0.006 above (the adaptive window), byte
		// miss ratios below.
		wtinylfuTolerance = 0.01
	)
	fractions := []float64{0.001, 0.01, 0.1, 0.3}
	// byte miss ratios, then object miss ratios, per fraction
	want := map[string][2][4]float64{
		"lru":    {{0.9837, 0.9800, 0.9518, 0.8311}, {0.8512, 0.8339, 0.8097, 0.7132}},
		"fifo":   {{0.9849, 0.9804, 0.9509, 0.8686}, {0.8621, 0.8368, 0.8075, 0.7360}},
		"s3fifo": {{0.9820, 0.9766, 0.8619, 0.7419}, {0.8367, 0.8229, 0.7356, 0.6648}},
		"sieve":  {{0.9820, 0.9776, 0.9296, 0.7852}, {0.8398, 0.8231, 0.7903, 0.6702}},
		// Ours is otter's (Caffeine's) W-TinyLFU with the adaptive window,
		// not libCacheSim's fixed 1% window: held to no worse than it.
		"wtinylfu": {{0.9842, 0.9762, 0.8930, 0.6989}, {0.8356, 0.8262, 0.7666, 0.6446}},
		"belady":   {{0.9759, 0.9393, 0.7320, 0.5645}, {0.8243, 0.8005, 0.6513, 0.5317}},
	}
	for _, policy := range []string{"lru", "fifo", "s3fifo", "sieve", "wtinylfu", "belady"} {
		for i, f := range fractions {
			size := int64(math.Floor(sharedTraceWorkingSet * f))
			p, err := newSimPolicy(policy, simPolicyConfig{cacheBytes: size})
			if err != nil {
				t.Fatal(err)
			}
			replay(p, reqs)
			res := p.result()
			w := want[policy]
			t.Logf("%-6s %5.1f%%: byte miss %.4f (libCacheSim %.4f, %+.4f), object miss %.4f (%.4f, %+.4f)",
				policy, 100*f, res.byteMissRatio(), w[0][i], res.byteMissRatio()-w[0][i],
				res.requestMissRatio(), w[1][i], res.requestMissRatio()-w[1][i])
			lo, hi := w[0][i]-tolerance, w[0][i]+tolerance
			loObj, hiObj := w[1][i]-tolerance, w[1][i]+tolerance
			switch policy {
			case PolicyBelady:
				lo, loObj = w[0][i]-beladyTolerance, w[1][i]-beladyTolerance
			case PolicyWTinyLFU:
				lo, loObj = 0, 0
				hi, hiObj = w[0][i]+wtinylfuTolerance, w[1][i]+wtinylfuTolerance
			}
			if b, o := res.byteMissRatio(), res.requestMissRatio(); b < lo || b > hi || o < loObj || o > hiObj {
				t.Errorf("%s at %.1f%%: byte miss %.4f, object miss %.4f; libCacheSim %.4f, %.4f (want within %.4f..%.4f, %.4f..%.4f)",
					policy, 100*f, res.byteMissRatio(), res.requestMissRatio(), w[0][i], w[1][i], lo, hi, loObj, hiObj)
			}
		}
	}
}

// TestSimStrataOnSharedTrace holds Strata's policy to the goal where the
// shared trace leaves room for it (30% of the working set, 1:10): a byte
// miss ratio at or below the best of LRU, S3-FIFO and W-TinyLFU at the same
// bytes and at most 0.9x LRU's, with SSD writes at most half of admitting
// every RAM eviction. (At 0.1%-10% it is within 0.2-1.6% of the best,
// docs/sim.md.) With a fixed window of four turnovers and reinsertion on
// any hit it was 0.6984 against W-TinyLFU's 0.6939.
func TestSimStrataOnSharedTrace(t *testing.T) {
	reqs := loadSharedTrace(t)
	total := int64(math.Floor(sharedTraceWorkingSet * 0.3))
	ram := total / 11
	res := map[string]simResult{}
	for _, p := range []string{PolicyStrata, PolicyStrataAdmitAll, PolicyLRU, PolicyS3FIFO, PolicyWTinyLFU} {
		pol, err := newSimPolicy(p, simPolicyConfig{cacheBytes: total, ramBytes: ram, ssdBytes: total - ram, seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		replay(pol, reqs)
		res[p] = pol.result()
	}
	ours := res[PolicyStrata].byteMissRatio()
	best := min(res[PolicyLRU].byteMissRatio(), res[PolicyS3FIFO].byteMissRatio(), res[PolicyWTinyLFU].byteMissRatio())
	writes := float64(res[PolicyStrata].ssdBytesWritten) / float64(res[PolicyStrataAdmitAll].ssdBytesWritten)
	t.Logf("30%% 1:10: byte miss %.4f, best baseline %.4f, LRU %.4f; SSD writes %.2fx admit-all", ours, best, res[PolicyLRU].byteMissRatio(), writes)
	if ours > best || ours > 0.9*res[PolicyLRU].byteMissRatio() {
		t.Errorf("byte miss %.4f, want at most the best baseline's %.4f and 0.9x LRU's %.4f", ours, best, res[PolicyLRU].byteMissRatio())
	}
	if writes > 0.5 {
		t.Errorf("SSD writes %.2fx admit-all's, want at most 0.5x", writes)
	}
}
