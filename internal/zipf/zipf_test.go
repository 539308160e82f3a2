package zipf

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// TestZipfShape checks the empirical frequency of the top ranks against the
// exact Zipf probabilities, for skews on both sides of 1 and uniform.
func TestZipfShape(t *testing.T) {
	const n, draws = 1000, 200000
	for _, theta := range []float64{0, 0.5, 0.99, 1.2} {
		z, err := New(n, theta)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(7, uint64(theta*100)))
		counts := make([]int, n)
		for range draws {
			v := z.Next(r)
			if v >= n {
				t.Fatalf("theta %v: rank %d out of range", theta, v)
			}
			counts[v]++
		}
		norm := 0.0
		for i := 1; i <= n; i++ {
			norm += math.Pow(float64(i), -theta)
		}
		// Gray's generator is exact for ranks 0 and 1 and approximate
		// beyond; compare the head and a rank further out loosely.
		for _, rank := range []int{0, 1, 9} {
			want := math.Pow(float64(rank+1), -theta) / norm
			got := float64(counts[rank]) / draws
			if math.Abs(got-want) > 0.25*want+0.002 {
				t.Errorf("theta %v: P(rank %d) = %.4f, want %.4f", theta, rank, got, want)
			}
		}
	}
	if _, err := New(0, 1); !errors.Is(err, ErrBadParameter) {
		t.Error("New(0) accepted")
	}
	if _, err := New(10, -1); !errors.Is(err, ErrBadParameter) {
		t.Error("New(theta -1) accepted")
	}
}
