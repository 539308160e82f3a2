package peer

import (
	"context"
	"io"

	"strata/blockstore"
	"strata/node"
	"strata/node/replication"
)

// Backend is what the internal routes serve from: the receiving node's
// replica side. *cluster.Cluster implements it (the replica applies go
// through it so its anti-entropy digests follow every change).
type Backend interface {
	// ApplyPut stores a replica write at opts.Version (last writer wins)
	// and returns once durable, with what the node then holds. Holding
	// that version or a newer one already, it may return without reading
	// r: the handler then acknowledges the write with the Info held.
	ApplyPut(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error)
	// ApplyCompose composes key from parts in the local store at
	// opts.Version (last writer wins) and returns once durable, with what
	// the node then holds; errors wrap blockstore.ErrNotFound when a part
	// is missing here.
	ApplyCompose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error)
	// ApplyDelete writes a tombstone at version; durable on return.
	ApplyDelete(ctx context.Context, key string, version uint64) error
	// Lookup returns the local index entry (tombstones included).
	Lookup(ctx context.Context, key string) (blockstore.Entry, error)
	// OpenLocal opens the local current version of key for reading.
	OpenLocal(ctx context.Context, key string) (node.Object, error)
	// Digest is the local digest of the keys shared with member forPeer.
	Digest(ctx context.Context, forPeer string) (replication.Digest, error)
	// Entries lists local entries of the keys shared with forPeer in the
	// given buckets, after startAfter, in key order.
	Entries(ctx context.Context, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error)
}
