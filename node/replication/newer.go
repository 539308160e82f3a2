package replication

import "strata/blockstore"

// (The coordinator's read.go defines the same Newer; whichever lands
// second drops this file.)

// Newer reports whether entry a supersedes entry b under last writer wins:
// a higher version, or at equal versions tombstone over blob over corrupt.
// A zero Entry (no entry) is superseded by anything.
func Newer(a, b blockstore.Entry) bool {
	if a.Version != b.Version {
		return a.Version > b.Version
	}
	return rank(a) > rank(b)
}

func rank(e blockstore.Entry) int {
	switch {
	case e.Version == 0:
		return -1
	case e.Deleted:
		return 2
	case e.Corrupt:
		return 0
	}
	return 1
}
