package devmodel

import "time"

// Clock is how the model reads the time and waits. Tests inject a fake
// one so figures come out exact and nothing sleeps.
type Clock interface {
	Now() time.Time
	// SleepUntil returns at or after t.
	SleepUntil(t time.Time)
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}
