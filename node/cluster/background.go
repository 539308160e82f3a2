package cluster

import (
	"context"
	"errors"

	"strata/blockstore"
	"strata/node/replication"
)

// background owns hints, anti-entropy digests and rebalancing. (Stub: the
// hints/anti-entropy engineer replaces this file.)
type background struct{ c *Cluster }

func newBackground(c *Cluster) (*background, error) { return &background{c: c}, nil }

// start runs the background loops until ctx ends.
func (b *background) start(ctx context.Context) {}

// close waits for the loops and closes the hint store.
func (b *background) close() error { return nil }

// viewChanged is called (from the membership watcher) with the old view
// (nil at start) and the new one.
func (b *background) viewChanged(old, cur *view) {}

// noteApplied is called after a local replica apply changed key's entry
// from old to cur (old.Version 0: none), under the key's lock.
func (b *background) noteApplied(key string, old, cur blockstore.Entry) {}

// hint records durably that target missed key at version (deleted: a
// tombstone); replay copies it when target is reachable again.
func (b *background) hint(ctx context.Context, target, key string, version uint64, deleted bool) {}

// repair asks for key to be brought to version on the stale members
// (read repair): bounded, in the background, never blocking the caller.
func (b *background) repair(key string, version uint64, stale []string) {}

// digest is the local anti-entropy digest of the keys shared with forPeer
// (peer.Backend's Digest).
func (b *background) digest(ctx context.Context, forPeer string) (replication.Digest, error) {
	return replication.Digest{}, errors.New("cluster: anti-entropy digests not built yet")
}

// entries lists the local entries of the keys shared with forPeer in the
// given digest buckets, after startAfter, in key order (peer.Backend's
// Entries).
func (b *background) entries(ctx context.Context, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error) {
	return nil, errors.New("cluster: anti-entropy entries not built yet")
}

// status reports hints, anti-entropy and rebalancing progress for Status
// (JSON-friendly).
func (b *background) status() any { return struct{}{} }
