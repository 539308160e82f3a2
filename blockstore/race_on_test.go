//go:build race

package blockstore

// raceEnabled: the race detector makes sync.Pool drop buffers on purpose,
// so memory bounds are not checked under it.
const raceEnabled = true
