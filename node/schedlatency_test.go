package node

import (
	"testing"
	"time"
)

func TestDeltaQuantile(t *testing.T) {
	buckets := []float64{0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e300}
	for _, tc := range []struct {
		name        string
		prev, count []uint64
		q, want     float64
	}{
		{"nothing added", []uint64{1, 2, 3, 4, 5, 6}, []uint64{1, 2, 3, 4, 5, 6}, 0.99, 0},
		{"no previous sample", nil, []uint64{0, 0, 99, 0, 1, 0}, 0.99, 1e-4},
		{"only the delta counts", []uint64{0, 0, 0, 0, 1000, 0}, []uint64{0, 100, 0, 0, 1000, 0}, 0.99, 1e-5},
		{"tail in the delta", []uint64{0, 100, 0, 0, 0, 0}, []uint64{0, 190, 0, 0, 10, 0}, 0.99, 1e-2},
		{"median", nil, []uint64{0, 50, 50, 0, 0, 0}, 0.5, 1e-5},
		{"unbounded last bucket reads as its lower bound", nil, []uint64{0, 0, 0, 0, 0, 3}, 0.99, 1e-2},
		{"previous of another shape counts as empty", []uint64{5}, []uint64{0, 0, 1, 0, 0, 0}, 0.99, 1e-4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := deltaQuantile(tc.prev, tc.count, buckets, tc.q); got != tc.want {
				t.Fatalf("deltaQuantile = %g, want %g", got, tc.want)
			}
		})
	}
}

// The estimate samples at most once per schedSampleEvery and reads the
// runtime's histogram (present since Go 1.17): after goroutines have run,
// it is a real, non-negative duration; nil estimates 0.
func TestSchedLatencyEstimate(t *testing.T) {
	var none *schedLatency
	if got := none.estimate(time.Now()); got != 0 {
		t.Fatalf("nil estimate %v", got)
	}
	s := newSchedLatency()
	now := time.Now()
	s.estimate(now)
	if s.prev == nil {
		t.Fatal("the first estimate took no sample")
	}
	done := make(chan struct{})
	for range 8 {
		go func() { done <- struct{}{} }()
	}
	for range 8 {
		<-done
	}
	// A marker bucket: a sample replaces prev with the runtime's counts.
	real := len(s.prev)
	s.prev = append(s.prev, 0)
	s.estimate(now.Add(schedSampleEvery / 2))
	if len(s.prev) != real+1 {
		t.Fatal("sampled again within schedSampleEvery")
	}
	if got := s.estimate(now.Add(schedSampleEvery)); got < 0 {
		t.Fatalf("estimate %v", got)
	}
	if len(s.prev) != real {
		t.Fatal("no new sample after schedSampleEvery")
	}
}
