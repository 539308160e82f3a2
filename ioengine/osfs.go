package ioengine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"
)

// OSFS returns the real filesystem. Files opened with FlagDirect use O_DIRECT
// when the filesystem accepts it at open and statx does not report direct
// I/O as unsupported; otherwise they silently fall back to buffered I/O and
// File.Direct reports false. Device additionally probes a real aligned
// write+read before trusting direct I/O in a directory.
func OSFS() FS { return osFS{} }

type osFS struct{}

func (osFS) OpenFile(name string, flags OpenFlag) (File, error) {
	mode := os.O_RDWR
	if flags&FlagReadOnly != 0 {
		mode = os.O_RDONLY
	}
	if flags&FlagCreate != 0 {
		mode |= os.O_CREATE
	}
	if flags&FlagDirect != 0 {
		f, err := os.OpenFile(name, mode|unix.O_DIRECT, flags.Perm())
		if err == nil {
			return newOSFile(f, name, true)
		}
		if !errors.Is(err, syscall.EINVAL) {
			return nil, fmt.Errorf("ioengine: open %s: %w", name, err)
		}
		// The filesystem refuses O_DIRECT at open: fall through to buffered.
	}
	f, err := os.OpenFile(name, mode, flags.Perm())
	if err != nil {
		return nil, fmt.Errorf("ioengine: open %s: %w", name, err)
	}
	return newOSFile(f, name, false)
}

func (osFS) Remove(name string) error {
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("ioengine: %w", err)
	}
	return nil
}

func (osFS) Rename(oldname, newname string) error {
	if err := os.Rename(oldname, newname); err != nil {
		return fmt.Errorf("ioengine: %w", err)
	}
	return nil
}

func (osFS) MkdirAll(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("ioengine: %w", err)
	}
	return nil
}

func (osFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("ioengine: %w", err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names, nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("ioengine: sync dir: %w", err)
	}
	syncErr := d.Sync()
	closeErr := d.Close()
	if syncErr != nil {
		return fmt.Errorf("ioengine: sync dir %s: %w", dir, syncErr)
	}
	if closeErr != nil {
		return fmt.Errorf("ioengine: sync dir %s: %w", dir, closeErr)
	}
	return nil
}

// Lock flocks the directory (or file) itself: no lock file to create or
// clean up.
// flock locks belong to the open file description, so a second Lock in the
// same process conflicts too; the kernel drops the lock when the process
// dies, so a crash never leaves a stale lock.
func (osFS) Lock(dir string) (io.Closer, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("ioengine: lock %s: %w", dir, err)
	}
	rc, err := d.SyscallConn()
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("ioengine: lock %s: %w", dir, err)
	}
	var lockErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lockErr = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB)
			if lockErr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		lockErr = err
	}
	if lockErr != nil {
		d.Close()
		if errors.Is(lockErr, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("ioengine: lock %s: %w", dir, lockErr)
	}
	return d, nil // closing the descriptor releases the lock
}

func (osFS) Stat(name string) (int64, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return 0, fmt.Errorf("ioengine: %w", err)
	}
	return fi.Size(), nil
}

func (osFS) FreeSpace(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("ioengine: statfs %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// osFile is an *os.File plus what we learned about direct I/O at open.
// os.File already handles EINTR, short reads/writes and close-while-in-use.
type osFile struct {
	f      *os.File
	name   string
	direct bool
	align  int
}

func newOSFile(f *os.File, name string, direct bool) (*osFile, error) {
	of := &osFile{f: f, name: name, direct: direct, align: DefaultAlignment}
	if !direct {
		return of, nil
	}
	dio, err := statxDIOAlign(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("ioengine: statx %s: %w", name, err)
	}
	if dio.known && dio.offsetAlign == 0 {
		// The filesystem accepted O_DIRECT but says direct I/O is not
		// supported on this file (it would silently buffer). Be honest.
		of.direct = false
		return of, nil
	}
	of.align = max(DefaultAlignment, dio.memAlign, dio.offsetAlign)
	return of, nil
}

type dioAlign struct {
	known       bool // statx reported STATX_DIOALIGN
	memAlign    int
	offsetAlign int
}

func statxDIOAlign(f *os.File) (dioAlign, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return dioAlign{}, err
	}
	var st unix.Statx_t
	var sysErr error
	err = rc.Control(func(fd uintptr) {
		sysErr = unix.Statx(int(fd), "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st)
	})
	if err != nil {
		return dioAlign{}, err
	}
	if sysErr != nil {
		if errors.Is(sysErr, syscall.ENOSYS) || errors.Is(sysErr, syscall.EINVAL) {
			return dioAlign{}, nil // old kernel: alignment unknown, use the default
		}
		return dioAlign{}, sysErr
	}
	if st.Mask&unix.STATX_DIOALIGN == 0 {
		return dioAlign{}, nil
	}
	return dioAlign{known: true, memAlign: int(st.Dio_mem_align), offsetAlign: int(st.Dio_offset_align)}, nil
}

func (o *osFile) ReadAt(p []byte, off int64) (int, error) {
	if o.direct && len(p) > 0 && off >= 0 {
		return o.readDirect(p, off)
	}
	n, err := o.f.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("ioengine: read %s at %d: %w", o.name, off, err)
	}
	return n, err
}

// readDirect is ReadAt for a direct file: one blocking pread that hands
// the caller's P on before it waits for the device (pread_linux.go).
// Control keeps the descriptor open for the call, as os.File does.
func (o *osFile) readDirect(p []byte, off int64) (int, error) {
	var n int
	var eof bool
	var sysErr error
	err := o.control("read", func(fd int) error {
		n, eof, sysErr = blockingPread(fd, p, off)
		return nil
	})
	switch {
	case err != nil:
		return n, err
	case sysErr != nil:
		return n, fmt.Errorf("ioengine: read %s at %d: %w", o.name, off, &os.PathError{Op: "read", Path: o.name, Err: sysErr})
	case eof:
		return n, io.EOF
	}
	return n, nil
}

func (o *osFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := o.f.WriteAt(p, off)
	if err != nil {
		return n, fmt.Errorf("ioengine: write %s at %d: %w", o.name, off, err)
	}
	return n, nil
}

func (o *osFile) control(what string, fn func(fd int) error) error {
	rc, err := o.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("ioengine: %s %s: %w", what, o.name, err)
	}
	var sysErr error
	if err := rc.Control(func(fd uintptr) { sysErr = fn(int(fd)) }); err != nil {
		return fmt.Errorf("ioengine: %s %s: %w", what, o.name, err)
	}
	if sysErr != nil {
		return fmt.Errorf("ioengine: %s %s: %w", what, o.name, sysErr)
	}
	return nil
}

// Sync is fdatasync. It is never retried here: after a failed fdatasync the
// kernel may have dropped the dirty pages, so a retry could falsely succeed.
func (o *osFile) Sync() error {
	return o.control("fdatasync", func(fd int) error {
		for {
			err := unix.Fdatasync(fd)
			if err != syscall.EINTR {
				return err
			}
		}
	})
}

func (o *osFile) Allocate(off, length int64) error {
	return o.control("fallocate", func(fd int) error {
		for {
			err := unix.Fallocate(fd, 0, off, length)
			if err != syscall.EINTR {
				return err
			}
		}
	})
}

func (o *osFile) Truncate(size int64) error {
	if err := o.f.Truncate(size); err != nil {
		return fmt.Errorf("ioengine: truncate %s: %w", o.name, err)
	}
	return nil
}

func (o *osFile) Size() (int64, error) {
	var st unix.Stat_t
	if err := o.control("fstat", func(fd int) error { return unix.Fstat(fd, &st) }); err != nil {
		return 0, err
	}
	return st.Size, nil
}

func (o *osFile) Close() error {
	if err := o.f.Close(); err != nil {
		return fmt.Errorf("ioengine: close %s: %w", o.name, err)
	}
	return nil
}

func (o *osFile) Direct() bool   { return o.direct }
func (o *osFile) Alignment() int { return o.align }
func (o *osFile) Name() string   { return o.name }
