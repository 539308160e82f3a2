package tiering

import (
	"time"

	"strata/internal/mix"
)

// freqSketch is a count-min sketch of recent accesses with 4 rows of 8-bit
// counters and conservative update. It forgets: every window (a number of
// recorded accesses, or a wall-clock duration, whichever comes first) all
// counters are halved, so the estimate is the reuse of an item in the last
// few windows rather than since start.
//
// Not safe for concurrent use.
type freqSketch struct {
	rows     [4][]uint8
	mask     uint64
	added    int64
	window   int64         // halve after this many additions
	period   time.Duration // and at least this often (0: never by time)
	lastHalf time.Time
	halvings int64
}

// minSketchWindow is the least number of additions between halvings;
// sketchWindowPerItem scales the window with the items the caches hold.
const (
	minSketchWindow     = 10_000
	sketchWindowPerItem = 200
)

func newFreqSketch(width int, window int64, period time.Duration, now time.Time) *freqSketch {
	w := 1024
	for w < width {
		w <<= 1
	}
	s := &freqSketch{mask: uint64(w - 1), window: window, period: period, lastHalf: now}
	if s.window <= 0 {
		s.window = int64(10 * w)
	}
	for i := range s.rows {
		s.rows[i] = make([]uint8, w)
	}
	return s
}

func (s *freqSketch) slot(h uint64, row int) uint64 {
	return mix.Mix64(h+uint64(row)*0x9e3779b97f4a7c15) & s.mask
}

// add records one access of h and returns the new estimate.
func (s *freqSketch) add(h uint64, now time.Time) uint8 {
	s.maybeHalve(now)
	est := s.estimate(h)
	if est < 255 {
		for r := range s.rows {
			i := s.slot(h, r)
			if s.rows[r][i] == est {
				s.rows[r][i]++
			}
		}
		est++
	}
	s.added++
	return est
}

// estimate is the (over-)estimated number of recent accesses of h.
func (s *freqSketch) estimate(h uint64) uint8 {
	m := uint8(255)
	for r := range s.rows {
		if c := s.rows[r][s.slot(h, r)]; c < m {
			m = c
		}
	}
	return m
}

func (s *freqSketch) maybeHalve(now time.Time) {
	if s.added < s.window && (s.period <= 0 || now.Sub(s.lastHalf) < s.period) {
		return
	}
	for r := range s.rows {
		row := s.rows[r]
		for i := range row {
			row[i] >>= 1
		}
	}
	s.added /= 2
	s.lastHalf = now
	s.halvings++
}

func (s *freqSketch) bytes() int64 { return int64(len(s.rows) * len(s.rows[0])) }
