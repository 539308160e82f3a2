package pace

import (
	"testing"
	"time"
)

// The per-read and per-body-read costs of the controller (real clock).
func BenchmarkObserve(b *testing.B) {
	c, err := New(Options{Target: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Observe(300 * time.Microsecond)
		}
	})
}

func BenchmarkReserveUnlimited(b *testing.B) {
	c, err := New(Options{Target: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	p := NewPacer(c)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Reserve(64 << 10)
		}
	})
}
