package pace

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

const (
	fast = 200 * time.Microsecond // well under the 1ms target
	slow = 5 * time.Millisecond
	// mbPerInterval is 100 MB/s in 100ms intervals.
	mbPerInterval = 10e6
)

// Uploads run unlimited while there are no reads, however much they send.
func TestNoReadsNoLimit(t *testing.T) {
	clk := newFakeClock()
	c := newTestController(t, clk, nil)
	for i := range 30 {
		if l := interval(c, nil, clk, 0, 0, mbPerInterval); l != 0 {
			t.Fatalf("interval %d: limit %v without reads", i, l)
		}
	}
	if c.Backoffs() != 0 {
		t.Fatalf("%d backoffs", c.Backoffs())
	}
}

// Slow reads while uploads flow: the first back-off starts from the
// measured upload rate times Decrease; each further interval of slow reads
// lowers it again, down to MinRate and never below.
func TestBackoffMultiplicativeToFloor(t *testing.T) {
	clk := newFakeClock()
	c := newTestController(t, clk, nil)
	for range 10 { // a full window of uploads at 100 MB/s, fast reads: no limit
		if l := interval(c, nil, clk, 50, fast, mbPerInterval); l != 0 {
			t.Fatalf("limit %v with fast reads", l)
		}
	}
	l := interval(c, nil, clk, 50, slow, mbPerInterval)
	if want := 100e6 * 0.5; math.Abs(l-want) > 1 {
		t.Fatalf("first back-off: limit %v, want %v (measured 100 MB/s x 0.5)", l, want)
	}
	prev := l
	for i := 0; i < 10; i++ {
		l = interval(c, nil, clk, 50, slow, int(prev/10))
		want := max(5e6, prev*0.5)
		if math.Abs(l-want) > 1 {
			t.Fatalf("back-off %d: limit %v, want %v", i+2, l, want)
		}
		prev = l
	}
	if l != 5e6 {
		t.Fatalf("limit %v, want the floor 5e6", l)
	}
	if got := c.Backoffs(); got < 4 || got > 5 {
		// 50 -> 25 -> 12.5 -> 6.25 -> 5: five lowerings, none once at the floor.
		t.Fatalf("%d backoffs, want 5", got)
	}
	if q := c.ReadQuantile(); q < slow {
		t.Fatalf("read quantile %v, want at least %v", q, slow)
	}
}

// One interval of slow reads backs off once, although it stays in the
// window for a second: decisions use only reads measured after a change.
func TestOneBurstOneBackoff(t *testing.T) {
	clk := newFakeClock()
	c := newTestController(t, clk, nil)
	for range 10 {
		interval(c, nil, clk, 50, fast, mbPerInterval)
	}
	interval(c, nil, clk, 50, slow, mbPerInterval)
	if c.Backoffs() != 1 {
		t.Fatalf("%d backoffs after the burst", c.Backoffs())
	}
	for range 15 {
		interval(c, nil, clk, 50, fast, mbPerInterval)
	}
	if c.Backoffs() != 1 {
		t.Fatalf("%d backoffs: the burst counted again while it stayed in the window", c.Backoffs())
	}
}

// Fast reads under a limit, with Growth 1: it grows by Increase per
// interval, and stops at 1.25 times the measured upload rate plus Increase (it
// is not binding there); reads between Target*Headroom and Target hold it.
func TestRecoveryAdditiveHoldAndCeiling(t *testing.T) {
	clk := newFakeClock()
	c := newTestController(t, clk, func(o *Options) { o.Growth = 1 })
	for range 10 {
		interval(c, nil, clk, 50, fast, mbPerInterval)
	}
	l := interval(c, nil, clk, 50, slow, mbPerInterval) // 50 MB/s
	// Uploads now use the whole limit: 5 MB per interval.
	for i := 1; i <= 3; i++ {
		got := interval(c, nil, clk, 50, fast, int(l/10))
		if math.Abs(got-(l+10e6)) > 1 {
			t.Fatalf("recovery step %d: limit %v, want %v", i, got, l+10e6)
		}
		l = got
	}
	hold := 850 * time.Microsecond // bucket [768µs, 896µs): above 0.8ms, under 1ms
	for range 5 {
		if got := interval(c, nil, clk, 50, hold, int(l/10)); got != l {
			t.Fatalf("reads in the hold band moved the limit %v -> %v", l, got)
		}
	}
	// Uploads drop to 1 MB per interval (10 MB/s): the limit stops at
	// 1.25*10 + 10 MB/s at most, or stays where it was when above that.
	for range 40 {
		l = interval(c, nil, clk, 50, fast, 1e6)
	}
	if l != 80e6 { // 50 + 3*10 reached before; 1.25*10+10 = 22.5 is below: no growth, no cut
		t.Fatalf("limit %v with uploads at 10 MB/s, want it held at 80e6", l)
	}
	if c.Limit() == 0 {
		t.Fatal("limit lifted while reads continue")
	}
}

// Under a limit that uploads use in full, each calm interval multiplies it
// by the room the reads leave (Target*Headroom over their quantile), at
// most Growth, then adds Increase; each slow one cuts it by Target over
// their quantile, at least Decrease and at most 0.9.
func TestProportionalSteps(t *testing.T) {
	const (
		limit = 50e6 // after the first back-off from 100 MB/s
		// Latencies and the upper bounds of their buckets.
		veryFast  = 100 * time.Microsecond  // bucket upper bound 112µs
		nearUnder = 700 * time.Microsecond  // 768µs
		justOver  = 1100 * time.Microsecond // 1280µs
		farOver   = 5 * time.Millisecond
	)
	for _, tc := range []struct {
		name string
		lat  time.Duration
		want float64
	}{
		{"far under: Growth", veryFast, limit*1.5 + 10e6},
		{"close under: the room left", nearUnder, limit*(800.0/768) + 10e6},
		{"just over: proportional cut", justOver, limit * (1000.0 / 1280)},
		{"far over: Decrease", farOver, limit * 0.5},
		{"barely over: at most 0.9", 1001 * time.Microsecond, limit * 0.9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			c := newTestController(t, clk, func(o *Options) { o.Growth = 1.5 })
			for range 10 {
				interval(c, nil, clk, 50, fast, mbPerInterval)
			}
			if l := interval(c, nil, clk, 50, slow, mbPerInterval); math.Abs(l-limit) > 1 {
				t.Fatalf("first back-off: limit %v, want %v", l, limit)
			}
			got := interval(c, nil, clk, 50, tc.lat, int(limit/10))
			if math.Abs(got-tc.want) > 1 {
				t.Fatalf("reads at %v: limit %v, want %v", tc.lat, got, tc.want)
			}
		})
	}
}

// From MinRate, reads far under the target bring the limit back to what
// uploads ran at (100 MB/s) within a second.
func TestGrowthRecoversWithinASecond(t *testing.T) {
	clk := newFakeClock()
	c := newTestController(t, clk, func(o *Options) { o.Growth = 1.5 })
	for range 10 {
		interval(c, nil, clk, 50, fast, mbPerInterval)
	}
	l := 0.0
	for range 10 { // down to the 5 MB/s floor
		l = interval(c, nil, clk, 50, slow, int(max(l, 50e6)/10))
	}
	if l != 5e6 {
		t.Fatalf("limit %v, want the floor", l)
	}
	for i := range 10 {
		l = interval(c, nil, clk, 50, fast, int(l/10))
		if l >= 100e6 {
			t.Logf("back to 100 MB/s after %d intervals", i+1)
			return
		}
	}
	t.Fatalf("limit %v after a second of fast reads, want at least 100e6", l)
}

// Reads stop: once none is left in the window, the limit is lifted.
func TestLiftedWhenReadsStop(t *testing.T) {
	clk := newFakeClock()
	c := newTestController(t, clk, nil)
	for range 10 {
		interval(c, nil, clk, 50, fast, mbPerInterval)
	}
	if l := interval(c, nil, clk, 50, slow, mbPerInterval); l == 0 {
		t.Fatal("no back-off")
	}
	for i := range 9 {
		if l := interval(c, nil, clk, 0, 0, mbPerInterval); l == 0 {
			t.Fatalf("lifted after %d empty intervals, with reads still in the window", i+1)
		}
	}
	if l := interval(c, nil, clk, 0, 0, mbPerInterval); l != 0 {
		t.Fatalf("limit %v after a window without reads", l)
	}
	if q := c.ReadQuantile(); q != 0 {
		t.Fatalf("read quantile %v without reads", q)
	}
	// Idle for a long time (no calls at all), then a fresh start.
	clk.Advance(time.Hour)
	if l := c.Limit(); l != 0 {
		t.Fatalf("limit %v after an hour idle", l)
	}
}

// Slow reads without uploads: nothing to pace, no limit.
func TestSlowReadsWithoutUploads(t *testing.T) {
	clk := newFakeClock()
	c := newTestController(t, clk, nil)
	for range 20 {
		if l := interval(c, nil, clk, 50, slow, 0); l != 0 {
			t.Fatalf("limit %v without uploads", l)
		}
	}
	if c.Backoffs() != 0 {
		t.Fatalf("%d backoffs", c.Backoffs())
	}
}

// The quantile is the configured one: 2% slow reads exceed p99 but not p95.
func TestQuantileIsConfigured(t *testing.T) {
	for _, tc := range []struct {
		quantile float64
		backoff  bool
	}{{0.99, true}, {0.95, false}} {
		clk := newFakeClock()
		c := newTestController(t, clk, func(o *Options) { o.Quantile = tc.quantile })
		for range 10 {
			interval(c, nil, clk, 0, 0, mbPerInterval)
		}
		for range 98 {
			c.Observe(fast)
		}
		l := interval(c, nil, clk, 2, slow, mbPerInterval)
		if (l != 0) != tc.backoff {
			t.Fatalf("quantile %v: limit %v, want back-off %v", tc.quantile, l, tc.backoff)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	clk := newFakeClock()
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		ok     bool
	}{
		{"defaults with a target", func(o *Options) { *o = Options{Target: time.Millisecond} }, true},
		{"no target", func(o *Options) { o.Target = 0 }, false},
		{"negative target", func(o *Options) { o.Target = -time.Second }, false},
		{"quantile 1", func(o *Options) { o.Quantile = 1 }, false},
		{"negative interval", func(o *Options) { o.Interval = -time.Second }, false},
		{"window under interval", func(o *Options) { o.Window = time.Millisecond }, false},
		{"window too long", func(o *Options) { o.Window = time.Hour }, false},
		{"decrease 1", func(o *Options) { o.Decrease = 1 }, false},
		{"decrease negative", func(o *Options) { o.Decrease = -0.5 }, false},
		{"headroom above 1", func(o *Options) { o.Headroom = 1.5 }, false},
		{"increase negative", func(o *Options) { o.Increase = -1 }, false},
		{"growth under 1", func(o *Options) { o.Growth = 0.9 }, false},
		{"growth 1", func(o *Options) { o.Growth = 1 }, true},
		{"growth NaN", func(o *Options) { o.Growth = math.NaN() }, false},
		{"min rate NaN", func(o *Options) { o.MinRate = math.NaN() }, false},
		{"burst negative", func(o *Options) { o.Burst = -time.Second }, false},
		{"relative under 1", func(o *Options) { o.Relative = 0.5 }, false},
		{"relative NaN", func(o *Options) { o.Relative = math.NaN() }, false},
		{"relative 1.25", func(o *Options) { o.Relative = 1.25 }, true},
		{"baseline age negative", func(o *Options) { o.BaselineAge = -time.Second }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(clk)
			tc.mutate(&o)
			_, err := New(o)
			if tc.ok != (err == nil) {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrOptions) {
				t.Fatalf("err %v does not wrap ErrOptions", err)
			}
		})
	}
}

// Observe is on every read's path: it must not allocate.
func TestObserveDoesNotAllocate(t *testing.T) {
	clk := newFakeClock()
	c := newTestController(t, clk, nil)
	p := NewPacer(c)
	if n := testing.AllocsPerRun(1000, func() {
		c.Observe(fast)
		p.Reserve(4096)
		clk.Advance(time.Millisecond)
	}); n != 0 {
		t.Fatalf("%v allocations per Observe+Reserve", n)
	}
}

// Concurrent observers, uploads and evaluations (run with -race).
func TestConcurrentUse(t *testing.T) {
	clk := newFakeClock()
	c := newTestController(t, clk, nil)
	p := NewPacer(c)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if g%2 == 0 {
					c.Observe(time.Duration(i%7) * time.Millisecond)
				} else {
					p.Reserve(1 << 16)
				}
				if i%100 == 0 {
					clk.Advance(30 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	clk.Advance(c.o.Interval)
	if c.Limit() < 0 {
		t.Fatal("negative limit")
	}
}

// Uploads that began two intervals ago are measured over those two: the
// first back-off starts from their rate, not from their average with the
// quiet second before them.
func TestBackoffFromRateSinceUploadsBegan(t *testing.T) {
	clk := newFakeClock()
	c := newTestController(t, clk, nil)
	for range 10 {
		interval(c, nil, clk, 50, fast, 0)
	}
	interval(c, nil, clk, 50, fast, mbPerInterval)
	interval(c, nil, clk, 50, fast, mbPerInterval)
	if l := interval(c, nil, clk, 50, slow, mbPerInterval); math.Abs(l-50e6) > 1 {
		t.Fatalf("first back-off: limit %v, want 50e6 (100 MB/s since uploads began x 0.5)", l)
	}
}

// With Relative, reads that are slow without any upload (other work on
// the machine) raise the target to Relative times their quantile: uploads
// are backed off only when they make reads slower than that. Without
// Relative, or once the baseline is older than BaselineAge, Target rules.
func TestRelativeTarget(t *testing.T) {
	const alone = 3 * time.Millisecond // bucket [2560µs, 3072µs): the baseline is 3.072ms
	for _, tc := range []struct {
		name     string
		relative float64
		age      time.Duration // idle time between the baseline and the uploads
		with     time.Duration // read latency beside uploads
		backoff  bool
	}{
		{"off: the 1ms target rules", 0, 0, alone, true},
		{"1.5x: as slow as alone", 1.5, 0, alone, false},
		{"1.5x: slower than 1.5x alone", 1.5, 0, 8 * time.Millisecond, true},
		{"1.5x: baseline too old", 1.5, 2 * time.Minute, alone, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			c := newTestController(t, clk, func(o *Options) { o.Relative = tc.relative })
			for range 10 {
				interval(c, nil, clk, 50, alone, 0)
			}
			if tc.relative > 0 {
				if got, want := c.Target(), time.Duration(1.5*3072)*time.Microsecond; got != want {
					t.Fatalf("target %v, want %v (1.5 x the baseline)", got, want)
				}
			} else if c.Target() != time.Millisecond {
				t.Fatalf("target %v without Relative", c.Target())
			}
			clk.Advance(tc.age)
			if tc.age > 0 {
				// Reads keep coming, always beside uploads: no new baseline.
				for range 10 {
					interval(c, nil, clk, 50, fast, mbPerInterval)
				}
			}
			for range 10 {
				interval(c, nil, clk, 50, tc.with, mbPerInterval)
			}
			if got := c.Backoffs() > 0; got != tc.backoff {
				t.Fatalf("backoffs %d (target %v), want back-off %v", c.Backoffs(), c.Target(), tc.backoff)
			}
		})
	}
}

// ObserveAt with the time the caller read counts the read in that time's
// interval, as Observe does with its own clock read: slow reads observed
// at a time in the current interval back uploads off; the same reads
// given a time a whole window ago are dropped.
func TestObserveAtUsesTheGivenTime(t *testing.T) {
	for _, tc := range []struct {
		name    string
		at      func(now time.Time) time.Time
		backoff bool
	}{
		{"now", func(now time.Time) time.Time { return now }, true},
		{"a window ago", func(now time.Time) time.Time { return now.Add(-3 * time.Second) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			c := newTestController(t, clk, nil)
			for range 10 {
				interval(c, nil, clk, 0, 0, mbPerInterval)
			}
			for range 10 {
				c.ObserveAt(tc.at(clk.Now()), slow)
			}
			if l := interval(c, nil, clk, 0, 0, mbPerInterval); (l != 0) != tc.backoff {
				t.Fatalf("limit %v, want back-off %v", l, tc.backoff)
			}
		})
	}
}
