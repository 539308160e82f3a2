// Package poll is the one way tests wait for a condition another goroutine
// makes true: every wait has a deadline, and a condition that never holds
// fails the test with a message instead of hanging it until the go test
// timeout.
//
// # Basics
//
//	poll.Until(t, "two readers queued", func() bool { return q.queued() == 2 })
//
// Until yields to the scheduler for its first checks (most conditions turn
// true within microseconds), then sleeps briefly between checks. It asserts
// the outcome, never its timing.
//
// # Caveats
//
// Until calls tb.Fatalf, so it must run on the test's goroutine, as every
// FailNow-style call must.
package poll

import (
	"runtime"
	"testing"
	"time"
)

// Timeout is how long Until waits at most, unless the test's own deadline
// (go test -timeout) comes sooner.
const Timeout = 30 * time.Second

// spins is how many checks Until runs with only a yield between them.
const spins = 1000

// Until waits until cond reports true. Past Timeout (or shortly before the
// test binary's deadline) it fails the test with "waited ... for <what>".
func Until(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	start := time.Now()
	deadline := start.Add(Timeout)
	if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, set := d.Deadline(); set && end.Add(-time.Second).Before(deadline) {
			deadline = end.Add(-time.Second)
		}
	}
	for i := 0; !cond(); i++ {
		if time.Now().After(deadline) {
			tb.Fatalf("waited %v for %s; it never happened", time.Since(start).Round(time.Millisecond), what)
		}
		if i < spins {
			runtime.Gosched()
		} else {
			time.Sleep(200 * time.Microsecond)
		}
	}
}
