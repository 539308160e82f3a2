package main

import (
	"context"
	"sync/atomic"

	"strata/blockstore"
	"strata/node"
)

// tombstoneHook is the store's TombstoneDroppable in cluster mode. The
// store opens before the cluster exists, so the cluster's
// TombstoneDroppable is bound late; until then (and for a nil hook) it
// answers false: compaction keeps every tombstone.
type tombstoneHook struct {
	f atomic.Pointer[func(context.Context, blockstore.Entry) bool]
}

// bind makes the hook answer with f from now on.
func (h *tombstoneHook) bind(f func(context.Context, blockstore.Entry) bool) { h.f.Store(&f) }

func (h *tombstoneHook) droppable(ctx context.Context, e blockstore.Entry) bool {
	if h == nil {
		return false
	}
	f := h.f.Load()
	return f != nil && (*f)(ctx, e)
}

// applyCompaction sets cfg's compaction settings in o. In cluster mode the
// tombstone grace is the cluster's, and a tombstone past it is dropped only
// when hook (bound to the cluster's TombstoneDroppable once the cluster is
// up) agrees.
func applyCompaction(cfg node.Config, o *blockstore.Options, hook *tombstoneHook) {
	cfg.ApplyCompactOptions(o)
	if cfg.Cluster.Enabled() {
		o.TombstoneGrace = cfg.Cluster.TombstoneGrace
		o.TombstoneDroppable = hook.droppable
	}
}
