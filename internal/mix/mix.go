// Package mix holds the one 64-bit bit mixer the project's hashes share
// (the cache's item hashes, the simulator's sketch, cluster placement), so
// they cannot drift apart and placement stays stable across processes and
// Go versions: it depends on no seed and no runtime hash.
package mix

// Mix64 is the splitmix64 finalizer: a bijection on uint64 whose every
// output bit depends on every input bit.
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
