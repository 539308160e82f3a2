package cluster

import (
	"context"

	"strata/blockstore"
)

// repairRequest asks for key to be brought to version on the stale homes.
type repairRequest struct {
	key     string
	version uint64
	stale   []string
}

// repair asks for key to be brought to version on the stale members
// (read repair): bounded, in the background, never blocking the caller.
// When the queue is full the request is dropped (counted): anti-entropy
// finds the same difference on its next round.
func (b *background) repair(key string, version uint64, stale []string) {
	if version == 0 || len(stale) == 0 {
		return
	}
	select {
	case b.repairs <- repairRequest{key: key, version: version, stale: append([]string(nil), stale...)}:
		b.counters.repairsQueued.Add(1)
	default:
		b.counters.repairsDropped.Add(1)
	}
}

func (b *background) repairLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-b.repairs:
			b.repairOne(ctx, req)
		}
	}
}

// repairOne copies the newest version the cluster holds (at least
// req.version) from a holder, this node first, to each stale home that
// still lacks it.
func (b *background) repairOne(ctx context.Context, req repairRequest) {
	c := b.c
	v := c.currentView()
	homes := v.homes(req.key, c.opts.Replicas)
	want := blockstore.Entry{Info: blockstore.Info{Key: req.key, Version: req.version}}
	skip := make(map[string]bool, len(req.stale))
	for _, id := range req.stale {
		skip[id] = true
	}
	src, held, _, err := c.findSource(ctx, v, req.key, want, homes, skip)
	if err != nil {
		c.log.Debug("cluster: read repair found no source", "key", req.key, "err", err)
		return
	}
	for _, id := range req.stale {
		m, ok := v.byID[id]
		if !ok || !v.isHome(req.key, c.opts.Replicas, id) || (id != v.self.ID && !m.Reachable()) {
			continue
		}
		if _, err := c.copyEntry(ctx, v.self.ID, src, m, req.key, held); err != nil {
			c.log.Debug("cluster: read repair", "key", req.key, "to", id, "err", err)
			continue
		}
		b.counters.repairsDone.Add(1)
	}
}

// RepairCorrupt queues a background copy of key, at version or newer, from
// another holder to this node: the local store found its copy of the key's
// current version corrupt (blockstore Options.OnCorrupt, called by the
// scrub; cmd wires it once the cluster exists). It never blocks: the
// request joins the read repairs' bounded queue and is dropped (counted in
// RepairsDropped) when the queue is full; anti-entropy pulls the key on a
// later round, since a corrupt entry never counts as holding its version.
func (c *Cluster) RepairCorrupt(key string, version uint64) {
	c.bg.repair(key, version, []string{c.currentView().self.ID})
}
