package poll

import (
	"sync/atomic"
	"testing"
	"time"
)

// fakeTB records Fatalf instead of stopping the goroutine, so the test can
// see Until give up.
type fakeTB struct {
	testing.TB
	deadline time.Time
	failed   atomic.Bool
	msg      string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed.Store(true)
	f.msg = format
	panic(f) // stands in for runtime.Goexit
}

func (f *fakeTB) Deadline() (time.Time, bool) { return f.deadline, true }

func TestUntilReturnsOnceTrue(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 5 {
			n.Add(1)
		}
	}()
	Until(t, "five increments", func() bool { return n.Load() == 5 })
}

func TestUntilFailsAtTheDeadline(t *testing.T) {
	f := &fakeTB{TB: t, deadline: time.Now().Add(time.Second + 50*time.Millisecond)}
	func() {
		defer func() {
			if r := recover(); r != f {
				panic(r)
			}
		}()
		Until(f, "never", func() bool { return false })
	}()
	if !f.failed.Load() {
		t.Fatal("Until returned for a condition that never held")
	}
}
