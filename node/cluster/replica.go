package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"

	"strata/blockstore"
	"strata/node"
	"strata/node/replication"
)

// This file is the replica side, what node/peer's internal routes serve
// (peer.Backend), and what the coordinator uses for its own home copy.
// Every apply goes through here so the anti-entropy digests follow every
// change (noteApplied sees the entry before and after, in order).

// ApplyPut stores a replica write at opts.Version (never 0; last writer
// wins) and returns once it is durable, with what this node then holds: a
// higher Version means the node already held something newer, which is
// durable too.
//
// The key's lock is taken when the body is complete, not while it streams:
// two coordinators fanning out the same key would otherwise deadlock until
// ReplicaTimeout (each one's apply on one replica waiting for the lock held
// by the other's apply, which waits for body bytes its coordinator cannot
// send because its fan-out is paced by the first). The entry only changes
// once the whole body is in, so the lock still brackets the change.
func (c *Cluster) ApplyPut(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	if err := blockstore.ValidateKey(key); err != nil {
		return blockstore.Info{}, err
	}
	if opts.Version == 0 {
		return blockstore.Info{}, fmt.Errorf("%w: replica write of %q without a version", blockstore.ErrInvalidArgument, key)
	}
	c.opts.Local.ObserveVersion(opts.Version)
	body := &lockAtEnd{r: r, remaining: size, lock: func() error { return nil }}
	var old blockstore.Entry
	var unlock func()
	body.lock = func() error {
		u, err := c.locks.Lock(ctx, key)
		if err != nil {
			return err
		}
		unlock = u
		old, err = c.localEntry(ctx, key)
		return err
	}
	if size == 0 {
		// No body read may ever happen: lock before the store commits.
		if err := body.takeLock(); err != nil {
			return blockstore.Info{}, err
		}
	}
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()
	info, err := c.opts.Local.Put(ctx, key, body, size, opts)
	if err != nil {
		return blockstore.Info{}, err
	}
	if !body.locked {
		// The store answered without taking the whole body: it held a
		// version at least as new and wrote nothing, so no digest changes.
		return info, nil
	}
	c.noteApplied(ctx, key, old, blockstore.Entry{Info: info})
	return info, nil
}

// ApplyDelete writes a tombstone at version (never 0); durable on return.
// It succeeds whether or not a live blob was there, and also when the node
// already holds something at least as new (last writer wins).
func (c *Cluster) ApplyDelete(ctx context.Context, key string, version uint64) error {
	_, err := c.applyDelete(ctx, key, version)
	return err
}

// applyDelete is ApplyDelete that also reports whether a live blob older
// than version was there (the coordinator answers ErrNotFound when no home
// had one).
func (c *Cluster) applyDelete(ctx context.Context, key string, version uint64) (hadLive bool, err error) {
	if err := blockstore.ValidateKey(key); err != nil {
		return false, err
	}
	if version == 0 {
		return false, fmt.Errorf("%w: replica delete of %q without a version", blockstore.ErrInvalidArgument, key)
	}
	c.opts.Local.ObserveVersion(version)
	unlock, err := c.locks.Lock(ctx, key)
	if err != nil {
		return false, err
	}
	defer unlock()
	old, err := c.localEntry(ctx, key)
	if err != nil {
		return false, err
	}
	// A versioned delete writes the tombstone whenever it is newer and
	// reports ErrNotFound when no live blob was there: that is durable too.
	if err := c.opts.Local.Delete(ctx, key, blockstore.DeleteOptions{Version: version}); err != nil && !errors.Is(err, blockstore.ErrNotFound) {
		return false, err
	}
	c.noteApplied(ctx, key, old, blockstore.Entry{Info: blockstore.Info{Key: key, Version: version}, Deleted: true})
	return old.Version != 0 && old.Version < version && !old.Deleted, nil
}

// noteApplied tells the background work the key's entry changed from old,
// looking the new one up (if that fails: applied, what the apply made of it).
func (c *Cluster) noteApplied(ctx context.Context, key string, old, applied blockstore.Entry) {
	cur, err := c.localEntry(ctx, key)
	if err != nil {
		c.log.Warn("cluster: lookup after a replica apply", "key", key, "err", err)
		cur = applied
	}
	if c.watch != nil && c.watch.applied != nil {
		c.watch.applied(key, old, cur)
	}
	c.bg.noteApplied(key, old, cur)
}

// localEntry is the local index entry of key; the zero Entry (Version 0)
// when there is none.
func (c *Cluster) localEntry(ctx context.Context, key string) (blockstore.Entry, error) {
	e, err := c.opts.Local.Lookup(ctx, key)
	if errors.Is(err, blockstore.ErrNotFound) {
		return blockstore.Entry{}, nil
	}
	return e, err
}

// Lookup returns the local index entry of key (tombstones and corrupt
// entries included); errors wrap ErrNotFound when there is none.
func (c *Cluster) Lookup(ctx context.Context, key string) (blockstore.Entry, error) {
	return c.opts.Local.Lookup(ctx, key)
}

// OpenLocal opens this node's current version of key.
func (c *Cluster) OpenLocal(ctx context.Context, key string) (node.Object, error) {
	return c.opts.Local.Open(ctx, key)
}

// Digest is the local anti-entropy digest of the keys shared with forPeer.
func (c *Cluster) Digest(ctx context.Context, forPeer string) (replication.Digest, error) {
	return c.bg.digest(ctx, forPeer)
}

// Entries lists local entries of the keys shared with forPeer in the given
// digest buckets, after startAfter, in key order. Asked for the keys this
// node shares with itself (forPeer its own ID) and no buckets, it lists
// every local entry (tombstones included): the coordinator's scatter-gather
// listing (list.go) reads its peers that way.
func (c *Cluster) Entries(ctx context.Context, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error) {
	if len(buckets) == 0 && forPeer == c.currentView().self.ID {
		return c.opts.Local.Scan(ctx, startAfter, limit)
	}
	return c.bg.entries(ctx, forPeer, buckets, startAfter, limit)
}

// lockAtEnd passes a body through and calls lock once the body is complete
// (size bytes read, or EOF when the size is unknown), before handing the
// store the last bytes, so the store cannot commit before the lock is held.
type lockAtEnd struct {
	r         io.Reader
	remaining int64 // bytes still expected; -1 unknown
	lock      func() error
	locked    bool
	err       error
}

func (b *lockAtEnd) takeLock() error {
	if b.locked {
		return nil
	}
	if err := b.lock(); err != nil {
		b.err = err
		return err
	}
	b.locked = true
	return nil
}

func (b *lockAtEnd) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	if b.remaining >= 0 {
		b.remaining -= int64(n)
	}
	if err == io.EOF || (b.remaining == 0 && n > 0) {
		if lerr := b.takeLock(); lerr != nil {
			return 0, lerr
		}
	}
	return n, err
}
