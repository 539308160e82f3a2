package pace

import (
	"context"
	"fmt"
	"time"
)

// Options configure a Controller. Zero fields take the defaults below;
// Target has none and must be set.
type Options struct {
	// Target is the read latency the controller defends: it backs uploads
	// off while the Quantile of observed reads is above it.
	Target time.Duration
	// Relative, when above 0, raises the target to Relative times the
	// Quantile reads had in the intervals without upload bytes (over the
	// last BaselineAge), when that is higher than Target: a target the node
	// cannot meet even without uploads (other work on the machine) would
	// otherwise hold uploads at MinRate. 0 (the default) keeps Target.
	Relative float64
	// BaselineAge is how long a measurement of reads without uploads
	// stands for Relative. Default 1m.
	BaselineAge time.Duration
	// Quantile of the observed reads compared with Target. Default 0.99.
	Quantile float64
	// Interval is the control period and the granularity of the window.
	// Default 100ms.
	Interval time.Duration
	// Window is how far back reads and upload bytes are counted: no read
	// in it lifts the limit; the reported quantile and the measured upload
	// rate cover it. Rounded up to whole Intervals. Default 1s.
	Window time.Duration
	// Decrease is the deepest cut of a back-off, in (0, 1): the limit is
	// multiplied by Target over the reads' quantile, but by no less than
	// Decrease and no more than 0.9. Default 0.7.
	Decrease float64
	// Growth is the steepest rise of the limit per Interval whose reads
	// met Target*Headroom, at least 1: the limit is multiplied by
	// Target*Headroom over the reads' quantile, at most Growth, so it
	// climbs back from MinRate to hundreds of MB/s in about a second when
	// reads are far under the target. 1 turns multiplicative growth off.
	// Default 1.25.
	Growth float64
	// Increase is added to the limit, in bytes/s, at each Interval whose
	// reads met Target*Headroom (after Growth). Default 4 MiB/s.
	Increase float64
	// Headroom: reads must be at most Target*Headroom for the limit to
	// grow (between that and Target it holds), in (0, 1]. Default 0.8.
	Headroom float64
	// MinRate is the floor of the limit, in bytes/s. Default 4 MiB/s.
	MinRate float64
	// Burst is how much of the rate the Pacer lets through at once, as
	// time at the current limit. Default 50ms.
	Burst time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends (then it returns ctx.Err()).
	// Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Defaults of Options.
const (
	DefaultQuantile = 0.99
	DefaultInterval = 100 * time.Millisecond
	DefaultWindow   = time.Second
	DefaultDecrease = 0.7
	DefaultGrowth   = 1.25
	DefaultIncrease = 4 << 20
	DefaultHeadroom = 0.8
	DefaultMinRate  = 4 << 20
	DefaultBurst    = 50 * time.Millisecond
	DefaultBaseline = time.Minute
	// minBaselineReads is the fewest reads without uploads in a window
	// that make a baseline for Relative.
	minBaselineReads = 50
)

// withDefaults fills zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Quantile == 0 {
		o.Quantile = DefaultQuantile
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Decrease == 0 {
		o.Decrease = DefaultDecrease
	}
	if o.Growth == 0 {
		o.Growth = DefaultGrowth
	}
	if o.Increase == 0 {
		o.Increase = DefaultIncrease
	}
	if o.Headroom == 0 {
		o.Headroom = DefaultHeadroom
	}
	if o.MinRate == 0 {
		o.MinRate = DefaultMinRate
	}
	if o.Burst == 0 {
		o.Burst = DefaultBurst
	}
	if o.BaselineAge == 0 {
		o.BaselineAge = DefaultBaseline
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	switch {
	case o.Target <= 0:
		return o, fmt.Errorf("%w: Target %v is not positive", ErrOptions, o.Target)
	case !(o.Quantile > 0 && o.Quantile < 1):
		return o, fmt.Errorf("%w: Quantile %v outside (0, 1)", ErrOptions, o.Quantile)
	case o.Interval <= 0:
		return o, fmt.Errorf("%w: Interval %v is not positive", ErrOptions, o.Interval)
	case o.Window < o.Interval:
		return o, fmt.Errorf("%w: Window %v shorter than Interval %v", ErrOptions, o.Window, o.Interval)
	case o.Window/o.Interval > maxSlots:
		return o, fmt.Errorf("%w: Window %v holds more than %d Intervals of %v", ErrOptions, o.Window, maxSlots, o.Interval)
	case !(o.Decrease > 0 && o.Decrease < 1):
		return o, fmt.Errorf("%w: Decrease %v outside (0, 1)", ErrOptions, o.Decrease)
	case !(o.Headroom > 0 && o.Headroom <= 1):
		return o, fmt.Errorf("%w: Headroom %v outside (0, 1]", ErrOptions, o.Headroom)
	case !(o.Growth >= 1 && o.Growth <= 16):
		return o, fmt.Errorf("%w: Growth %v outside [1, 16]", ErrOptions, o.Growth)
	case !(o.Increase > 0):
		return o, fmt.Errorf("%w: Increase %v is not positive", ErrOptions, o.Increase)
	case !(o.MinRate > 0):
		return o, fmt.Errorf("%w: MinRate %v is not positive", ErrOptions, o.MinRate)
	case !(o.Relative >= 0) || o.Relative > 0 && o.Relative < 1:
		return o, fmt.Errorf("%w: Relative %v: want 0 (off) or at least 1", ErrOptions, o.Relative)
	case o.BaselineAge < 0:
		return o, fmt.Errorf("%w: BaselineAge %v is negative", ErrOptions, o.BaselineAge)
	case o.Burst < 0:
		return o, fmt.Errorf("%w: Burst %v is negative", ErrOptions, o.Burst)
	}
	return o, nil
}

// maxSlots bounds the window's intervals (memory: one histogram each).
const maxSlots = 600

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
