// Package workload generates the request stream of `strata bench`: which key
// to touch next (uniform, or Zipf-skewed with a hot set that drifts over time)
// and how large each written blob is (one size or a weighted mix).
//
// # Basics
//
// Popularity ranks come from strata/internal/zipf, the generator the cache
// simulator uses too. KeySpace maps ranks to key indexes through a fixed
// permutation, shifted over time by the churn rate so the hottest keys
// cool down and cold ones become hot. SizeMix parses "4KiB" or
// "4KiB:80,1MiB:20" (each size read by node.ParseSize, as in a config file)
// and draws sizes with those weights.
//
// All generators are immutable after construction and safe for concurrent
// use; randomness comes from the *rand.Rand the caller passes, one per worker,
// so a run is reproducible from its seed.
package workload
