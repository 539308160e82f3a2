package pace

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Controller turns read latencies into an upload budget (see the package
// doc for the rule). Its methods are safe for concurrent use.
type Controller struct {
	o        Options
	base     time.Time // intervals are counted from here
	interval int64     // ns
	window   int64     // intervals in the window
	slots    []slot

	resetMu sync.Mutex // serializes the reuse of a slot for a new interval

	evalMu    sync.Mutex
	evaluated atomic.Int64 // the interval at whose start the last evaluation ran
	changed   int64        // under evalMu: decisions use intervals after this one
	// Under evalMu: the quantile of reads in intervals without uploads
	// (Relative), and the interval it was measured at.
	baseline   time.Duration
	baselineAt int64

	limit    atomic.Uint64 // float64 bits, bytes/s; 0 = unlimited
	quantile atomic.Int64  // ns, the window's read quantile at the last evaluation
	target   atomic.Int64  // ns, the target in force at the last evaluation
	backoffs atomic.Uint64
	waited   atomic.Int64 // ns Pacers were told to wait
}

// New returns a Controller, unlimited until reads exceed the target.
func New(o Options) (*Controller, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Controller{o: o, base: o.Now(), interval: int64(o.Interval)}
	c.window = (int64(o.Window) + c.interval - 1) / c.interval
	// Two spare slots: the current interval's, and one so that a slot an
	// evaluation reads is not reused by an interval starting meanwhile.
	c.slots = make([]slot, c.window+2)
	e := c.epoch(c.base)
	for i := range c.slots {
		c.slots[i].epoch.Store(math.MinInt64)
	}
	c.evaluated.Store(e)
	c.changed = e - 1
	c.target.Store(int64(o.Target))
	return c, nil
}

// epoch is the interval t falls in. Time.Sub uses the monotonic clock
// when both times carry it (time.Now's do), so a wall-clock step neither
// freezes the controller nor skips its window.
func (c *Controller) epoch(t time.Time) int64 { return floorDiv(int64(t.Sub(c.base)), c.interval) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// slotFor returns the slot of interval e, reusing it if it held an older
// one, or nil when it already holds a newer one (a caller delayed past a
// whole window: its observation is dropped).
func (c *Controller) slotFor(e int64) *slot {
	n := int64(len(c.slots))
	s := &c.slots[((e%n)+n)%n]
	got := s.epoch.Load()
	if got == e {
		return s
	}
	if got > e {
		return nil
	}
	c.resetMu.Lock()
	if got = s.epoch.Load(); got < e {
		s.bytes.Store(0)
		for i := range s.counts {
			s.counts[i].Store(0)
		}
		s.epoch.Store(e) // after the zeroing: whoever sees e adds to zeroed counts
		got = e
	}
	c.resetMu.Unlock()
	if got != e {
		return nil
	}
	return s
}

// Observe records the latency of one read. It does not allocate.
func (c *Controller) Observe(d time.Duration) { c.ObserveAt(c.o.Now(), d) }

// ObserveAt is Observe of a read that ended at now, a time of the
// Options.Now clock the caller read anyway (a handler's end), so that
// observing costs no clock read of its own.
func (c *Controller) ObserveAt(now time.Time, d time.Duration) {
	e := c.epoch(now)
	if s := c.slotFor(e); s != nil {
		s.counts[bucketOf(d)].Add(1)
	}
	c.maybeEvaluate(e)
}

// noteUpload records n upload bytes (the Pacer's accounting).
func (c *Controller) noteUpload(e int64, n int) {
	if n <= 0 {
		return
	}
	if s := c.slotFor(e); s != nil {
		s.bytes.Add(uint64(n))
	}
	c.maybeEvaluate(e)
}

// Limit is the upload budget in bytes/s now; 0 means unlimited.
func (c *Controller) Limit() float64 {
	c.maybeEvaluate(c.epoch(c.o.Now()))
	return c.limitNow()
}

func (c *Controller) limitNow() float64 { return math.Float64frombits(c.limit.Load()) }

// ReadQuantile is the Quantile of the reads observed in the window, as of
// the last evaluation; 0 without reads.
func (c *Controller) ReadQuantile() time.Duration {
	c.maybeEvaluate(c.epoch(c.o.Now()))
	return time.Duration(c.quantile.Load())
}

// Backoffs counts the times the limit was lowered.
func (c *Controller) Backoffs() uint64 { return c.backoffs.Load() }

// Waited is the total time Pacers told uploads to wait.
func (c *Controller) Waited() time.Duration { return time.Duration(c.waited.Load()) }

// Target is the read latency the controller defends now: Options.Target,
// or higher with Options.Relative.
func (c *Controller) Target() time.Duration {
	c.maybeEvaluate(c.epoch(c.o.Now()))
	return time.Duration(c.target.Load())
}

// maybeEvaluate runs the control rule once per interval, at the first
// call after an interval ended.
func (c *Controller) maybeEvaluate(e int64) {
	if c.evaluated.Load() >= e {
		return
	}
	c.evalMu.Lock()
	defer c.evalMu.Unlock()
	if c.evaluated.Load() >= e {
		return
	}
	c.evaluate(e)
	c.evaluated.Store(e)
}

// evaluate decides at the start of interval cur, over the completed
// intervals of the window. The caller holds evalMu.
func (c *Controller) evaluate(cur int64) {
	var win, fresh, alone histogram
	first := cur - c.window
	n := int64(len(c.slots))
	uploadsFrom := cur // the first interval of the window with upload bytes
	for e := first; e < cur; e++ {
		s := &c.slots[((e%n)+n)%n]
		if s.epoch.Load() != e {
			continue // nothing happened in interval e
		}
		if uploadsFrom == cur && s.bytes.Load() > 0 {
			uploadsFrom = e
		}
		win.add(s)
		if s.bytes.Load() == 0 {
			alone.add(s)
		}
		if e > c.changed {
			fresh.add(s)
		}
	}
	c.quantile.Store(int64(win.quantile(c.o.Quantile)))
	target := c.targetAt(cur, &alone)
	old := c.limitNow()
	if win.reads == 0 {
		if old != 0 {
			c.setLimit(0, cur)
		}
		return
	}
	if fresh.reads == 0 {
		return // no read since the last change took effect: no evidence yet
	}
	q := fresh.quantile(c.o.Quantile)
	// The upload rate since uploads began, within the window: uploads that
	// started a moment ago are not averaged with the quiet before them.
	uploadRate := 0.0
	if win.bytes > 0 {
		uploadRate = float64(win.bytes) / (float64(cur-uploadsFrom) * c.o.Interval.Seconds())
	}
	switch {
	case q > target:
		base := old
		if base == 0 {
			if win.bytes == 0 {
				return // reads are slow without uploads: nothing to pace
			}
			base = uploadRate
		}
		next := max(c.o.MinRate, base*c.o.cut(q, target))
		if old == 0 || next < old {
			c.backoffs.Add(1)
			c.setLimit(next, cur)
		} else {
			// At the floor: these slow reads are acted on. Later decisions
			// start afresh, so the limit climbs as soon as reads are fast,
			// not once the slow ones left the window.
			c.changed = cur - 1
		}
	case old != 0 && float64(q) <= float64(target)*c.o.Headroom:
		// A limit well above what uploads use is not what holds them:
		// stop it growing there (at most Growth, or 1.25 when Growth is
		// lower, times their rate, plus Increase), so that it binds again
		// after about one cut when reads slow down. What they use is measured
		// since the last change (the window's average lags a limit that
		// climbs fast).
		from := max(first, c.changed+1)
		freshRate := float64(fresh.bytes) / (float64(cur-from) * c.o.Interval.Seconds())
		ceiling := max(1.25, c.o.Growth)*freshRate + c.o.Increase
		next := min(old*c.o.growth(q, target)+c.o.Increase, max(old, ceiling))
		if next != old {
			c.setLimit(next, cur)
		}
	}
}

// maxCut is the gentlest back-off: reads just over the target still cut
// the limit by a tenth.
const maxCut = 0.9

// cut is the factor a back-off multiplies the limit by for reads at q over
// target: target/q (proportional to the excess), at least Decrease and at
// most maxCut.
func (o *Options) cut(q, target time.Duration) float64 {
	return max(o.Decrease, min(maxCut, float64(target)/float64(q)))
}

// growth is the factor a calm interval multiplies the limit by for reads
// at q (at most Target*Headroom): the room left, Target*Headroom/q, at
// least 1 and at most Growth. Reads far under the target let the limit
// climb by Growth per interval; reads close under it, barely.
func (o *Options) growth(q, target time.Duration) float64 {
	if q <= 0 {
		return o.Growth
	}
	return max(1, min(o.Growth, float64(target)*o.Headroom/float64(q)))
}

// targetAt is the target in force at interval cur: Options.Target, or
// Relative times the baseline when that is higher and the baseline (the
// quantile of reads without uploads, renewed from alone when it holds
// enough reads) is at most BaselineAge old. The caller holds evalMu.
func (c *Controller) targetAt(cur int64, alone *histogram) time.Duration {
	target := c.o.Target
	if c.o.Relative > 0 {
		if alone.reads >= minBaselineReads {
			c.baseline, c.baselineAt = alone.quantile(c.o.Quantile), cur
		}
		if c.baseline > 0 && cur-c.baselineAt <= int64(c.o.BaselineAge/c.o.Interval) {
			target = max(target, time.Duration(c.o.Relative*float64(c.baseline)))
		}
	}
	c.target.Store(int64(target))
	return target
}

// setLimit changes the limit; decisions from now on use the intervals
// from cur on, measured under it. The caller holds evalMu.
func (c *Controller) setLimit(v float64, cur int64) {
	c.limit.Store(math.Float64bits(v))
	c.changed = cur - 1
}
