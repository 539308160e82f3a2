package tiering

import (
	"context"
	"io"

	"strata/blockstore"
	"strata/ioengine"
)

// Backend is the source of truth the caches sit in front of: the HDD tier.
// *blockstore.Store satisfies it.
type Backend interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error)
	Stat(ctx context.Context, key string) (blockstore.Info, error)
	// ReadChunk returns the verified bytes of chunk idx of exactly that version.
	ReadChunk(ctx context.Context, info blockstore.Info, idx int) ([]byte, error)
	Delete(ctx context.Context, key string, opts blockstore.DeleteOptions) error
	List(ctx context.Context, prefix, startAfter string, limit int) ([]blockstore.Info, error)
	Healthy() error

	// What replication asks of the HDD tier (see blockstore.Store's
	// methods of these names): index entries with tombstones, the version
	// clock, and forgetting a copy at one version.
	Lookup(ctx context.Context, key string) (blockstore.Entry, error)
	Scan(ctx context.Context, startAfter string, limit int) ([]blockstore.Entry, error)
	NextVersion() uint64
	ObserveVersion(v uint64)
	Drop(ctx context.Context, key string, version uint64) error
}

// composer is implemented by backends that can compose a blob of others
// without copying (*blockstore.Store does); Store.Compose needs it.
type composer interface {
	Compose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error)
}

// deviceReporter is implemented by backends that expose device counters
// (*blockstore.Store does).
type deviceReporter interface {
	Devices() []ioengine.DeviceStats
}

// statsReporter is implemented by backends that count what they hold and
// what went wrong (*blockstore.Store does).
type statsReporter interface {
	Stats() blockstore.Stats
}

// The real HDD tier is a Backend and reports its devices and counters.
var (
	_ Backend        = (*blockstore.Store)(nil)
	_ deviceReporter = (*blockstore.Store)(nil)
	_ statsReporter  = (*blockstore.Store)(nil)
	_ composer       = (*blockstore.Store)(nil)
)
