package placement

import (
	"math"

	"strata/internal/mix"
)

// FNV-1a constants; FNV is stable across processes and Go versions, which
// placement needs (every node must compute the same homes), unlike maphash.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// hashString is FNV-1a over s, finished by mix.Mix64 because FNV alone avalanches
// poorly on short, similar keys ("k1", "k2").
func hashString(s string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return mix.Mix64(h)
}

// score is the weighted rendezvous score of one member for one key:
// -weight / ln(u) with u uniform in (0,1) drawn from the pair's hash. The
// member with the highest score wins, and each member wins with probability
// weight / total weight (the logarithmic method of Schindelhauer and
// Schomaker), so changing one weight moves only keys to or from that member.
func score(keyHash, memberHash uint64, weight float64) float64 {
	h := mix.Mix64(keyHash ^ memberHash)
	// The top 53 bits, offset by half a step, give u strictly inside (0,1).
	u := (float64(h>>11) + 0.5) / (1 << 53)
	return -weight / math.Log(u)
}
