package blockstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"strata/ioengine"
)

// diskHealth counts one data directory's I/O errors and marks its disk
// failed once they reach Options.DiskErrorThreshold. A failed disk stays
// failed until the store is reopened: a disk that keeps erroring after a
// restart is marked again after as many errors, and one that was replaced
// starts clean.
type diskHealth struct {
	errors atomic.Uint64
	failed atomic.Pointer[error] // wraps ErrDiskFailed; nil while in service
}

// DiskStats describes one data directory (one disk).
type DiskStats struct {
	Name   string // the device's name, as in Devices ("data0", ...)
	Dir    string
	DiskID string
	// Failed: the disk passed Options.DiskErrorThreshold I/O errors; its
	// blobs answer ErrDiskFailed and it takes no new writes until the
	// store is reopened. FailedReason says why.
	Failed       bool
	FailedReason string
	IOErrors     uint64 // I/O errors seen since Open (not ENOSPC)
	Volumes      int
	UsedBytes    int64 // bytes written to its volumes (up to each one's end)
	FreeBytes    int64 // free filesystem space
	Scrub        ScrubStats
}

// isDiskError reports whether err is the disk's fault: not end of file, a
// cancelled caller, a full filesystem or a closed handle.
func isDiskError(err error) bool {
	return err != nil &&
		!errors.Is(err, io.EOF) &&
		!errors.Is(err, context.Canceled) &&
		!errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, ioengine.ErrClosed) &&
		!ioengine.IsNoSpace(err)
}

// noteIOError counts err against the disk when it is the disk's fault and
// marks the disk failed at the threshold.
func (d *dataDir) noteIOError(s *Store, err error) {
	if !isDiskError(err) || s.closed.Load() {
		return
	}
	n := d.health.errors.Add(1)
	limit := s.opts.DiskErrorThreshold
	if limit < 0 || n < uint64(limit) || d.health.failed.Load() != nil {
		return
	}
	failed := fmt.Errorf("%w: %s: %d I/O errors (threshold %d), the last: %w", ErrDiskFailed, d.dev.Dir(), n, limit, err)
	if d.health.failed.CompareAndSwap(nil, &failed) {
		s.log.Error("blockstore: disk marked failed; its blobs are unavailable here and it takes no new writes until restart",
			"dir", d.dev.Dir(), "disk_id", d.diskID, "io_errors", n, "err", err)
	}
}

// failedErr is nil while the disk is in service, else an error wrapping
// ErrDiskFailed.
func (d *dataDir) failedErr() error {
	if p := d.health.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// diskError is err, wrapped in the disk's failure when it is failed.
func (d *dataDir) diskError(err error) error {
	if ferr := d.failedErr(); ferr != nil {
		return fmt.Errorf("%w (%w)", ferr, err)
	}
	return err
}

// FailedDisks lists the data directories whose disks are marked failed.
func (s *Store) FailedDisks() []string {
	var out []string
	for _, d := range s.dirs {
		if d.failedErr() != nil {
			out = append(out, d.dev.Dir())
		}
	}
	return out
}

// diskStats reports each data directory's health, usage and scrub state.
func (s *Store) diskStats() []DiskStats {
	out := make([]DiskStats, len(s.dirs))
	for i, d := range s.dirs {
		ds := DiskStats{Name: d.dev.Name(), Dir: d.dev.Dir(), DiskID: d.diskID, IOErrors: d.health.errors.Load(), Scrub: d.scrub.stats()}
		if err := d.failedErr(); err != nil {
			ds.Failed, ds.FailedReason = true, err.Error()
		}
		if free, err := d.dev.FS().FreeSpace(d.dev.Dir()); err == nil {
			ds.FreeBytes = int64(min(free, 1<<62))
		}
		out[i] = ds
	}
	s.volMu.RLock()
	for _, v := range s.volumes {
		if uint8(v.state.Load()) == volCompacted {
			continue // removed by compaction; its handle lingers for readers
		}
		ds := &out[v.dir.idx]
		end := v.end.Load()
		ds.Volumes++
		ds.UsedBytes += end
		if sc := &ds.Scrub; !sc.PassStarted.IsZero() {
			switch {
			case v.id < sc.Volume:
				sc.Done += end
			case v.id == sc.Volume:
				sc.Done += min(sc.Offset, end)
			}
		}
	}
	s.volMu.RUnlock()
	return out
}

// scrubStatsTime is a unix-nanosecond stamp as a time (zero for 0).
func scrubStatsTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
