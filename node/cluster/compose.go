package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"

	"strata/blockstore"
	"strata/node"
)

// Compose makes key a blob whose content is the parts', in order, and
// then deletes the parts: node.Composer for the cluster.
//
// Parts co-located with key (placement.Colocate: the same placement hash,
// so the same homes; the S3 API names its parts so) are composed in place
// on each home, copying no content byte: see composeInPlace.
//
// Other parts live on other homes (placement hashes each key), so the
// cluster cannot compose them without moving bytes: it streams the parts,
// read through the cluster (the newest version of each from a read quorum,
// bytes verified), to the key's homes as one replicated PUT at a new
// version, with W acks like any PUT (a failure before that wraps
// replication.ErrNoQuorum: 503 no_quorum) and the same bounded memory.
// Only once the new blob is durable on W homes are the parts deleted,
// each with a versioned tombstone on its homes (dead ones hinted); a part
// whose delete fails is logged and left, never the new blob undone. A
// part that changes size meanwhile fails the PUT (nothing changed). The
// bytes are copied once per home, as a PUT's are.
//
// opts.MD5 cannot be kept (a copy's MD5 is its content's, which a
// composed blob's is not): the S3 API stores its multipart ETag in Meta.
// A compose retried at the version of an earlier attempt that reached
// fewer than W homes (opts.Version: the composed blob's, which the S3 API
// finds) counts a part consumed by that attempt as present (consumedPart),
// so the homes that did not compose do, and the others answer from their
// blob; when no live copy of a part is left and W homes or more hold the
// composed blob at that version (every home composed, the answer was
// lost), the retry answers that blob's Info (composedOnQuorum).
//
// Errors wrap those of Put, ErrNotFound for a missing part (the message
// names it) and ErrInvalidArgument (no parts, a part twice, the key among
// them, an MD5 given).
func (c *Cluster) Compose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	if err := checkCompose(key, parts, opts); err != nil {
		return blockstore.Info{}, err
	}
	var total int64
	infos := make([]blockstore.Info, len(parts))
	for i, p := range parts {
		info, err := c.Stat(ctx, p)
		if errors.Is(err, blockstore.ErrNotFound) && opts.Version != 0 && colocated(key, parts) {
			// Retrying a compose at the version of an earlier attempt
			// that reached fewer than W homes: a home that composed then
			// consumed the part (its tombstone is at that version).
			info, err = c.consumedPart(ctx, key, p, opts.Version)
			if errors.Is(err, blockstore.ErrNotFound) {
				// No live copy left anywhere: the earlier attempt may
				// have composed on W homes or more, its answer lost.
				if done, ok, cerr := c.composedOnQuorum(ctx, key, parts, opts.Version); cerr != nil || ok {
					if cerr != nil {
						return blockstore.Info{}, fmt.Errorf("cluster: compose %q: %w", key, cerr)
					}
					return done, nil
				}
			}
		}
		if err != nil {
			return blockstore.Info{}, fmt.Errorf("cluster: compose %q: part %q: %w", key, p, err)
		}
		infos[i] = info
		total += info.Size
	}
	var info blockstore.Info
	var err error
	// Pin the versions the quorum read saw (a caller's pins must agree): a
	// home behind on a part gets it copied first instead of composing the
	// stale bytes at the same version.
	pinned := make([]uint64, len(infos))
	for i, pi := range infos {
		if opts.PartVersions != nil && opts.PartVersions[i] != pi.Version {
			return blockstore.Info{}, fmt.Errorf("cluster: compose %q: part %q: %w: at version %d, want %d", key, parts[i], blockstore.ErrNotFound, pi.Version, opts.PartVersions[i])
		}
		pinned[i] = pi.Version
	}
	opts.PartVersions = pinned
	if colocated(key, parts) {
		info, err = c.composeInPlace(ctx, key, parts, total, opts)
	} else {
		body := &partsReader{ctx: ctx, c: c, parts: infos}
		info, err = c.Put(ctx, key, body, total, blockstore.PutOptions{ContentType: opts.ContentType, Meta: opts.Meta, Version: opts.Version})
		body.Close()
	}
	if err != nil {
		return blockstore.Info{}, fmt.Errorf("cluster: compose %q: %w", key, err)
	}
	for _, p := range parts {
		if err := c.Delete(ctx, p, blockstore.DeleteOptions{}); err != nil && !errors.Is(err, blockstore.ErrNotFound) {
			c.log.Warn("cluster: compose: a part could not be deleted", "key", key, "part", p, "err", err)
		}
	}
	return info, nil
}

// consumedPart is the Info of part as a compose of key at version left
// it: a home that holds key at exactly version (it composed) holds part's
// tombstone (the compose consumed it; a local compose tombstones a part at
// the part's own version), and another home still holds the part live at
// that same version (its compose failed): that copy is what the retry
// composes, at the same version. A part uploaded again since is newer, so
// the quorum read sees it live and this is not asked. Otherwise
// ErrNotFound.
func (c *Cluster) consumedPart(ctx context.Context, key, part string, version uint64) (blockstore.Info, error) {
	v := c.currentView()
	consumed := map[uint64]bool{} // part versions a compose at version consumed
	var live []blockstore.Entry
	for _, home := range v.homes(key, c.opts.Replicas) {
		if home.ID != v.self.ID && !home.Reachable() {
			continue
		}
		e, err := c.lookupOn(ctx, v.self.ID, home, part)
		if err != nil || e.Version == 0 || e.Corrupt {
			continue
		}
		if !e.Deleted {
			live = append(live, e)
			continue
		}
		if k, err := c.lookupOn(ctx, v.self.ID, home, key); err == nil && !k.Deleted && k.Version == version {
			consumed[e.Version] = true
		}
	}
	for _, e := range live {
		if consumed[e.Version] {
			return e.Info, nil
		}
	}
	return blockstore.Info{}, fmt.Errorf("%w: %q (not consumed by a compose of %q at %d with a live copy left)", blockstore.ErrNotFound, part, key, version)
}

// composedOnQuorum reports whether a compose of key from parts at version
// is already done: at least W homes hold key live at exactly version and
// none of parts live (the compose consumed them there). That is a compose
// whose every home composed but whose answer was lost (a Complete retried
// after a timeout): the retry answers key's Info, changing nothing. A
// home that does not answer counts as not holding it; a home still
// behind gets the blob from repair or the hint the first attempt left.
func (c *Cluster) composedOnQuorum(ctx context.Context, key string, parts []string, version uint64) (blockstore.Info, bool, error) {
	v := c.currentView()
	var held []blockstore.Entry
homes:
	for _, home := range v.homes(key, c.opts.Replicas) {
		if home.ID != v.self.ID && !home.Reachable() {
			continue
		}
		k, err := c.lookupOn(ctx, v.self.ID, home, key)
		if err != nil || k.Deleted || k.Corrupt || k.Version != version {
			continue
		}
		for _, p := range parts {
			e, err := c.lookupOn(ctx, v.self.ID, home, p)
			if err != nil || (e.Version != 0 && !e.Deleted) {
				continue homes
			}
		}
		held = append(held, k)
	}
	if len(held) < c.opts.WriteQuorum {
		return blockstore.Info{}, false, nil
	}
	info := held[0].Info
	info.Key = key
	return info, true, nil
}

// checkCompose holds Compose's arguments to the single store's rules,
// and refuses an MD5 (see Compose).
func checkCompose(key string, parts []string, opts blockstore.ComposeOptions) error {
	if err := blockstore.ValidateCompose(key, parts, opts); err != nil {
		return err
	}
	if opts.MD5 != nil {
		return fmt.Errorf("%w: compose %q: a cluster cannot keep a given MD5", blockstore.ErrInvalidArgument, key)
	}
	return nil
}

// partsReader reads the parts one after the other, opening each (through
// the cluster) only when the one before it is done, and holding each to
// the size and version its Stat said.
type partsReader struct {
	ctx   context.Context
	c     *Cluster
	parts []blockstore.Info
	cur   node.Object
	left  int64 // bytes of cur still to read
}

func (r *partsReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.parts) == 0 {
				return 0, io.EOF
			}
			want := r.parts[0]
			r.parts = r.parts[1:]
			obj, err := r.c.Open(r.ctx, want.Key)
			if err != nil {
				return 0, fmt.Errorf("part %q: %w", want.Key, err)
			}
			if got := obj.Info(); got.Version != want.Version || got.Size != want.Size {
				obj.Close()
				return 0, fmt.Errorf("part %q changed during the compose (version %d, %d bytes; was %d, %d): %w",
					want.Key, got.Version, got.Size, want.Version, want.Size, blockstore.ErrSizeMismatch)
			}
			r.cur, r.left = obj, want.Size
		}
		if r.left == 0 {
			r.cur.Close()
			r.cur = nil
			continue
		}
		n, err := r.cur.Read(p[:min(int64(len(p)), r.left)])
		r.left -= int64(n)
		if errors.Is(err, io.EOF) {
			if r.left > 0 {
				return n, fmt.Errorf("part ended %d bytes early: %w", r.left, io.ErrUnexpectedEOF)
			}
			err = nil
		}
		return n, err
	}
}

// Close closes the part being read.
func (r *partsReader) Close() error {
	if r.cur != nil {
		err := r.cur.Close()
		r.cur = nil
		return err
	}
	return nil
}

var _ node.Composer = (*Cluster)(nil)
