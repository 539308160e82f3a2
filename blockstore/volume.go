package blockstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"strata/ioengine"
)

// Volume files are named by a store-wide id, so a location never needs to
// say which directory it is in.
const (
	volumeSuffix    = ".vol"
	volumeTmpSuffix = ".vol.tmp"
)

// formatAlign is the boundary every group starts on in the file format. A
// device with a larger alignment pads further; the scanner copes with that.
const formatAlign = 4096

func volumeFileName(id uint32) string { return fmt.Sprintf("%08d%s", id, volumeSuffix) }

func parseVolumeFileName(name string) (uint32, bool) {
	base, ok := strings.CutSuffix(name, volumeSuffix)
	if !ok || len(base) != 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(base, 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

// Volume states, as kept in the index.
const (
	volOpen   uint8 = iota // may take appends
	volSealed              // full or retired: read-only, valid up to end
	volFailed              // a write or sync failed: read-only, valid up to end
	// volCompacted: compaction moved every record still needed elsewhere
	// and removes the file (recovery finishes a removal a crash cut
	// short). The record stays, so the id is never reused.
	volCompacted
)

// volume is one preallocated file of records on one data directory.
type volume struct {
	id   uint32
	dir  *dataDir
	h    *ioengine.Handle
	size int64 // capacity in bytes (the preallocated length)

	// end is the offset the next group is written at; owned by the
	// appender, published for stats.
	end   atomic.Int64
	state atomic.Uint32
	// inReserve: made in the disk's space reserve (for compaction's
	// copies or deletes while puts could not have one); puts never write
	// to it, so they cannot take the room compaction needs to finish.
	inReserve atomic.Bool

	// Owned by the appender's syncer: the first failure in write order.
	syncFailed bool
	failure    error
	// retired is closed once the syncer has handled the volume's failure.
	retired chan struct{}
}

func newVolume(id uint32, d *dataDir, h *ioengine.Handle, size int64) *volume {
	return &volume{id: id, dir: d, h: h, size: size, retired: make(chan struct{})}
}

func (v *volume) writable() bool { return uint8(v.state.Load()) == volOpen }

// roomForPuts reports whether puts may append n more bytes to v: not a
// volume made in the space reserve, and room before the tombstone reserve.
func (v *volume) roomForPuts(s *Store, n int64) bool {
	return !v.inReserve.Load() && v.end.Load()+n <= v.size-s.opts.TombstoneReserve
}

func (v *volume) path() string { return filepath.Join(v.dir.dev.Dir(), volumeFileName(v.id)) }

// createVolume makes a new preallocated volume file in d the safe way:
// create a temporary name, fallocate, fsync, rename, fsync the directory.
// Nothing is left behind on failure.
func (s *Store) createVolume(ctx context.Context, d *dataDir) (*volume, error) {
	id := s.nextVolumeID.Add(1)
	name := volumeFileName(id)
	tmp := name + ".tmp"
	tmpPath := filepath.Join(d.dev.Dir(), tmp)
	fsys := d.dev.FS()
	cleanup := func(err error) (*volume, error) {
		if rmErr := fsys.Remove(tmpPath); rmErr != nil && !errors.Is(rmErr, errNotExist) {
			s.log.Warn("blockstore: removing half-made volume", "path", tmpPath, "err", rmErr)
		}
		return nil, err
	}
	h, err := d.dev.Open(tmp, s.opts.createFlags()|ioengine.FlagDirect)
	if err != nil {
		return nil, fmt.Errorf("blockstore: create volume %s: %w", tmpPath, err)
	}
	size := s.opts.VolumeSize
	if err := h.Allocate(ctx, ioengine.ClassWrite, 0, size); err != nil {
		h.Close()
		return cleanup(fmt.Errorf("blockstore: preallocate %d bytes for %s: %w", size, tmpPath, err))
	}
	if err := h.Sync(ctx, ioengine.ClassWrite); err != nil {
		h.Close()
		return cleanup(fmt.Errorf("blockstore: sync new volume %s: %w", tmpPath, err))
	}
	if err := h.Close(); err != nil {
		return cleanup(fmt.Errorf("blockstore: close new volume %s: %w", tmpPath, err))
	}
	final := filepath.Join(d.dev.Dir(), name)
	if err := fsys.Rename(tmpPath, final); err != nil {
		return cleanup(fmt.Errorf("blockstore: rename new volume %s: %w", tmpPath, err))
	}
	if err := fsys.SyncDir(d.dev.Dir()); err != nil {
		// The name may or may not survive a crash; the file holds nothing
		// yet, so refusing to use it is enough.
		return nil, fmt.Errorf("blockstore: sync directory for %s: %w", final, err)
	}
	h, err = d.dev.Open(name, ioengine.FlagDirect)
	if err != nil {
		return nil, fmt.Errorf("blockstore: open new volume %s: %w", final, err)
	}
	v := newVolume(id, d, h, size)
	s.addVolume(v)
	s.log.Info("blockstore: volume created", "volume", id, "dir", d.dev.Dir(), "size", size)
	return v, nil
}

func (s *Store) addVolume(v *volume) {
	s.volMu.Lock()
	s.volumes[v.id] = v
	s.volMu.Unlock()
}

func (s *Store) volume(id uint32) (*volume, bool) {
	s.volMu.RLock()
	v, ok := s.volumes[id]
	s.volMu.RUnlock()
	return v, ok
}
