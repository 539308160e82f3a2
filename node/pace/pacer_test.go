package pace

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// limitedPacer is a Pacer whose controller has backed off to 50 MB/s.
func limitedPacer(t *testing.T, mutate func(*Options)) (*Pacer, *Controller, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	c := newTestController(t, clk, mutate)
	p := NewPacer(c)
	for range 10 {
		interval(c, p, clk, 50, fast, mbPerInterval)
	}
	if l := interval(c, p, clk, 50, slow, mbPerInterval); math.Abs(l-50e6) > 1 {
		t.Fatalf("limit %v, want 50e6", l)
	}
	return p, c, clk
}

// Under a limit, bytes beyond the burst wait for the rate: the wait is
// the debt over the rate, and time refills the bucket.
func TestPacerTokenBucket(t *testing.T) {
	p, c, clk := limitedPacer(t, nil)
	burst := 50e6 * DefaultBurst.Seconds() // 2.5 MB
	if d := p.Reserve(int(burst)); d != 0 {
		t.Fatalf("the burst waited %v", d)
	}
	d := p.Reserve(1e6)
	if want := 20 * time.Millisecond; d < want-time.Microsecond || d > want+time.Microsecond {
		t.Fatalf("1 MB past the burst waits %v, want %v at 50 MB/s", d, want)
	}
	// A second caller queues behind the first one's debt.
	if d2 := p.Reserve(1e6); d2 < 40*time.Millisecond-time.Microsecond {
		t.Fatalf("second 1 MB waits %v, want 40ms", d2)
	}
	clk.Advance(40 * time.Millisecond) // repays the debt exactly (within the interval)
	if d := p.Reserve(1); d != 0 && d > time.Microsecond {
		t.Fatalf("after the debt was repaid: wait %v", d)
	}
	if c.Waited() < 60*time.Millisecond-time.Microsecond {
		t.Fatalf("Waited %v, want 60ms", c.Waited())
	}
	if !p.Limited() {
		t.Fatal("not Limited")
	}
}

// Without a limit nothing waits, however many bytes.
func TestPacerUnlimited(t *testing.T) {
	clk := newFakeClock()
	c := newTestController(t, clk, nil)
	p := NewPacer(c)
	for range 1000 {
		if d := p.Reserve(1 << 20); d != 0 {
			t.Fatalf("unlimited pacer waits %v", d)
		}
	}
	if p.Limited() {
		t.Fatal("Limited without reads")
	}
}

// Wait sleeps what Reserve says; a cancelled context ends the wait at
// once with its error and gives the bytes back.
func TestPacerWait(t *testing.T) {
	var slept []time.Duration
	p, _, _ := limitedPacer(t, func(o *Options) {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			slept = append(slept, d)
			return ctx.Err()
		}
	})
	if err := p.Wait(context.Background(), int(50e6*DefaultBurst.Seconds())+1e6); err != nil {
		t.Fatal(err)
	}
	if len(slept) != 1 || slept[0] < 19*time.Millisecond {
		t.Fatalf("slept %v, want one 20ms sleep", slept)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx, 1e6); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Wait: %v", err)
	}
	// The cancelled megabyte was given back: the next one waits as long as
	// the one before it did (40ms of debt, not 60ms).
	if d := p.Reserve(1e6); d > 40*time.Millisecond+time.Microsecond {
		t.Fatalf("after a cancelled wait: %v, want 40ms", d)
	}
}

// The real sleep honours its context: a wait of an hour returns at once
// when the context is already done.
func TestDefaultSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("sleep: %v", err)
	}
	if err := sleep(context.Background(), time.Nanosecond); err != nil {
		t.Fatalf("sleep: %v", err)
	}
}
