package zipf

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// ErrBadParameter is wrapped by New's errors.
var ErrBadParameter = errors.New("zipf: bad parameter")

// Zipf draws ranks in [0, n) with P(i) ∝ 1/(i+1)^theta. theta == 0 is uniform.
type Zipf struct {
	n     uint64
	theta float64

	// Gray et al. constants, for 0 < theta < 1.
	zetan, eta, alpha, half float64
	// math/rand's parameters, for theta >= 1.
	s float64
}

// New returns a generator over n ranks with skew theta >= 0.
func New(n uint64, theta float64) (*Zipf, error) {
	if n == 0 {
		return nil, fmt.Errorf("%w: over zero items", ErrBadParameter)
	}
	if theta < 0 || math.IsNaN(theta) || math.IsInf(theta, 0) {
		return nil, fmt.Errorf("%w: skew %v, want >= 0", ErrBadParameter, theta)
	}
	z := &Zipf{n: n, theta: theta}
	switch {
	case theta == 0:
	case theta < 1:
		z.zetan = zeta(n, theta)
		zeta2 := zeta(2, theta)
		z.alpha = 1 / (1 - theta)
		z.eta = (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta2/z.zetan)
		z.half = 1 + math.Pow(0.5, theta)
	default:
		z.s = max(theta, 1+1e-9)
	}
	return z, nil
}

// zeta is sum_{i=1..n} 1/i^theta.
func zeta(n uint64, theta float64) float64 {
	sum := 0.0
	for i := uint64(1); i <= n; i++ {
		sum += 1 / math.Pow(float64(i), theta)
	}
	return sum
}

// N is the number of ranks.
func (z *Zipf) N() uint64 { return z.n }

// Theta is the skew.
func (z *Zipf) Theta() float64 { return z.theta }

// Next draws a rank in [0, N()); 0 is the most popular.
func (z *Zipf) Next(r *rand.Rand) uint64 {
	switch {
	case z.theta == 0 || z.n == 1:
		return r.Uint64N(z.n)
	case z.theta < 1:
		u := r.Float64()
		uz := u * z.zetan
		if uz < 1 {
			return 0
		}
		if uz < z.half {
			return 1
		}
		v := uint64(float64(z.n) * math.Pow(z.eta*u-z.eta+1, z.alpha))
		return min(v, z.n-1)
	default:
		// rand.Zipf holds per-call state, so it is built per draw from
		// the caller's source; its construction is a handful of flops.
		return rand.NewZipf(r, z.s, 1, z.n-1).Uint64()
	}
}
