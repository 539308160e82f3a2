package s3

import (
	"context"
	"errors"
	"strings"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/placement"
)

// Sweep aborts the multipart uploads older than MultipartExpiry (their
// parts, then their record) and deletes parts older than that whose upload
// is gone (left by a crash or a race with Complete or Abort), both the
// legacy parts under uploadsPrefix and the co-located ones. It walks the
// upload registry and the co-located keys a page at a time, so its memory is
// bounded, and stops when ctx is done. It returns how many uploads it
// aborted.
func (h *Handler) Sweep(ctx context.Context) (int, error) {
	store := h.opt.StoreFunc()
	if store == nil {
		return 0, nil
	}
	cutoff := h.opt.Now().Add(-h.opt.MultipartExpiry)
	aborted := 0
	lastRecord := ""
	err := scanUploads(ctx, store, func(id string, info blockstore.Info) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if info.Key == uploadKey(id) {
			lastRecord = id
			if info.ModTime.Before(cutoff) {
				if err := h.expireUpload(ctx, store, id); err != nil {
					return false, err
				}
				aborted++
				h.log.Info("s3 multipart upload expired", "upload", id, "initiated", info.ModTime)
			}
			return true, nil
		}
		if id != lastRecord && info.ModTime.Before(cutoff) {
			// A part whose upload record is gone.
			if err := store.Delete(ctx, info.Key, blockstore.DeleteOptions{}); err != nil && !isNotFound(err) {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return aborted, err
	}
	return aborted, h.sweepColocatedParts(ctx, store, cutoff)
}

// sweepColocatedParts deletes the co-located parts older than cutoff whose
// upload record is gone. It checks each upload's record once per run of
// consecutive parts (they sort together).
func (h *Handler) sweepColocatedParts(ctx context.Context, store node.Store, cutoff time.Time) error {
	after, lastID, lastGone := "", "", false
	for {
		infos, err := store.List(ctx, placement.ColocatePrefix, after, maxListKeys)
		if err != nil {
			return err
		}
		for _, info := range infos {
			if err := ctx.Err(); err != nil {
				return err
			}
			after = info.Key
			rest, ok := strings.CutPrefix(placement.ColocatedRest(info.Key), uploadsPrefix)
			id, _, isPart := strings.Cut(rest, "/")
			if !ok || !isPart || !info.ModTime.Before(cutoff) {
				continue
			}
			if id != lastID {
				_, err := store.Stat(ctx, uploadKey(id))
				if err != nil && !isNotFound(err) {
					return err
				}
				lastID, lastGone = id, isNotFound(err)
			}
			if !lastGone {
				continue
			}
			if err := store.Delete(ctx, info.Key, blockstore.DeleteOptions{}); err != nil && !isNotFound(err) {
				return err
			}
		}
		if len(infos) < maxListKeys {
			return nil
		}
	}
}

// expireUpload drops one upload under its lock, so a Complete running now
// either finished first or finds no upload.
func (h *Handler) expireUpload(ctx context.Context, store node.Store, id string) error {
	unlock, err := h.opt.Node.LockKey(ctx, uploadKey(id))
	if err != nil {
		return err
	}
	defer unlock()
	// A record that cannot be read is dropped as a legacy upload; its
	// co-located parts, if any, are orphans sweepColocatedParts removes.
	rec, err := h.readUploadRecord(ctx, store, id)
	switch {
	case errors.Is(err, ErrNoSuchUpload):
		return nil
	case err != nil && !errors.Is(err, blockstore.ErrCorrupt):
		return err
	}
	return h.dropUpload(ctx, store, id, rec)
}

// RunExpiry sweeps every interval (MultipartExpiry/24, between a minute and
// an hour) until ctx is done.
func (h *Handler) RunExpiry(ctx context.Context) {
	interval := min(max(h.opt.MultipartExpiry/24, time.Minute), time.Hour)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := h.Sweep(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("s3 multipart expiry sweep failed", "err", err)
		} else if n > 0 {
			h.log.Info("s3 multipart expiry sweep", "aborted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
