package pace

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Latencies are counted in microseconds, in logarithmic buckets: 0..3 µs
// exactly, then 4 buckets per power of two, up to maxExp.
const (
	subBits  = 2
	subCount = 1 << subBits
	maxExp   = 36 // 2^36 µs, about 19 hours: everything slower shares the last bucket
	nBuckets = subCount * (maxExp - subBits + 1)
)

// bucketOf is the bucket of a latency.
func bucketOf(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	v := uint64(d / time.Microsecond)
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(v) // v in [2^(e-1), 2^e)
	if e > maxExp {
		return nBuckets - 1
	}
	sub := int(v>>(e-1-subBits)) & (subCount - 1)
	return subCount*(e-subBits) + sub
}

// bucketUpper is the least latency above every latency in bucket b.
func bucketUpper(b int) time.Duration {
	if b < subCount {
		return time.Duration(b+1) * time.Microsecond
	}
	e := b/subCount + subBits
	sub := uint64(b % subCount)
	width := uint64(1) << (e - 1 - subBits)
	lower := uint64(1)<<(e-1) + sub*width
	return time.Duration(lower+width) * time.Microsecond
}

// slot counts what happened in one Interval.
type slot struct {
	epoch  atomic.Int64  // the interval these counts belong to
	bytes  atomic.Uint64 // upload bytes
	counts [nBuckets]atomic.Uint32
}

// histogram is a sum of slots.
type histogram struct {
	reads  uint64
	bytes  uint64
	counts [nBuckets]uint64
}

func (h *histogram) add(s *slot) {
	h.bytes += s.bytes.Load()
	for i := range s.counts {
		n := uint64(s.counts[i].Load())
		h.counts[i] += n
		h.reads += n
	}
}

// quantile is the upper bound of the bucket holding the q quantile, or 0
// without reads.
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for _, n := range h.counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	// The rank of the q quantile, 1-based: the smallest rank with at least
	// q of the observations at or below it.
	rank := uint64(q*float64(total) + 0.999999)
	rank = max(1, min(rank, total))
	var seen uint64
	for b, n := range h.counts {
		seen += n
		if seen >= rank {
			return bucketUpper(b)
		}
	}
	return bucketUpper(nBuckets - 1)
}
