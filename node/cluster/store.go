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

// The interfaces the cluster is used through.
var _ node.Store = (*Cluster)(nil)
