package tiering

import (
	"context"

	"strata/blockstore"
)

// Lookup returns the backend's index entry for key (tombstones and corrupt
// entries included), without a data read.
func (s *Store) Lookup(ctx context.Context, key string) (blockstore.Entry, error) {
	if s.closed.Load() {
		return blockstore.Entry{}, ErrClosed
	}
	return s.backend.Lookup(ctx, key)
}

// Scan returns the backend's index entries after startAfter in key order,
// tombstones and corrupt entries included.
func (s *Store) Scan(ctx context.Context, startAfter string, limit int) ([]blockstore.Entry, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	return s.backend.Scan(ctx, startAfter, limit)
}

// NextVersion ticks the backend's version clock.
func (s *Store) NextVersion() uint64 { return s.backend.NextVersion() }

// ObserveVersion moves the backend's version clock past v.
func (s *Store) ObserveVersion(v uint64) { s.backend.ObserveVersion(v) }

// Drop forgets the backend's copy of key if it is still at version, and
// then drops the cached items of that version from RAM and SSD (an index
// entry each; nothing is written to the SSD).
func (s *Store) Drop(ctx context.Context, key string, version uint64) error {
	if s.closed.Load() {
		return ErrClosed
	}
	old, oldErr := s.backend.Lookup(ctx, key)
	if err := s.backend.Drop(ctx, key, version); err != nil {
		return err
	}
	// Cached items are keyed by version and checksum, so they could never
	// be served for a later write; this only gives their space back.
	if oldErr == nil && old.Version == version && !old.Deleted && !old.Corrupt {
		s.invalidate(old.Info)
	}
	return nil
}
