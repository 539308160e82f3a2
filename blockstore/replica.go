package blockstore

import (
	"context"
	"fmt"
)

// What replication needs from a replica's store beyond Put/Get/Delete: the
// index's view of a key with tombstones and corrupt entries, the version
// clock, and a way to forget a copy the node no longer owns.

// entry is the index entry as replication sees it.
func (e *indexEntry) entry(key string) Entry {
	return Entry{Info: e.info(key), Deleted: e.tombstone(), Corrupt: e.corrupt()}
}

// Lookup returns key's index entry without a device read: a live blob, a
// tombstone (Deleted) or a version recovery found corrupt (Corrupt). The
// error wraps ErrNotFound when the index has no entry for key (never
// written, or dropped). Entry.Info reads the blob only when the entry is
// neither Deleted nor Corrupt.
func (s *Store) Lookup(ctx context.Context, key string) (Entry, error) {
	if err := ValidateKey(key); err != nil {
		return Entry{}, err
	}
	if err := s.enter(); err != nil {
		return Entry{}, err
	}
	defer s.exit()
	e, ok, err := s.index.lookup(key)
	if err != nil {
		return Entry{}, err
	}
	if !ok {
		return Entry{}, fmt.Errorf("%w: %q has no index entry", ErrNotFound, key)
	}
	return e.entry(key), nil
}

// Scan returns up to limit index entries with keys after startAfter, in key
// order, tombstones and corrupt entries included (List without its live
// filter). limit <= 0 means 1000. Like List it is not a snapshot: a key
// written during the scan may or may not appear.
func (s *Store) Scan(ctx context.Context, startAfter string, limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = 1000
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	ents, err := s.index.scan(startAfter, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(ents))
	for i, ke := range ents {
		out[i] = ke.e.entry(ke.key)
	}
	return out, nil
}

// NextVersion ticks the store's hybrid logical clock: a version above every
// version the store has issued, stored or observed since Open, and above
// every version on disk or issued by the previous run, crash or not (the
// clock's persisted ceiling: see the package doc). It writes to the index
// only when the clock jumps past the ceiling, not per call.
func (s *Store) NextVersion() uint64 { return s.clock.next() }

// ObserveVersion moves the clock to at least v, so later versions are
// above it (a version learnt from a peer).
func (s *Store) ObserveVersion(v uint64) { s.clock.observe(v) }

// Drop forgets the local copy of key if its index entry (blob, tombstone
// or corrupt) is still exactly at version: rebalancing drops a copy once
// the key's new owners hold it. No tombstone is written; the entry leaves
// the index at once for Lookup, Stat, Get, List and Scan, and a later
// write of key at any version is taken as the first one. The error wraps
// ErrNotFound when the key has no entry at version (it changed or was
// never there), and then nothing changes. See the package doc for what a
// crash or a rebuild does to a drop.
func (s *Store) Drop(ctx context.Context, key string, version uint64) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	if err := s.index.writable(); err != nil {
		return fmt.Errorf("blockstore: drop %q: %w", key, err)
	}
	dropped, err := s.index.drop(key, version)
	if err != nil {
		return err
	}
	if !dropped {
		return fmt.Errorf("%w: %q has no entry at version %d to drop", ErrNotFound, key, version)
	}
	return nil
}
