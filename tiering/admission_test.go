package tiering

import (
	"math"
	"testing"
)

// TestAdmissionWindowFollowsEvictionAge drives the admission policy with a
// steady SSD write rate once the SSD is full and wants the sketch's window
// to be the eviction age that rate implies (SSD bytes over bytes written
// per byte read), within its bounds; before the SSD evicts, the initial
// window stays.
func TestAdmissionWindowFollowsEvictionAge(t *testing.T) {
	const (
		ssd   = 64 << 20
		cache = 72 << 20 // with 8 MiB of RAM
		item  = 64 << 10
	)
	for _, tc := range []struct {
		name       string
		writeEvery int // one SSD write of item bytes per this many reads of item bytes; 0: none
		full       bool
		want       float64 // window in bytes
	}{
		{"not full yet: initial window", 4, false, sketchWindowTurnovers * cache},
		{"one write per 4 reads: 4x the SSD", 4, true, 4 * ssd},
		{"one write per 16 reads: 16x the SSD", 16, true, 16 * ssd},
		{"admits everything: at least one turnover", 1, true, cache},
		{"admits nothing: at most 32 turnovers", 0, true, maxWindowTurnovers * cache},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAdmissionPolicy(admissionConfig{sketchWidth: 1024, sketchWindow: sketchWindowTurnovers * cache, ssdBytes: ssd, cacheBytes: cache})
			if tc.full {
				a.keepOnReclaim(1, false) // the SSD evicted: it is full
			}
			for i := range 40 * cache / item { // 40 turnovers: the moving average settles
				h := uint64(i%7 + 100)
				a.recordAccess(h, item)
				if tc.writeEvery > 0 && i%tc.writeEvery == 0 {
					a.recordAccess(h, 0) // read twice: admitted
					a.decide(h, item, item)
				}
			}
			if got := float64(a.sketch.window); math.Abs(got-tc.want) > 0.05*tc.want {
				t.Fatalf("window %.1f MiB, want %.1f MiB", got/(1<<20), tc.want/(1<<20))
			}
		})
	}
}

// TestReinsertionWantsHitAndFrequency: an item in a region being reclaimed
// is rewritten only if it was read while on flash and its object is still
// read as often as admission asks; the admit-all baseline keeps every item
// that was hit.
func TestReinsertionWantsHitAndFrequency(t *testing.T) {
	a := newAdmissionPolicy(admissionConfig{sketchWidth: 1024})
	a.recordAccess(7, 1)
	a.recordAccess(7, 1)
	a.recordAccess(8, 1)
	for _, tc := range []struct {
		obj  uint64
		hit  bool
		want bool
	}{
		{7, true, true},   // hit, read twice in the window
		{8, true, false},  // hit, but read once in the window
		{7, false, false}, // frequent, but never hit on flash
	} {
		if got := a.keepOnReclaim(tc.obj, tc.hit); got != tc.want {
			t.Errorf("object %d hit %v: keep %v, want %v", tc.obj, tc.hit, got, tc.want)
		}
	}
	all := newAdmissionPolicy(admissionConfig{sketchWidth: 1024, admitAll: true})
	if !all.keepOnReclaim(8, true) {
		t.Error("admit-all: a hit item is not kept")
	}
}
