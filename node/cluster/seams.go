package cluster

import (
	"context"
	"io"

	"strata/blockstore"
	"strata/node"
	"strata/node/membership"
	"strata/node/replication"
)

// Local is this node's own store as the cluster drives it: the node.Store
// the HTTP API used alone, plus index-only lookups that see tombstones and
// the version clock. *tiering.Store (through LocalTiered) satisfies it.
type Local interface {
	node.Store
	// Lookup returns the key's index entry, tombstones and corrupt entries
	// included, without a data read; ErrNotFound when the index has none.
	Lookup(ctx context.Context, key string) (blockstore.Entry, error)
	// Scan returns up to limit index entries (tombstones and corrupt ones
	// included) with keys after startAfter, in key order.
	Scan(ctx context.Context, startAfter string, limit int) ([]blockstore.Entry, error)
	// NextVersion ticks the store's hybrid logical clock: a version above
	// every version this node has stored or observed.
	NextVersion() uint64
	// ObserveVersion moves the clock past v (a version seen from a peer).
	ObserveVersion(v uint64)
	// Drop forgets the local copy of key if its entry is still exactly at
	// version (rebalancing, once the new homes hold it); no tombstone is
	// written. It fails wrapping ErrNotFound if the entry changed.
	Drop(ctx context.Context, key string, version uint64) error
}

// Peer sends internal (replica) requests to another node, addressed by its
// Member.HTTPAddr. node/peer's Client implements it over HTTP with the
// cluster secret; tests use in-process fakes.
type Peer interface {
	// PutReplica streams a blob at opts.Version (never 0) to the peer and
	// returns once the peer reports it durable. The returned Info is what
	// the peer holds after the write: a higher Version means the peer
	// already had something newer (last writer wins), which is durable too.
	PutReplica(ctx context.Context, addr, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error)
	// ComposeReplica composes key from parts in the peer's own store at
	// opts.Version (never 0), durable on return, with what the peer then
	// holds; errors wrap blockstore.ErrNotFound when it lacks a part.
	ComposeReplica(ctx context.Context, addr, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error)
	// DeleteReplica writes a tombstone at version (never 0), durable on return.
	DeleteReplica(ctx context.Context, addr, key string, version uint64) error
	// Lookup returns the peer's index entry for key (no data read);
	// errors wrap blockstore.ErrNotFound when it has none.
	Lookup(ctx context.Context, addr, key string) (blockstore.Entry, error)
	// OpenRange reads length bytes (-1: to the end) from off of the peer's
	// current version of key. It fails (wrapping ErrVersionGone) when the
	// peer's current version is older than minVersion. Bytes that fail
	// their checksum on the peer are never sent: the stream is cut short
	// and the reader returns an error instead of io.EOF.
	OpenRange(ctx context.Context, addr, key string, minVersion uint64, off, length int64) (io.ReadCloser, blockstore.Info, error)
	// Digest returns the peer's anti-entropy digest of the keys it shares
	// with the member forPeer (this node, usually).
	Digest(ctx context.Context, addr, forPeer string) (replication.Digest, error)
	// Entries lists the peer's index entries in the given digest buckets
	// of the keys it shares with forPeer, after startAfter, in key order.
	Entries(ctx context.Context, addr, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error)
}

// Members is the membership view the cluster reads. node/membership's
// *Membership implements it; tests use a static fake.
type Members interface {
	// Self is this node's own member record.
	Self() membership.Member
	// Members is every known member (this node included) that has not
	// left, sorted by ID.
	Members() []membership.Member
	// Changes is signalled (coalesced, never blocking the sender) when a
	// member joins, leaves, changes state or metadata.
	Changes() <-chan struct{}
}
