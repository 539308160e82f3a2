// Package zipf draws Zipf-distributed ranks: rank i in [0, n) with
// probability proportional to 1/(i+1)^theta. It is the one generator behind
// both the cache simulator (tiering) and `strata bench` (its workload), so a
// simulated trace and a benchmark with the same skew mean the same thing.
//
// # Basics
//
// For 0 < theta < 1 (YCSB's default is 0.99) New uses the closed-form
// generator of Gray et al., "Quickly Generating Billion-Record Synthetic
// Databases" (SIGMOD 1994), as YCSB does; math/rand's Zipf only covers
// theta > 1, which it is used for. theta == 0 is uniform. A Zipf is
// immutable after New and safe for concurrent use; randomness comes from the
// *rand.Rand the caller passes.
//
// # Caveats
//
// New costs O(n) for theta < 1 (the zeta constant); a hundred million ranks
// take about a second. theta == 1 exactly is served by math/rand's generator
// with theta nudged to 1+1e-9. Gray's generator is exact for ranks 0 and 1
// and approximate beyond.
package zipf
