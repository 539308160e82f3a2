package s3

import (
	"context"
	"time"

	"strata/blockstore"
	"strata/node"
)

// Sweep aborts the multipart uploads older than MultipartExpiry (their
// parts, then their record) and deletes parts older than that whose upload
// is gone (left by a crash or a race with Complete or Abort). It walks the
// upload registry a page at a time, so its memory is bounded, and stops
// when ctx is done. It returns how many uploads it aborted.
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
	return aborted, err
}

// expireUpload drops one upload under its lock, so a Complete running now
// either finished first or finds no upload.
func (h *Handler) expireUpload(ctx context.Context, store node.Store, id string) error {
	unlock, err := h.opt.Node.LockKey(ctx, uploadKey(id))
	if err != nil {
		return err
	}
	defer unlock()
	return h.dropUpload(ctx, store, id)
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
