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
	// Growth: fresh counts the adds of objects the sketch did not know
	// (estimate 0) since the last halving; when a window brings more than
	// width/sketchGrowLoad of them, the rows double, up to maxWidth.
	fresh    int64
	maxWidth int
}

// sketchGrowLoad bounds the distinct objects a window may bring to
// width/sketchGrowLoad. A counter then lives about two windows (halved,
// then halved again), so about 1-e^(-2/8) = 22% of a row's counters are
// set, and an object read once looks read before in all four rows with
// probability 0.22^4, 0.2%: few one-hit objects pass the second-read rule
// by colliding. Sized to the cache bytes alone (32 KiB per counter), the
// load was 0.1 to 0.6 on the shared trace at 10% and 30% of its working
// set, where the window is many turnovers long (docs/sim.md).
const sketchGrowLoad = 8

// newFreqSketch returns a sketch of at least width counters per row that
// halves after window bytes of traffic (0: 10 x width x 64 KiB) or period,
// and grows up to maxWidth counters per row (0 or at most width: never).
func newFreqSketch(width, maxWidth int, window int64, period time.Duration, now time.Time) *freqSketch {
	w := sketchRowWidth(width)
	s := &freqSketch{mask: uint64(w - 1), window: window, period: period, lastHalf: now, maxWidth: maxWidth}
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
	if est == 0 {
		s.fresh++
	}
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
	for s.fresh > int64(len(s.rows[0])/sketchGrowLoad) && 2*len(s.rows[0]) <= s.maxWidth {
		s.grow()
	}
	s.fresh = 0
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

// grow doubles the rows. A key's slot in the wider row is its old slot or
// that plus the old width, so each half starts as a copy of the old row:
// every estimate stays what it was (an upper bound on the key's count),
// and the halvings that follow wash out the copies' inflation.
func (s *freqSketch) grow() {
	w := len(s.rows[0])
	for r := range s.rows {
		row := make([]uint8, 2*w)
		copy(row, s.rows[r])
		copy(row[w:], s.rows[r])
		s.rows[r] = row
	}
	s.mask = uint64(2*w - 1)
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
