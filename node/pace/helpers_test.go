package pace

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is the Controller's clock in tests: time moves only by Advance.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// testOptions are round numbers: target 1ms, 100ms intervals, a 1s
// window, halving, +10 MB/s steps, a 5 MB/s floor.
func testOptions(clk *fakeClock) Options {
	return Options{
		Target: time.Millisecond, Interval: 100 * time.Millisecond, Window: time.Second,
		Decrease: 0.5, Increase: 10e6, Headroom: 0.8, MinRate: 5e6, Now: clk.Now,
	}
}

func newTestController(t *testing.T, clk *fakeClock, mutate func(*Options)) *Controller {
	t.Helper()
	o := testOptions(clk)
	if mutate != nil {
		mutate(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// interval feeds one interval: reads of latency lat (none when reads is
// 0) and upload bytes, then moves the clock to the next interval and
// returns the limit the controller set there.
func interval(c *Controller, p *Pacer, clk *fakeClock, reads int, lat time.Duration, bytes int) float64 {
	for range reads {
		c.Observe(lat)
	}
	if bytes > 0 {
		c.noteUpload(c.epoch(clk.Now()), bytes)
	}
	clk.Advance(c.o.Interval)
	return c.Limit()
}
