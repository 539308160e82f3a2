package tiering

import "testing"

// TestSimStrataDeterministic replays one trace twice through Strata's
// policy as `strata sim` builds it, at each seed, and wants identical counts.
// With otter's RAM cache (hasher seeded at random per cache) the runs differ.
func TestSimStrataDeterministic(t *testing.T) {
	trace := simTraceConfig{keys: 4000, requests: 40000, alpha: 0.9, churn: 0.01, minSize: 1 << 10, maxSize: 256 << 10, seed: 5}
	reqs, footprint, err := makeTrace(trace)
	if err != nil {
		t.Fatal(err)
	}
	total := footprint / 10
	for _, seed := range []uint64{1, 2} {
		var runs []simResult
		for range 3 {
			p, err := newSimPolicy(PolicyStrata, simPolicyConfig{cacheBytes: total, ramBytes: total / 11, ssdBytes: total - total/11, seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			replay(p, reqs)
			runs = append(runs, p.result())
		}
		for i, r := range runs[1:] {
			if r != runs[0] {
				t.Errorf("seed %d: run %d %+v differs from run 0 %+v", seed, i+1, r, runs[0])
			}
		}
	}
}

// TestSimRAMModelMatchesOtter replays synthetic traces through a RAM-only
// cache twice: with otter (several runs, which differ) and with simRAM, the
// deterministic model `strata sim` uses, and wants the model's miss ratios
// within a point of otter's range.
func TestSimRAMModelMatchesOtter(t *testing.T) {
	// otter's own runs of one trace spread by up to 3 points at a small
	// RAM share (its hasher is seeded at random), so the model is held to
	// the range of several runs, widened by 2 points: what it must not do
	// is behave like another policy.
	const tolerance, otterRuns = 0.02, 5
	for _, alpha := range []float64{0.7, 1.0} {
		trace := simTraceConfig{keys: 5000, requests: 50000, alpha: alpha, churn: 0.01, minSize: 1 << 10, maxSize: 128 << 10, seed: 9}
		reqs, footprint, err := makeTrace(trace)
		if err != nil {
			t.Fatal(err)
		}
		for _, pct := range []int64{2, 10, 30} {
			cfg := simTieredConfig{ramBytes: footprint * pct / 100, segSize: 1 << 20, regionSize: 16 << 20}
			lo, hi := 1.0, 0.0
			for range otterRuns {
				otter := newSimTiered(cfg)
				replay(otter, reqs)
				lo, hi = min(lo, otter.res.byteMissRatio()), max(hi, otter.res.byteMissRatio())
			}
			cfg.deterministicRAM = true
			model := newSimTiered(cfg)
			replay(model, reqs)
			got := model.res.byteMissRatio()
			t.Logf("alpha %.1f RAM %d%%: otter byte miss %.4f..%.4f, model %.4f", alpha, pct, lo, hi, got)
			if got < lo-tolerance || got > hi+tolerance {
				t.Errorf("alpha %.1f RAM %d%%: model byte miss %.4f, otter %.4f..%.4f (tolerance %.2f)", alpha, pct, got, lo, hi, tolerance)
			}
		}
	}
}
