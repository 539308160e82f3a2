//go:build race

package ioengine

// raceEnabled: sync.Pool drops items at random under the race detector, so
// allocation-count tests of pooled paths are skipped.
const raceEnabled = true
