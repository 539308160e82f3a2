package pace

import (
	"testing"
	"time"
)

// Every latency falls in the bucket whose bounds hold it, and buckets are
// at most 25% wide above 4µs.
func TestBuckets(t *testing.T) {
	for _, d := range []time.Duration{0, 1, time.Microsecond, 3 * time.Microsecond, 4 * time.Microsecond,
		7*time.Microsecond + 999, 8 * time.Microsecond, 999 * time.Microsecond, time.Millisecond,
		1234567 * time.Nanosecond, time.Second, time.Minute, time.Hour} {
		b := bucketOf(d)
		if up := bucketUpper(b); d >= up {
			t.Errorf("%v in bucket %d whose upper bound is %v", d, b, up)
		}
		if b > 0 {
			if low := bucketUpper(b - 1); d < low {
				t.Errorf("%v in bucket %d, below its lower bound %v", d, b, low)
			}
		}
		if d >= 4*time.Microsecond {
			low := time.Duration(0)
			if b > 0 {
				low = bucketUpper(b - 1)
			}
			if w := bucketUpper(b) - low; float64(w) > 0.25*float64(low)+1 {
				t.Errorf("bucket %d of %v is %v wide", b, d, w)
			}
		}
	}
	for b := 1; b < nBuckets; b++ {
		if bucketUpper(b) <= bucketUpper(b-1) {
			t.Fatalf("bucket bounds not increasing at %d", b)
		}
	}
	if b := bucketOf(1000 * time.Hour); b != nBuckets-1 {
		t.Fatalf("1000h in bucket %d, want the last", b)
	}
}

func TestQuantile(t *testing.T) {
	var h histogram
	if q := h.quantile(0.99); q != 0 {
		t.Fatalf("empty: %v", q)
	}
	for range 99 {
		h.counts[bucketOf(100*time.Microsecond)]++
	}
	h.counts[bucketOf(10*time.Millisecond)]++
	if q := h.quantile(0.99); q > 128*time.Microsecond || q < 100*time.Microsecond {
		t.Fatalf("p99 of 99 fast and 1 slow: %v", q)
	}
	if q := h.quantile(0.999); q < 10*time.Millisecond {
		t.Fatalf("p99.9 of 99 fast and 1 slow: %v", q)
	}
}

// Any latency lands in a bucket whose bounds hold it (the last bucket
// holds everything slower than its lower bound).
func FuzzBucketOf(f *testing.F) {
	for _, d := range []int64{0, -1, 999, 1000, 4000, 123456789, 1 << 62} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, ns int64) {
		d := time.Duration(ns)
		b := bucketOf(d)
		if b < 0 || b >= nBuckets {
			t.Fatalf("%v: bucket %d out of range", d, b)
		}
		if d <= 0 {
			if b != 0 {
				t.Fatalf("%v: bucket %d, want 0", d, b)
			}
			return
		}
		if b < nBuckets-1 && d >= bucketUpper(b) {
			t.Fatalf("%v in bucket %d whose upper bound is %v", d, b, bucketUpper(b))
		}
		if b > 0 && d < bucketUpper(b-1) {
			t.Fatalf("%v in bucket %d, below its lower bound %v", d, b, bucketUpper(b-1))
		}
	})
}
