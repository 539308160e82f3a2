package cluster

import (
	"context"
	"slices"

	"strata/blockstore"
)

// watcher sees the background requests the coordinator and the replica
// side make (hints, read repairs, applied changes) before they go to the
// background work. Production leaves
// it nil; the package's tests set it to assert who was hinted and what was
// repaired without depending on how the background work stores them.
type watcher struct {
	hint    func(target, key string, version uint64, deleted bool)
	repair  func(key string, version uint64, stale []string)
	applied func(key string, old, cur blockstore.Entry)
}

// hint records durably that target missed key at version (deleted: a
// tombstone), for replay when target is reachable again.
func (c *Cluster) hint(ctx context.Context, target, key string, version uint64, deleted bool) {
	if c.watch != nil && c.watch.hint != nil {
		c.watch.hint(target, key, version, deleted)
	}
	c.bg.hint(ctx, target, key, version, deleted)
}

// repair asks the background work to bring key to version on the stale
// homes (read repair); it never blocks the read.
func (c *Cluster) repair(key string, version uint64, stale []string) {
	if len(stale) == 0 {
		return
	}
	stale = slices.Clone(stale)
	if c.watch != nil && c.watch.repair != nil {
		c.watch.repair(key, version, stale)
	}
	c.bg.repair(key, version, stale)
}
