package tiering

import (
	"testing"
	"time"
)

// TestFreqSketchGrows: a window that brings more distinct objects than
// width/sketchGrowLoad doubles the rows at the next halving, up to
// maxWidth, and growing keeps every estimate (then halves it as usual).
func TestFreqSketchGrows(t *testing.T) {
	const w = 1024
	now := time.Unix(0, 0)
	tests := []struct {
		name      string
		maxWidth  int
		distinct  int // objects added once per window
		windows   int
		wantWidth int
	}{
		{"never grows without a maximum", 0, 4 * w, 3, w},
		{"light load stays", 8 * w, w / sketchGrowLoad / 2, 3, w},
		{"heavy load doubles up to the maximum", 8 * w, 4 * w, 6, 8 * w},
		{"maximum not a power of two above the width", 3 * w, 4 * w, 6, 2 * w},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newFreqSketch(w, tc.maxWidth, int64(tc.distinct), 0, now)
			id := uint64(0)
			for range tc.windows {
				for range tc.distinct {
					s.add(id, 1, now)
					id++
				}
			}
			s.add(id, 1, now) // the last window's halving
			if got := len(s.rows[0]); got != tc.wantWidth {
				t.Errorf("width %d, want %d", got, tc.wantWidth)
			}
			if s.mask != uint64(len(s.rows[0])-1) {
				t.Errorf("mask %#x for width %d", s.mask, len(s.rows[0]))
			}
		})
	}
}

func TestFreqSketchGrowKeepsEstimates(t *testing.T) {
	s := newFreqSketch(1024, 4096, 1<<40, 0, time.Unix(0, 0))
	want := map[uint64]uint8{}
	for i := range uint64(3000) {
		for range i%5 + 1 {
			s.add(i, 1, time.Unix(0, 0))
		}
	}
	for i := range uint64(3000) {
		want[i] = s.estimate(i)
	}
	s.grow()
	for i, e := range want {
		if got := s.estimate(i); got != e {
			t.Fatalf("estimate of %d: %d after growing, %d before", i, got, e)
		}
	}
}
