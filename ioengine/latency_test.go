package ioengine

import (
	"testing"
	"time"
)

func TestLatencyBucket(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 0}, // clamped by record; bucket 0
		{0, 0},
		{latencyBase, 0},
		{latencyBase + 1, 1},
		{2 * latencyBase, 1},
		{2*latencyBase + 1, 2},
		{3 * latencyBase, 2},
		{4 * latencyBase, 2},
		{4*latencyBase + 1, 3},
		{time.Millisecond, 6}, // (512µs, 1024µs]
		{latencyBase << 10, 10},
		{latencyBase<<10 + 1, 11},
		{16 * time.Second, 20},
		{latencyBase << 20, 20}, // the last bound
		{latencyBase<<20 + 1, latencyBounds},
		{time.Hour, latencyBounds},
	}
	for _, tc := range tests {
		d := tc.d
		if d < 0 {
			d = 0
		}
		if got := latencyBucket(d); got != tc.want {
			t.Errorf("latencyBucket(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestLatencyQuantile(t *testing.T) {
	var h latencyHistogram
	if got := h.snapshot().Quantile(0.5); got != 0 {
		t.Fatalf("empty quantile %v", got)
	}
	for range 90 {
		h.record(10 * time.Microsecond) // bucket 0: (0, 16µs]
	}
	for range 10 {
		h.record(3 * time.Millisecond) // bucket 8: (2.048ms, 4.096ms]
	}
	h.record(time.Minute) // +Inf
	s := h.snapshot()
	if s.Count != 101 || len(s.Counts) != len(s.Bounds)+1 || s.Counts[len(s.Counts)-1] != 1 {
		t.Fatalf("snapshot %+v", s)
	}
	if p50 := s.Quantile(0.5); p50 <= 0 || p50 > 16*time.Microsecond {
		t.Errorf("p50 = %v, want in (0, 16µs]", p50)
	}
	if p95 := s.Quantile(0.95); p95 <= 2048*time.Microsecond || p95 > 4096*time.Microsecond {
		t.Errorf("p95 = %v, want in (2.048ms, 4.096ms]", p95)
	}
	if p100 := s.Quantile(1); p100 != s.Bounds[len(s.Bounds)-1] {
		t.Errorf("p100 = %v, want last bound %v", p100, s.Bounds[len(s.Bounds)-1])
	}
	if s.Mean() <= 0 {
		t.Errorf("mean %v", s.Mean())
	}
	// Monotone in q.
	prev := time.Duration(0)
	for q := 0.0; q <= 1.0; q += 0.01 {
		v := s.Quantile(q)
		if v < prev {
			t.Fatalf("quantile not monotone at %v: %v < %v", q, v, prev)
		}
		prev = v
	}
}

func TestLatencyRecordAllocatesNothing(t *testing.T) {
	var h latencyHistogram
	if a := testing.AllocsPerRun(100, func() { h.record(time.Millisecond) }); a != 0 {
		t.Fatalf("record allocates %.1f", a)
	}
}
