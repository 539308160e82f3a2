package cluster

import (
	"context"

	"strata/blockstore"
	"strata/node"
	"strata/tiering"
)

// LocalTiered adapts this node's tiered store to Local: node.Tiered for the
// node.Store part, the tiered store itself for the index lookups, the
// version clock and Drop (tiering.Store.Drop: forget the copy at one
// version, for rebalancing).
func LocalTiered(s *tiering.Store) Local { return localTiered{Store: node.Tiered(s), tiered: s} }

type localTiered struct {
	node.Store
	tiered *tiering.Store
}

var _ interface {
	Drop(ctx context.Context, key string, version uint64) error
} = localTiered{}

// The optional reporters of node.Tiered's store (the embedded node.Store
// interface hides them), passed through so Cluster's find them.

func (l localTiered) StoreStats() node.StoreStats {
	if r, ok := l.Store.(interface{ StoreStats() node.StoreStats }); ok {
		return r.StoreStats()
	}
	return node.StoreStats{}
}

func (l localTiered) FailedDisks() []string {
	if r, ok := l.Store.(interface{ FailedDisks() []string }); ok {
		return r.FailedDisks()
	}
	return nil
}

func (l localTiered) Disks() []node.DiskHealth {
	if r, ok := l.Store.(interface{ Disks() []node.DiskHealth }); ok {
		return r.Disks()
	}
	return nil
}

func (l localTiered) Lookup(ctx context.Context, key string) (blockstore.Entry, error) {
	return l.tiered.Lookup(ctx, key)
}

func (l localTiered) Scan(ctx context.Context, startAfter string, limit int) ([]blockstore.Entry, error) {
	return l.tiered.Scan(ctx, startAfter, limit)
}

func (l localTiered) NextVersion() uint64 { return l.tiered.NextVersion() }

func (l localTiered) ObserveVersion(v uint64) { l.tiered.ObserveVersion(v) }

func (l localTiered) Drop(ctx context.Context, key string, version uint64) error {
	return l.tiered.Drop(ctx, key, version)
}

// Compose passes node.Tiered's compose through (the embedded node.Store
// interface hides it), so a replica composes in its own store.
func (l localTiered) Compose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	composer, ok := l.Store.(node.Composer)
	if !ok {
		return blockstore.Info{}, errNoLocalCompose
	}
	return composer.Compose(ctx, key, parts, opts)
}
