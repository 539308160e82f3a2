package cluster

import "strata/node"

// The node.Store health and counters of a cluster node are its local
// store's: a cluster node is ready while it serves reads from its own
// disks (it can still coordinate reads and proxy when some peers are
// down), and quorum failures show as 503 answers, not as unreadiness.

// Healthy is the local store's: nil while it serves reads.
func (c *Cluster) Healthy() error { return c.opts.Local.Healthy() }

// Writable is the local store's: nil while it accepts new blobs.
func (c *Cluster) Writable() error { return c.opts.Local.Writable() }

// Stats reports the local store's per-tier counters.
func (c *Cluster) Stats() []node.TierStats { return c.opts.Local.Stats() }

// Devices reports the local store's per-device counters.
func (c *Cluster) Devices() []node.DeviceStats { return c.opts.Local.Devices() }

// StoreStats reports the local store's own counters (zeros when it keeps
// none), for /metrics.
func (c *Cluster) StoreStats() node.StoreStats {
	if r, ok := c.opts.Local.(interface{ StoreStats() node.StoreStats }); ok {
		return r.StoreStats()
	}
	return node.StoreStats{}
}

// FailedDisks reports the local store's failed data disks (nil when it has
// no disks), for /readyz's failed_disks and strata_failed_disks.
func (c *Cluster) FailedDisks() []string {
	if r, ok := c.opts.Local.(interface{ FailedDisks() []string }); ok {
		return r.FailedDisks()
	}
	return nil
}

// Disks reports the local store's data disks (health, usage, scrub), for
// /metrics; nil when it has none.
func (c *Cluster) Disks() []node.DiskHealth {
	if r, ok := c.opts.Local.(interface{ Disks() []node.DiskHealth }); ok {
		return r.Disks()
	}
	return nil
}

// The interfaces the cluster is used through: node.Store and every
// optional reporter node.Server looks for on a store, so a cluster node
// exports the same metrics and /readyz body as a single node.
var _ interface {
	node.Store
	StoreStats() node.StoreStats
	FailedDisks() []string
	Disks() []node.DiskHealth
} = (*Cluster)(nil)
