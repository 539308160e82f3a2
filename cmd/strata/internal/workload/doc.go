// Package workload generates the request stream of `strata bench`: which key
// to touch next (uniform, or Zipf-skewed with a hot set that drifts over time)
// and how large each written blob is (one size or a weighted mix).
//
// # Basics
//
// Zipf draws ranks in [0, n) with P(rank = i) proportional to 1/(i+1)^theta.
// For 0 < theta < 1 (YCSB's default is 0.99) it uses the closed-form
// generator of Gray et al., "Quickly Generating Billion-Record Synthetic
// Databases" (SIGMOD 1994), as YCSB does; math/rand's Zipf only covers
// theta > 1, which it is used for. KeySpace maps ranks to key indexes through
// a fixed permutation, shifted over time by the churn rate so the hottest keys
// cool down and cold ones become hot. SizeMix parses "4KiB" or
// "4KiB:80,1MiB:20" and draws sizes with those weights.
//
// All generators are immutable after construction and safe for concurrent
// use; randomness comes from the *rand.Rand the caller passes, one per worker,
// so a run is reproducible from its seed.
//
// # Caveats
//
// Building a Zipf for theta < 1 costs O(n) (the zeta constant); a hundred
// million keys take about a second. theta == 1 exactly is served by
// math/rand's generator with theta nudged to 1+1e-9.
package workload
