package replication

import "time"

// VersionTime is the wall time of a hybrid logical clock version (wall
// milliseconds << 16 | counter).
func VersionTime(version uint64) time.Time {
	return time.UnixMilli(int64(version >> 16))
}

// TombstoneDroppable reports whether a tombstone written at version may be
// dropped by compaction at now: only once the grace period has passed since
// the delete (longer than any outage expected, so a replica that was down
// comes back and learns the delete first), and only when every home
// replica holds the tombstone or something newer. A home that lacks it
// keeps the tombstone alive whatever the clock says: without it, that
// home's older blob would come back through anti-entropy.
func TombstoneDroppable(now time.Time, version uint64, grace time.Duration, heldByAllHomes bool) bool {
	if !heldByAllHomes || version == 0 {
		return false
	}
	return !now.Before(VersionTime(version).Add(grace))
}
