package cluster

import (
	"context"
	"errors"
	"fmt"

	"strata/blockstore"
	"strata/node/membership"
)

// Delete writes a tombstone at a new version on the key's home replicas in
// parallel and returns once W of them made it durable (strict, as Put;
// dead homes are hinted). It returns an error wrapping ErrNotFound, after
// the tombstones are durable, when none of the homes that acked had a live
// blob, as the single store does: the tombstone still hides any older copy
// a home that did not answer may hold.
func (c *Cluster) Delete(ctx context.Context, key string, opts blockstore.DeleteOptions) error {
	if err := blockstore.ValidateKey(key); err != nil {
		return err
	}
	v := c.currentView()
	version, err := c.writeVersion(ctx, opts.Version)
	if err != nil {
		return err
	}
	op, send := c.newWriteOp(v, "delete", key, version, true, v.homes(key, c.opts.Replicas))
	if !op.possible() {
		return op.noQuorum()
	}
	c.stragglers.Add(len(send) + 1)
	for _, home := range send {
		go c.replicaDelete(ctx, op, v.self.ID, home, key, version)
	}
	go op.collect(context.WithoutCancel(ctx))
	if err := op.wait(ctx); err != nil {
		return err
	}
	op.mu.Lock()
	hadLive := op.hadLive
	op.mu.Unlock()
	if !hadLive {
		return fmt.Errorf("cluster: delete %q: %w (tombstone at version %d written)", key, blockstore.ErrNotFound, version)
	}
	return nil
}

// replicaDelete writes the tombstone on one home, bounded by
// ReplicaTimeout, and reports whether that home had a live blob. A remote
// home is asked first (index only); when that lookup fails the answer is
// taken as "maybe live", so a failed lookup never turns a delete into 404.
func (c *Cluster) replicaDelete(ctx context.Context, op *writeOp, self string, home membership.Member, key string, version uint64) {
	defer c.stragglers.Done()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.ReplicaTimeout)
	defer cancel()
	var hadLive bool
	var err error
	if home.ID == self {
		hadLive, err = c.applyDelete(rctx, key, version)
	} else {
		e, lerr := c.opts.Peer.Lookup(rctx, home.HTTPAddr, key)
		switch {
		case lerr == nil:
			hadLive = !e.Deleted && e.Version < version
		case errors.Is(lerr, blockstore.ErrNotFound):
		default:
			hadLive = true
		}
		err = c.opts.Peer.DeleteReplica(rctx, home.HTTPAddr, key, version)
	}
	timedOut := err != nil && errors.Is(rctx.Err(), context.DeadlineExceeded)
	op.reply(replicaResult{home: home.ID, hadLive: hadLive, err: err, timedOut: timedOut})
}
