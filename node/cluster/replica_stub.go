package cluster

// Minimal replica applies for the background work and its tests, until
// the coordinator's replica.go lands (the lead drops this file at merge):
// per-key lock, Lookup before, apply, Lookup after, noteApplied.

import (
	"context"
	"errors"
	"io"

	"strata/blockstore"
	"strata/node/replication"
)

// lockKey takes key's replica-apply lock (replica.go's c.locks.lock once
// it lands: rebalancing drops under it).
func (c *Cluster) lockKey(ctx context.Context, key string) (func(), error) {
	mu := &c.bg.stubLocks[replication.BucketOf(key)%len(c.bg.stubLocks)]
	mu.Lock()
	return mu.Unlock, nil
}

func (c *Cluster) lookupLocal(ctx context.Context, key string) (blockstore.Entry, error) {
	e, err := c.opts.Local.Lookup(ctx, key)
	if errors.Is(err, blockstore.ErrNotFound) {
		return blockstore.Entry{}, nil
	}
	return e, err
}

// ApplyPut stores a replica write at opts.Version (last writer wins).
func (c *Cluster) ApplyPut(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	unlock, err := c.lockKey(ctx, key)
	if err != nil {
		return blockstore.Info{}, err
	}
	defer unlock()
	old, err := c.lookupLocal(ctx, key)
	if err != nil {
		return blockstore.Info{}, err
	}
	c.opts.Local.ObserveVersion(opts.Version)
	info, err := c.opts.Local.Put(ctx, key, r, size, opts)
	if err != nil {
		return blockstore.Info{}, err
	}
	if cur, err := c.lookupLocal(ctx, key); err == nil {
		c.bg.noteApplied(key, old, cur)
	}
	return info, nil
}

// ApplyDelete writes a tombstone at version.
func (c *Cluster) ApplyDelete(ctx context.Context, key string, version uint64) error {
	unlock, err := c.lockKey(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	old, err := c.lookupLocal(ctx, key)
	if err != nil {
		return err
	}
	c.opts.Local.ObserveVersion(version)
	if err := c.opts.Local.Delete(ctx, key, blockstore.DeleteOptions{Version: version}); err != nil && !errors.Is(err, blockstore.ErrNotFound) {
		return err
	}
	if cur, err := c.lookupLocal(ctx, key); err == nil {
		c.bg.noteApplied(key, old, cur)
	}
	return nil
}

// Lookup returns the local index entry (tombstones included).
func (c *Cluster) Lookup(ctx context.Context, key string) (blockstore.Entry, error) {
	return c.opts.Local.Lookup(ctx, key)
}
