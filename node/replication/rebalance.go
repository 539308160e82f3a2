package replication

// MoveAction is what rebalancing does with one local entry after the
// membership changed.
type MoveAction int

const (
	// Keep: this node is still a home of the key.
	Keep MoveAction = iota
	// PushThenDrop: this node is no longer a home; every new home must
	// hold the entry's version (pushed from here if not) before the local
	// copy is dropped, so the key never has fewer copies on its way.
	PushThenDrop
)

// PlanMove decides what to do with a local entry whose homes are now
// newHomes: Keep while self is one of them, else PushThenDrop to every
// home in Targets (all of newHomes: each must confirm it holds the
// version, and the ones that do not get it pushed).
func PlanMove(self string, newHomes []string) (MoveAction, []string) {
	for _, h := range newHomes {
		if h == self {
			return Keep, nil
		}
	}
	return PushThenDrop, newHomes
}

// DropAllowed reports whether a local copy may be dropped after a push:
// only when there is at least one home and every one confirmed it holds
// the version (a failed or unreachable home keeps the local copy until a
// later pass).
func DropAllowed(homes []string, confirmed map[string]bool) bool {
	if len(homes) == 0 {
		return false
	}
	for _, h := range homes {
		if !confirmed[h] {
			return false
		}
	}
	return true
}
