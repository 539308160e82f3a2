package tiering

import (
	"time"

	"strata/internal/mix"
)

// freqSketch is a count-min sketch of recent accesses with 4 rows of 8-bit
// counters and conservative update. It forgets: every window of traffic
// (bytes read, counted as the accesses are recorded) or of wall-clock time,
// whichever comes first, all counters are halved, so the estimate is the
// reuse of an item in the last few windows rather than since start. Tying
// the window to traffic rather than to the items the caches hold keeps the
// sketch ageing at the pace the caches turn over, whatever their size and
// however many items they hold.
//
// Not safe for concurrent use.
type freqSketch struct {
	rows     [4][]uint8
	mask     uint64
	added    int64         // bytes of traffic since the last halving (halved with the counters)
	window   int64         // halve after this many bytes
	period   time.Duration // and at least this often (0: never by time)
	lastHalf time.Time
	halvings int64
}

// newFreqSketch returns a sketch of at least width counters per row that
// halves after window bytes of traffic (0: 10 x width x 64 KiB) or period.
func newFreqSketch(width int, window int64, period time.Duration, now time.Time) *freqSketch {
	w := sketchRowWidth(width)
	s := &freqSketch{mask: uint64(w - 1), window: window, period: period, lastHalf: now}
	if s.window <= 0 {
		s.window = int64(10*w) << 16
	}
	for i := range s.rows {
		s.rows[i] = make([]uint8, w)
	}
	return s
}

func (s *freqSketch) slot(h uint64, row int) uint64 {
	return mix.Mix64(h+uint64(row)*0x9e3779b97f4a7c15) & s.mask
}

// add records one access of h, of n bytes of traffic, and returns the new
// estimate.
func (s *freqSketch) add(h uint64, n int64, now time.Time) uint8 {
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
	s.added += max(n, 1)
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

// sketchRowWidth is the counters per row of a sketch asked for width: a
// power of two, at least 1024.
func sketchRowWidth(width int) int {
	w := 1024
	for w < width {
		w <<= 1
	}
	return w
}

// sketchBytes is the RAM a sketch asked for width holds.
func sketchBytes(width int) int64 { return int64(len(freqSketch{}.rows) * sketchRowWidth(width)) }

func (s *freqSketch) bytes() int64 { return int64(len(s.rows) * len(s.rows[0])) }
