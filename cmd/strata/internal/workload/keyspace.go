package workload

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// KeySpace maps popularity ranks to key indexes in [0, n). The mapping is a
// fixed pseudo-random permutation (so hot keys are not neighbours in key
// order) rotated by the churn: every second, churn*n ranks move. Rank 0 at
// time t is the key that was coldest just before, so new keys become hot and
// the formerly hot ones cool down gradually, as fresh content does.
type KeySpace struct {
	n     uint64
	mul   uint64 // coprime with n
	add   uint64
	churn float64 // fraction of n shifted per second
}

// NewKeySpace returns a key space of n keys with churn in [0, 1] per second.
// seed picks the permutation.
func NewKeySpace(n uint64, churn float64, seed uint64) (*KeySpace, error) {
	if n == 0 {
		return nil, fmt.Errorf("%w: key space of zero keys", ErrBadParameter)
	}
	if churn < 0 || churn > 1 || math.IsNaN(churn) {
		return nil, fmt.Errorf("%w: churn %v, want 0..1 (fraction of keys per second)", ErrBadParameter, churn)
	}
	ks := &KeySpace{n: n, churn: churn, add: seed % n}
	// A multiplier near n/phi, coprime with n, scatters consecutive ranks.
	m := uint64(float64(n)*0.6180339887) | 1
	for gcd(m, n) != 1 {
		m++
	}
	ks.mul = m % n
	if ks.mul == 0 {
		ks.mul = 1
	}
	return ks, nil
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// N is the number of keys.
func (ks *KeySpace) N() uint64 { return ks.n }

// Shift is how many ranks the hot set has moved after elapsed.
func (ks *KeySpace) Shift(elapsed time.Duration) uint64 {
	if ks.churn == 0 || elapsed <= 0 {
		return 0
	}
	return uint64(ks.churn*float64(ks.n)*elapsed.Seconds()) % ks.n
}

// Key maps rank (0 = hottest) to a key index, after elapsed time of churn.
func (ks *KeySpace) Key(rank uint64, elapsed time.Duration) uint64 {
	x := (rank%ks.n + ks.n - ks.Shift(elapsed)) % ks.n
	hi, lo := bits.Mul64(x, ks.mul)
	return (bits.Rem64(hi, lo, ks.n) + ks.add) % ks.n
}
