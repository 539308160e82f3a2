package ioengine

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Latency histogram layout: bucket i holds durations in
// (latencyBase<<(i-1), latencyBase<<i]; bucket 0 holds everything up to
// latencyBase and the last bucket everything above latencyBase<<(latencyBounds-1).
const (
	latencyBase   = 16 * time.Microsecond
	latencyBounds = 21 // 16µs .. 16.8s
)

// latencyHistogram is a fixed log2-bucket histogram updated with atomics only,
// so recording allocates nothing and takes no lock.
type latencyHistogram struct {
	counts [latencyBounds + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds; the count is the sum of counts
}

func latencyBucket(d time.Duration) int {
	if d <= latencyBase {
		return 0
	}
	units := (uint64(d) + uint64(latencyBase) - 1) / uint64(latencyBase) // ceil(d/base) >= 2
	i := bits.Len64(units - 1)
	if i > latencyBounds {
		return latencyBounds
	}
	return i
}

func (h *latencyHistogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[latencyBucket(d)].Add(1)
	h.sum.Add(int64(d))
}

func (h *latencyHistogram) snapshot() LatencySnapshot {
	s := LatencySnapshot{
		Bounds: make([]time.Duration, latencyBounds),
		Counts: make([]uint64, latencyBounds+1),
	}
	for i := range s.Bounds {
		s.Bounds[i] = latencyBase << i
	}
	// Count is the sum of the buckets read here, so Quantile stays
	// consistent even while other goroutines record.
	for i := range s.Counts {
		c := h.counts[i].Load()
		s.Counts[i] = c
		s.Count += c
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// LatencySnapshot is a point-in-time copy of a latency histogram.
// Counts[i] counts durations d with Bounds[i-1] < d <= Bounds[i]; the last
// element of Counts (len(Bounds)) counts everything above the last bound.
type LatencySnapshot struct {
	Bounds []time.Duration // upper bounds, ascending
	Counts []uint64        // len(Bounds)+1; the last is +Inf
	Sum    time.Duration
	Count  uint64
}

// Quantile estimates the q-quantile (0 <= q <= 1) by linear interpolation
// inside the bucket that holds it. Its error is bounded by the bucket width
// (a factor of two). Values in the +Inf bucket are reported as the last bound.
// An empty snapshot returns 0.
func (s LatencySnapshot) Quantile(q float64) time.Duration {
	if s.Count == 0 || len(s.Counts) == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(s.Count)
	if rank < 1 {
		rank = 1
	}
	var seen float64
	for i, c := range s.Counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) < rank {
			seen += float64(c)
			continue
		}
		if i >= len(s.Bounds) {
			return s.Bounds[len(s.Bounds)-1]
		}
		var lower time.Duration
		if i > 0 {
			lower = s.Bounds[i-1]
		}
		upper := s.Bounds[i]
		frac := (rank - seen) / float64(c)
		return lower + time.Duration(frac*float64(upper-lower))
	}
	return s.Bounds[len(s.Bounds)-1]
}

// Mean returns Sum/Count, or 0 for an empty snapshot.
func (s LatencySnapshot) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.Sum / time.Duration(s.Count)
}
