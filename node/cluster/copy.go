package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"

	"strata/blockstore"
	"strata/node/membership"
	"strata/node/replication"
)

// errNoSource: no reachable member holds the version a background copy
// needs; the work stays queued (a hint) or waits for a later pass.
var errNoSource = errors.New("cluster: no reachable member holds the version")

// errSourceFailed: a background copy could not read its source (the copy
// moved on, or its bytes failed their checksum); the destination is fine.
var errSourceFailed = errors.New("cluster: copy source failed")

// lookupOn returns member m's index entry for key (the zero Entry when it
// has none): this node's own through Local, another's through Peer.
func (c *Cluster) lookupOn(ctx context.Context, self string, m membership.Member, key string) (blockstore.Entry, error) {
	var e blockstore.Entry
	var err error
	if m.ID == self {
		e, err = c.opts.Local.Lookup(ctx, key)
	} else {
		e, err = c.opts.Peer.Lookup(ctx, m.HTTPAddr, key)
	}
	if errors.Is(err, blockstore.ErrNotFound) {
		return blockstore.Entry{}, nil
	}
	if err != nil {
		return blockstore.Entry{}, fmt.Errorf("cluster: lookup %q on %s: %w", key, m.ID, err)
	}
	return e, nil
}

// findSource looks for a member holding want (or newer) of key, this node
// first, then the candidates in order, skipping unreachable ones and those
// in skip. allAnswered reports whether every candidate asked answered, so
// "no holder" is then a fact rather than a guess.
func (c *Cluster) findSource(ctx context.Context, v *view, key string, want blockstore.Entry, candidates []membership.Member, skip map[string]bool) (src membership.Member, held blockstore.Entry, allAnswered bool, err error) {
	allAnswered = true
	try := func(m membership.Member) bool {
		if skip[m.ID] {
			return false
		}
		if m.ID != v.self.ID && !m.Reachable() {
			allAnswered = false
			return false
		}
		e, lerr := c.lookupOn(ctx, v.self.ID, m, key)
		if lerr != nil {
			allAnswered = false
			return false
		}
		if replication.Holds(e, want) && !e.Corrupt {
			src, held = m, e
			return true
		}
		return false
	}
	if try(v.self) {
		return src, held, allAnswered, nil
	}
	for _, m := range candidates {
		if m.ID != v.self.ID && try(m) {
			return src, held, allAnswered, nil
		}
	}
	return membership.Member{}, blockstore.Entry{}, allAnswered, errNoSource
}

// copyEntry brings dst to entry e of key, read from src (either may be
// this node): a tombstone is written as such; a blob streams from src's
// copy (Local.Open or Peer.OpenRange at e's version or newer) into dst's
// replica apply, which makes it durable before returning. n is the bytes
// copied.
func (c *Cluster) copyEntry(ctx context.Context, self string, src, dst membership.Member, key string, e blockstore.Entry) (n int64, err error) {
	c.opts.Local.ObserveVersion(e.Version)
	if e.Deleted {
		if dst.ID == self {
			return 0, c.ApplyDelete(ctx, key, e.Version)
		}
		return 0, c.opts.Peer.DeleteReplica(ctx, dst.HTTPAddr, key, e.Version)
	}
	var r io.ReadCloser
	var info blockstore.Info
	if src.ID == self {
		obj, oerr := c.opts.Local.Open(ctx, key)
		if oerr != nil {
			return 0, fmt.Errorf("%w: open %q locally: %w", errSourceFailed, key, oerr)
		}
		info = obj.Info()
		if info.Version < e.Version {
			obj.Close()
			return 0, fmt.Errorf("%w: open %q locally: %w", errSourceFailed, key, replication.ErrVersionGone)
		}
		r = obj
	} else {
		r, info, err = c.opts.Peer.OpenRange(ctx, src.HTTPAddr, key, e.Version, 0, -1)
		if err != nil {
			return 0, fmt.Errorf("%w: open %q on %s: %w", errSourceFailed, key, src.ID, err)
		}
	}
	defer r.Close()
	// Metadata travels with the copy; the MD5 is the content's, so the
	// target hashes the bytes itself.
	opts := blockstore.PutOptions{Version: info.Version, ContentType: info.ContentType, Meta: info.Meta, WantMD5: info.MD5 != nil}
	if dst.ID == self {
		_, err = c.ApplyPut(ctx, key, r, info.Size, opts)
	} else {
		_, err = c.opts.Peer.PutReplica(ctx, dst.HTTPAddr, key, r, info.Size, opts)
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: copy %q from %s to %s: %w", key, src.ID, dst.ID, err)
	}
	return info.Size, nil
}
