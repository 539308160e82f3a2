package memfs

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"strata/ioengine"
)

type file struct {
	fs       *FS
	ino      *inode
	name     string
	direct   bool
	readOnly bool
	closed   bool // guarded by fs.mu
}

var _ ioengine.File = (*file)(nil)

// checkLocked rejects closed files and, for direct files, misaligned requests.
func (f *file) checkLocked(op string, p []byte, off int64) error {
	if f.closed {
		return fmt.Errorf("memfs: %s %s: %w", op, f.name, os.ErrClosed)
	}
	if off < 0 {
		return fmt.Errorf("memfs: %s %s: negative offset: %w", op, f.name, syscall.EINVAL)
	}
	if f.direct {
		a := f.fs.align
		if off%int64(a) != 0 || len(p)%a != 0 || !ioengine.IsAligned(p, a) {
			return fmt.Errorf("memfs: %s %s: direct I/O needs offset, length and buffer aligned to %d (off %d, len %d): %w",
				op, f.name, a, off, len(p), syscall.EINVAL)
		}
	}
	return nil
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("read", p, off); err != nil {
		return 0, err
	}
	n := f.ino.readAt(p, off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("write", p, off); err != nil {
		return 0, err
	}
	if f.readOnly {
		return 0, fmt.Errorf("memfs: write %s: %w", f.name, syscall.EBADF)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := f.fs.growLocked(f.ino, off+int64(len(p)), "write", f.name); err != nil {
		return 0, err
	}
	f.ino.writeAt(p, off)
	return len(p), nil
}

func (f *file) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return fmt.Errorf("memfs: sync %s: %w", f.name, os.ErrClosed)
	}
	f.ino.sync()
	return nil
}

// SyncFailed records that an fdatasync of this file failed without reaching
// memfs (errorfs calls it for an injected Sync fault): the unsynced pages
// fare as Options.FailedSync says.
func (f *file) SyncFailed() {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.ino.syncFailed(f.fs.failedSync)
}

func (f *file) Allocate(off, length int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("allocate", nil, 0); err != nil {
		return err
	}
	if off < 0 || length <= 0 {
		return fmt.Errorf("memfs: allocate %s: bad range: %w", f.name, syscall.EINVAL)
	}
	if f.readOnly {
		return fmt.Errorf("memfs: allocate %s: %w", f.name, syscall.EBADF)
	}
	return f.fs.growLocked(f.ino, off+length, "allocate", f.name)
}

func (f *file) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.checkLocked("truncate", nil, 0); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("memfs: truncate %s: negative size: %w", f.name, syscall.EINVAL)
	}
	if f.readOnly {
		return fmt.Errorf("memfs: truncate %s: %w", f.name, syscall.EBADF)
	}
	if size < f.ino.size {
		f.fs.shrinkLocked(f.ino, size)
		return nil
	}
	return f.fs.growLocked(f.ino, size, "truncate", f.name)
}

func (f *file) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, fmt.Errorf("memfs: size %s: %w", f.name, os.ErrClosed)
	}
	return f.ino.size, nil
}

func (f *file) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return fmt.Errorf("memfs: close %s: %w", f.name, os.ErrClosed)
	}
	f.closed = true
	return nil
}

func (f *file) Direct() bool   { return f.direct }
func (f *file) Alignment() int { return f.fs.align }
func (f *file) Name() string   { return f.name }
