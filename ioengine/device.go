package ioengine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
)

// DefaultMaxInFlight is the queue depth of a device when
// DeviceOptions.MaxInFlight is zero.
const DefaultMaxInFlight = 32

// DeviceOptions configures NewDevice.
type DeviceOptions struct {
	Name        string // label for stats/metrics, e.g. "hdd0"; default: the directory
	MaxInFlight int    // bounded in-flight syscalls on this device; default 32
	Logger      *slog.Logger
}

// Device is a directory on one physical disk: a priority queue with bounded
// depth, per-class counters and latency histograms, and a buffer pool of the
// right alignment. It is safe for concurrent use.
type Device struct {
	fs      FS
	dir     string
	name    string
	direct  bool
	align   int
	buffers *BufferPool
	queue   *queue
	classes [numClasses]classCounters
	// syncs is the latency of every fdatasync, whatever its class, from
	// the call to its return (queue wait included).
	syncs  latencyHistogram
	logger *slog.Logger
}

// NewDevice creates dir if needed and probes direct I/O there with an
// aligned write and read of a temporary file. If the filesystem refuses
// direct I/O (EINVAL), the device falls back to buffered I/O with fdatasync,
// logs that once, and reports Direct() == false.
func NewDevice(fs FS, dir string, opts DeviceOptions) (*Device, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name := opts.Name
	if name == "" {
		name = dir
	}
	limit := opts.MaxInFlight
	if limit <= 0 {
		limit = DefaultMaxInFlight
	}
	if err := fs.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("ioengine: device %s: %w", name, err)
	}
	if err := removeStaleProbes(fs, dir); err != nil {
		return nil, fmt.Errorf("ioengine: device %s: %w", name, err)
	}
	direct, align, reason, err := probeDirect(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("ioengine: device %s: %w", name, err)
	}
	if !direct {
		logger.Warn("ioengine: direct I/O unavailable; using buffered I/O with fdatasync",
			"device", name, "dir", dir, "reason", reason)
	} else if reason != "" {
		logger.Warn("ioengine: direct I/O accepted at open but not verified",
			"device", name, "dir", dir, "reason", reason)
	}
	return &Device{
		fs:      fs,
		dir:     dir,
		name:    name,
		direct:  direct,
		align:   align,
		buffers: NewBufferPool(align),
		queue:   newQueue(limit),
		logger:  logger,
	}, nil
}

// probePrefix starts the names of probe files; such names are reserved in
// device directories.
const probePrefix = ".ioengine-probe-"

// removeStaleProbes deletes probe files left by a crash during NewDevice.
func removeStaleProbes(fs FS, dir string) error {
	names, err := fs.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		if strings.HasPrefix(name, probePrefix) {
			if err := fs.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("remove stale probe file: %w", err)
			}
		}
	}
	return nil
}

// probeDirect opens a temporary file in dir with FlagDirect, writes one
// aligned block, reads it back and removes the file. It returns whether
// direct I/O works, the alignment to use, and a reason when direct I/O was
// refused or could not be verified. Errors other than EINVAL (and ENOSPC,
// which only prevents verification) mean the directory is unusable.
func probeDirect(fs FS, dir string) (direct bool, align int, reason string, err error) {
	path := filepath.Join(dir, fmt.Sprintf("%s%016x", probePrefix, rand.Uint64()))
	f, err := fs.OpenFile(path, FlagCreate|FlagDirect)
	if err != nil {
		return false, 0, "", fmt.Errorf("direct I/O probe: %w", err)
	}
	defer func() {
		closeErr := f.Close()
		removeErr := fs.Remove(path)
		if err == nil {
			err = errors.Join(closeErr, removeErr)
			if err != nil {
				err = fmt.Errorf("direct I/O probe cleanup: %w", err)
			}
		}
	}()
	if !f.Direct() {
		return false, DefaultAlignment, "filesystem refused O_DIRECT at open", nil
	}
	align = max(f.Alignment(), DefaultAlignment)
	out := AlignedBytes(align, align)
	for i := range out {
		out[i] = byte(i*7 + 1)
	}
	if _, werr := f.WriteAt(out, 0); werr != nil {
		switch {
		case errors.Is(werr, syscall.EINVAL):
			return false, DefaultAlignment, "aligned direct write failed: " + werr.Error(), nil
		case IsNoSpace(werr):
			return true, align, "no space for the probe write: " + werr.Error(), nil
		}
		return false, 0, "", fmt.Errorf("direct I/O probe write: %w", werr)
	}
	in := AlignedBytes(align, align)
	if _, rerr := f.ReadAt(in, 0); rerr != nil && !errors.Is(rerr, io.EOF) {
		if errors.Is(rerr, syscall.EINVAL) {
			return false, DefaultAlignment, "aligned direct read failed: " + rerr.Error(), nil
		}
		return false, 0, "", fmt.Errorf("direct I/O probe read: %w", rerr)
	}
	if !bytes.Equal(in, out) {
		return false, 0, "", ErrProbeMismatch
	}
	return true, align, "", nil
}

// Dir returns the device directory.
func (d *Device) Dir() string { return d.dir }

// Name returns the device label.
func (d *Device) Name() string { return d.name }

// FS returns the filesystem the device uses.
func (d *Device) FS() FS { return d.fs }

// Alignment is the alignment every offset, length and buffer must have.
// It is at least 4096, also when the device fell back to buffered I/O.
func (d *Device) Alignment() int { return d.align }

// Direct reports whether direct I/O works on this device.
func (d *Device) Direct() bool { return d.direct }

// Buffers returns the device's aligned buffer pool.
func (d *Device) Buffers() *BufferPool { return d.buffers }

// Open opens name, relative to Dir, as a Handle. FlagDirect is dropped when
// the probe found direct I/O unavailable, so callers can always pass it.
func (d *Device) Open(name string, flags OpenFlag) (*Handle, error) {
	if !filepath.IsLocal(name) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	if !d.direct {
		flags &^= FlagDirect
	}
	f, err := d.fs.OpenFile(filepath.Join(d.dir, name), flags)
	if err != nil {
		return nil, err
	}
	return &Handle{dev: d, file: f}, nil
}

// Stats returns a copy of the device's counters.
func (d *Device) Stats() DeviceStats {
	s := DeviceStats{Name: d.name, Dir: d.dir, Direct: d.direct, Alignment: d.align}
	for c := range d.classes {
		s.Classes[c] = d.classes[c].snapshot()
	}
	s.SyncLatency = d.syncs.snapshot()
	s.InFlight, s.Queued = d.queue.depth()
	return s
}
