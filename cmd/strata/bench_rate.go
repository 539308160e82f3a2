package main

import (
	"context"
	"sync/atomic"
	"time"
)

// lateStartSlack is how far past its intended start a request may begin
// before it counts as started late (timer and scheduling noise).
const lateStartSlack = time.Millisecond

// openLoopSchedule hands out the intended start times of an open-loop run:
// request i is due at start + i/rate, whoever sends it. Latency is measured
// from that time (wrk2's rule), so a stall that delays later requests shows
// up in their latency instead of silently lowering the request rate.
type openLoopSchedule struct {
	start    time.Time
	interval time.Duration
	next     atomic.Int64
}

func newOpenLoopSchedule(start time.Time, rate float64) *openLoopSchedule {
	return &openLoopSchedule{start: start, interval: time.Duration(float64(time.Second) / rate)}
}

// claim returns the intended start of the next request.
func (o *openLoopSchedule) claim() time.Time {
	i := o.next.Add(1) - 1
	return o.start.Add(time.Duration(i) * o.interval)
}

// waitUntil sleeps until t or until ctx ends; it reports whether t came.
func waitUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
