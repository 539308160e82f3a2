package cluster

import (
	"context"

	"strata/blockstore"
	"strata/node/replication"
)

// TombstoneDroppable reports whether compaction may drop the local
// tombstone e: past Options.TombstoneGrace since the delete, and held (or
// superseded by something newer) on every home replica of the key, asked
// now through Lookup. A home that is unreachable or lacks it keeps the
// tombstone, whatever the clock says, so its older copy cannot come back.
// Non-home nodes still holding an older copy are the grace period's
// business: rebalancing moves or drops such copies long before it ends.
func (c *Cluster) TombstoneDroppable(ctx context.Context, e blockstore.Entry) bool {
	grace := c.opts.TombstoneGrace
	now := c.opts.Now()
	// The clock first: within the grace no home is asked.
	if !e.Deleted || !replication.TombstoneDroppable(now, e.Version, grace, true) {
		return false
	}
	v := c.currentView()
	homes := v.homes(e.Key, c.opts.Replicas)
	if len(homes) == 0 {
		return false
	}
	for _, m := range homes {
		if m.ID != v.self.ID && !m.Reachable() {
			return false
		}
		got, err := c.lookupOn(ctx, v.self.ID, m, e.Key)
		if err != nil || got.Version < e.Version {
			return false
		}
	}
	return true
}
