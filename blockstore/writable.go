package blockstore

import (
	"errors"
	"fmt"

	"strata/ioengine"
)

// Writable is nil when at least one data directory can take a put now:
// its active volume has room for a group before the tombstone reserve, or
// its filesystem reports room for a new volume. Otherwise the error wraps
// ErrNoSpace (deletes still work while a reserve is left), ErrReadOnly
// (the disks failed writes) or ErrDiskFailed (disks out of service past
// Options.DiskErrorThreshold), or is ErrClosed. It is computed from what is
// on disk now, not from the history of failed writes, so it answers the
// same before and after a restart. The exception is an index that failed
// every commit attempt: the error then wraps ErrIndexFailed and
// ErrReadOnly until the store is reopened. Reads are served either way.
func (s *Store) Writable() error {
	return s.anyDir(func(d *dataDir) error { return d.writable(s) })
}

// anyDir is nil when the store is open, its index commits and ok accepts
// at least one data directory; else it joins the directories' errors.
func (s *Store) anyDir(ok func(*dataDir) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.index.writable(); err != nil {
		return err
	}
	var errs []error
	for _, d := range s.dirs {
		err := ok(d)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (d *dataDir) writable(s *Store) error {
	if err := d.failedErr(); err != nil {
		return err
	}
	d.mu.Lock()
	readOnly, lastErr, until := d.readOnly, d.lastErr, d.unavailable
	d.mu.Unlock()
	if readOnly != nil {
		return fmt.Errorf("%w: %s: %w", ErrReadOnly, d.dev.Dir(), readOnly)
	}
	if lastErr != nil && !ioengine.IsNoSpace(lastErr) && s.opts.Now().Before(until) {
		return fmt.Errorf("%w: %s: %w", ErrReadOnly, d.dev.Dir(), lastErr)
	}
	if v := d.app.activeVolume(); v != nil && v.roomForPuts(s, d.app.align()) {
		return nil
	}
	free, err := d.dev.FS().FreeSpace(d.dev.Dir())
	if err != nil {
		return fmt.Errorf("%w: %s: free space: %w", ErrReadOnly, d.dev.Dir(), err)
	}
	if need := uint64(s.opts.VolumeSize + s.opts.spaceReserve()); free >= need {
		return nil
	}
	return fmt.Errorf("%w: %s: %d bytes free, a new volume for blobs needs %d (volume_size plus the space reserve kept for compaction); deletes and compaction still work",
		ErrNoSpace, d.dev.Dir(), free, uint64(s.opts.VolumeSize+s.opts.spaceReserve()))
}
