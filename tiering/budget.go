package tiering

import "time"

// tokenBucket limits a byte rate. It starts full. take may drive the level
// negative with force, which makes later takes wait for the debt to be
// repaid: that is how bytes written outside admission (region padding) are
// still counted against the budget.
//
// Not safe for concurrent use.
type tokenBucket struct {
	rate  float64 // bytes per second
	burst float64
	level float64
	last  time.Time
}

func newTokenBucket(rate, burst float64, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: burst, level: burst, last: now}
}

func (b *tokenBucket) refill(now time.Time) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.level = min(b.burst, b.level+dt*b.rate)
		b.last = now
	}
}

func (b *tokenBucket) allow(n int64, now time.Time) bool {
	b.refill(now)
	return b.level >= float64(n)
}

func (b *tokenBucket) take(n int64) { b.level -= float64(n) }

// writeBudget is the SSD write budget: a bytes-per-second bucket and a
// bytes-per-day bucket. The daily bucket holds one hour of budget and refills
// at (perDay - perDay/24) per day, so no 24-hour window can exceed perDay.
type writeBudget struct {
	perSec *tokenBucket // nil: unlimited
	perDay *tokenBucket // nil: unlimited
}

func newWriteBudget(perSec, perDay, maxItem int64, now time.Time) writeBudget {
	var b writeBudget
	if perSec > 0 {
		// One second of budget, but at least one item, or large items
		// could never pass.
		b.perSec = newTokenBucket(float64(perSec), float64(max(perSec, maxItem)), now)
	}
	if perDay > 0 {
		burst := float64(perDay) / 24
		b.perDay = newTokenBucket((float64(perDay)-burst)/86400, burst, now)
	}
	return b
}

func (b writeBudget) allow(n int64, now time.Time) bool {
	return (b.perSec == nil || b.perSec.allow(n, now)) && (b.perDay == nil || b.perDay.allow(n, now))
}

func (b writeBudget) take(n int64) {
	if b.perSec != nil {
		b.perSec.take(n)
	}
	if b.perDay != nil {
		b.perDay.take(n)
	}
}

func (b *tokenBucket) burstOr(def int64) int64 {
	if b == nil {
		return def
	}
	return int64(b.burst)
}
