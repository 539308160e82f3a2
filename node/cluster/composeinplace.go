package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"strata/blockstore"
	"strata/node"
	"strata/node/membership"
	"strata/node/placement"
)

// errNoLocalCompose: this node's store cannot compose (it is not a
// node.Composer); a coordinator counts it as a failed ack.
var errNoLocalCompose = errors.New("cluster: the local store cannot compose")

// colocated reports whether every part has key's homes under every member
// list: its placement hash is key's (placement.Colocate).
func colocated(key string, parts []string) bool {
	h := placement.KeyHash(key)
	for _, p := range parts {
		if placement.KeyHash(p) != h {
			return false
		}
	}
	return true
}

// composeInPlace composes co-located parts on each of key's homes in its
// own store: every reachable home gets a compose at one version the
// coordinator chose (locally through ApplyCompose, the others through
// Peer.ComposeReplica), so no content byte moves. A home missing a part
// gets the part copied from a home that has it and is asked once more;
// still failing, it is a failed ack. W acks: success; fewer: an error
// wrapping replication.ErrNoQuorum. With the quorum reached it still waits
// for every home's answer (each bounded by ReplicaTimeout), so the parts
// are deleted only after the stragglers composed. Homes that did not ack (dead, failed)
// are hinted with the composed key, and the hint's replay copies the
// composed blob's bytes there; the parts are then deleted through the
// cluster (versioned tombstones on every home, dead ones hinted).
func (c *Cluster) composeInPlace(ctx context.Context, key string, parts []string, total int64, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	v := c.currentView()
	var err error
	if opts.Version, err = c.writeVersion(ctx, opts.Version); err != nil {
		return blockstore.Info{}, err
	}
	op, send := c.newWriteOp(v, "compose", key, opts.Version, false, v.homes(key, c.opts.Replicas))
	if !op.possible() {
		return blockstore.Info{}, op.noQuorum()
	}
	c.stragglers.Add(len(send) + 1)
	var all sync.WaitGroup
	all.Add(len(send))
	for _, home := range send {
		go func() {
			defer all.Done()
			c.replicaCompose(ctx, op, v, home, key, parts, opts)
		}()
	}
	go op.collect(context.WithoutCancel(ctx))
	if err := op.wait(ctx); err != nil {
		return blockstore.Info{}, err
	}
	// The caller deletes the parts next: a home still composing would find
	// them gone and need the composed blob's bytes. Each compose is bounded
	// by ReplicaTimeout, so this wait is too.
	done := make(chan struct{})
	go func() { all.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return op.putInfo(v.self.ID, total, blockstore.PutOptions{ContentType: opts.ContentType, Meta: opts.Meta}), nil
}

// replicaCompose runs the compose on one home, bounded by ReplicaTimeout,
// copying missing parts to it once if it reports one missing. The copy
// counts against the same ReplicaTimeout: a large missing part that cannot
// be copied in time makes a failed ack (hinted), not a stuck Complete.
func (c *Cluster) replicaCompose(ctx context.Context, op *writeOp, v *view, home membership.Member, key string, parts []string, opts blockstore.ComposeOptions) {
	defer c.stragglers.Done()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.ReplicaTimeout)
	defer cancel()
	info, err := c.composeOn(rctx, v.self.ID, home, key, parts, opts)
	if errors.Is(err, blockstore.ErrNotFound) {
		info, err = c.recoverCompose(rctx, v, home, key, parts, opts, err)
	}
	if err == nil && info.Version < opts.Version {
		err = fmt.Errorf("cluster: replica %s reported version %d for a compose at %d", home.ID, info.Version, opts.Version)
	}
	if err != nil {
		c.log.Warn("cluster: compose on a home failed", "key", key, "home", home.ID, "err", err)
	}
	timedOut := err != nil && errors.Is(rctx.Err(), context.DeadlineExceeded)
	op.reply(replicaResult{home: home.ID, info: info, err: err, timedOut: timedOut})
}

// composeOn composes on home: this node's own store or a peer's.
func (c *Cluster) composeOn(ctx context.Context, self string, home membership.Member, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	if home.ID == self {
		return c.ApplyCompose(ctx, key, parts, opts)
	}
	return c.opts.Peer.ComposeReplica(ctx, home.HTTPAddr, key, parts, opts)
}

// recoverCompose brings home, which reported a part missing (cause), to
// the composed blob: it copies the parts home lacks from a home holding
// them live and composes once more; when that fails (the other homes
// composed already, so the parts are gone there), it copies the composed
// blob at opts.Version from a home holding it. Still failing: the error,
// a failed ack (the home is hinted).
func (c *Cluster) recoverCompose(ctx context.Context, v *view, home membership.Member, key string, parts []string, opts blockstore.ComposeOptions, cause error) (blockstore.Info, error) {
	perr := c.copyMissingParts(ctx, v, home, key, parts, opts.PartVersions)
	if perr == nil {
		info, err := c.composeOn(ctx, v.self.ID, home, key, parts, opts)
		if err == nil {
			return info, nil
		}
		perr = err
	}
	want := blockstore.Entry{Info: blockstore.Info{Key: key, Version: opts.Version}}
	src, held, _, err := c.findSource(ctx, v, key, want, v.homes(key, c.opts.Replicas), map[string]bool{home.ID: true})
	if err == nil && held.Deleted {
		err = fmt.Errorf("%q deleted on %s at %d", key, src.ID, held.Version)
	}
	if err == nil {
		_, err = c.copyEntry(ctx, v.self.ID, src, home, key, held)
	}
	if err != nil {
		return blockstore.Info{}, fmt.Errorf("%w (copying the missing parts: %v; copying the composed blob: %v)", cause, perr, err)
	}
	return held.Info, nil
}

// copyMissingParts copies to home every part it holds no live copy of at
// the pinned version (versions[i]; any live version when versions is nil),
// from another of key's homes (the parts share key's homes) that holds a
// newer live copy: the pinned one when pinned.
func (c *Cluster) copyMissingParts(ctx context.Context, v *view, home membership.Member, key string, parts []string, versions []uint64) error {
	homes := v.homes(key, c.opts.Replicas)
	for i, p := range parts {
		e, err := c.lookupOn(ctx, v.self.ID, home, p)
		if err != nil {
			return err
		}
		live := e.Version != 0 && !e.Deleted && !e.Corrupt
		if live && (versions == nil || e.Version == versions[i]) {
			continue
		}
		copied := false
		for _, src := range homes {
			if src.ID == home.ID || (src.ID != v.self.ID && !src.Reachable()) {
				continue
			}
			held, err := c.lookupOn(ctx, v.self.ID, src, p)
			if err != nil || held.Version <= e.Version || held.Deleted || held.Corrupt ||
				(versions != nil && held.Version != versions[i]) {
				continue
			}
			if _, err := c.copyEntry(ctx, v.self.ID, src, home, p, held); err != nil {
				return err
			}
			copied = true
			break
		}
		if !copied {
			return fmt.Errorf("part %q: no home holds it live: %w", p, blockstore.ErrNotFound)
		}
	}
	return nil
}

// ApplyCompose composes key from parts in the local store at opts.Version
// (never 0; last writer wins: holding key at that version or newer, it
// changes nothing) and returns once durable, with what this node then
// holds. The key and the parts are locked, in key order, for the apply, so
// the digests follow every entry it changes. Errors wrap ErrNotFound when
// a part is missing here.
func (c *Cluster) ApplyCompose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	if err := blockstore.ValidateCompose(key, parts, opts); err != nil {
		return blockstore.Info{}, err
	}
	if opts.Version == 0 {
		return blockstore.Info{}, fmt.Errorf("%w: replica compose of %q without a version", blockstore.ErrInvalidArgument, key)
	}
	composer, ok := c.opts.Local.(node.Composer)
	if !ok {
		return blockstore.Info{}, errNoLocalCompose
	}
	c.opts.Local.ObserveVersion(opts.Version)
	keys := append([]string{key}, parts...)
	slices.Sort(keys)
	for _, k := range keys {
		unlock, err := c.locks.Lock(ctx, k)
		if err != nil {
			return blockstore.Info{}, err
		}
		defer unlock()
	}
	old := make([]blockstore.Entry, len(keys))
	for i, k := range keys {
		e, err := c.localEntry(ctx, k)
		if err != nil {
			return blockstore.Info{}, err
		}
		old[i] = e
	}
	info, err := composer.Compose(ctx, key, parts, opts)
	if err != nil {
		return blockstore.Info{}, err
	}
	for i, k := range keys {
		applied := blockstore.Entry{Info: blockstore.Info{Key: k, Version: opts.Version}, Deleted: true}
		if k == key {
			applied = blockstore.Entry{Info: info}
		}
		c.noteApplied(ctx, k, old[i], applied)
	}
	return info, nil
}
