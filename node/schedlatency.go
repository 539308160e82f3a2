package node

import (
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// schedLatency estimates how long a runnable goroutine waits for a CPU
// (the runtime's /sched/latencies:seconds histogram, the p99 of what was
// added to it since the last sample). A read's handler time misses that
// wait: when uploads keep both cores busy, a request's goroutine waits
// runnable before the handler starts and between its steps, and that is
// most of what the client sees. Pacing adds the estimate to each observed
// read so the controller watches what uploads actually cost readers.
//
// Sampling is lazy (at most once per schedSampleEvery, by the first read
// after it), so no goroutine runs for it.
type schedLatency struct {
	p99  atomic.Int64 // nanoseconds, the latest estimate
	next atomic.Int64 // unix nanoseconds of the next sample

	mu     sync.Mutex // serialises samples
	sample [1]rtmetrics.Sample
	prev   []uint64 // bucket counts at the last sample
}

const (
	schedLatencyMetric = "/sched/latencies:seconds"
	schedSampleEvery   = 100 * time.Millisecond
)

func newSchedLatency() *schedLatency {
	s := &schedLatency{}
	s.sample[0].Name = schedLatencyMetric
	return s
}

// estimate returns the current p99 estimate, sampling first when the last
// sample is older than schedSampleEvery. A nil *schedLatency estimates 0.
func (s *schedLatency) estimate(now time.Time) time.Duration {
	if s == nil {
		return 0
	}
	if n := s.next.Load(); now.UnixNano() >= n && s.next.CompareAndSwap(n, now.Add(schedSampleEvery).UnixNano()) && s.mu.TryLock() {
		s.take()
		s.mu.Unlock()
	}
	return time.Duration(s.p99.Load())
}

func (s *schedLatency) take() {
	rtmetrics.Read(s.sample[:])
	if s.sample[0].Value.Kind() != rtmetrics.KindFloat64Histogram {
		return // not offered by this runtime: no estimate
	}
	h := s.sample[0].Value.Float64Histogram()
	q := deltaQuantile(s.prev, h.Counts, h.Buckets, 0.99)
	s.prev = append(s.prev[:0], h.Counts...)
	s.p99.Store(int64(q * float64(time.Second)))
}

// deltaQuantile is the q-quantile (upper bucket bound, seconds) of the
// observations counts gained over prev, for a runtime/metrics histogram
// with len(counts) buckets bounded by buckets[i], buckets[i+1]; 0 when
// nothing was added. A prev of another length counts as empty.
func deltaQuantile(prev, counts []uint64, buckets []float64, q float64) float64 {
	if len(prev) != len(counts) {
		prev = nil
	}
	var total uint64
	for i, c := range counts {
		if prev != nil {
			c -= prev[i]
		}
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total-1)) + 1
	var seen uint64
	for i, c := range counts {
		if prev != nil {
			c -= prev[i]
		}
		seen += c
		if seen >= rank {
			upper := buckets[i+1]
			if upper > 1e9 { // the last bucket is unbounded
				upper = buckets[i]
			}
			return upper
		}
	}
	return buckets[len(buckets)-1]
}
