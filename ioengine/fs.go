package ioengine

import (
	"io"
	"io/fs"
)

// OpenFlag selects how OpenFile opens a file.
type OpenFlag int

const (
	// FlagCreate creates the file if it is missing.
	FlagCreate OpenFlag = 1 << iota
	// FlagReadOnly opens the file for reading only.
	FlagReadOnly
	// FlagDirect asks for O_DIRECT. Where the filesystem refuses it, the file
	// falls back to buffered I/O and File.Direct reports false.
	FlagDirect
)

// permShift places a creation mode in the high bits of an OpenFlag.
const permShift = 16

// DefaultPerm is the mode of files FlagCreate makes when flags carry none:
// data is the node's alone unless the operator asks for a group.
const DefaultPerm fs.FileMode = 0o600

// WithPerm returns the flag that makes FlagCreate create a missing file
// with mode perm (only its permission bits count; 0 means DefaultPerm).
// The process umask still applies.
func WithPerm(perm fs.FileMode) OpenFlag { return OpenFlag(perm&fs.ModePerm) << permShift }

// Perm is the creation mode flags ask for (DefaultPerm when none).
func (f OpenFlag) Perm() fs.FileMode {
	if p := fs.FileMode(f>>permShift) & fs.ModePerm; p != 0 {
		return p
	}
	return DefaultPerm
}

// FS is the one seam every durability test goes through. The real
// implementation is OSFS; memfs simulates crashes and errorfs injects faults.
type FS interface {
	OpenFile(name string, flags OpenFlag) (File, error)
	Remove(name string) error
	Rename(oldname, newname string) error
	MkdirAll(dir string) error
	// ReadDir returns the sorted base names of the entries in dir.
	ReadDir(dir string) ([]string, error)
	// SyncDir makes the entries of dir (creates, renames, removes) durable.
	SyncDir(dir string) error
	// Stat returns the size of name; errors.Is(err, fs.ErrNotExist) when missing.
	Stat(name string) (size int64, err error)
	// FreeSpace returns the bytes available to unprivileged writers in dir.
	FreeSpace(dir string) (uint64, error)
	// Lock takes an exclusive, non-blocking lock on the existing directory
	// or file name, held until the returned Closer is closed (or the
	// process exits). A lock held by anyone else, this process included,
	// gives an error wrapping ErrLocked.
	Lock(name string) (io.Closer, error)
}

// File is one open file. When Direct reports true, buffers, offsets and
// lengths must be multiples of Alignment.
type File interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	// Sync makes written data durable (fdatasync).
	Sync() error
	// Allocate reserves space for [off, off+length), extending the size.
	Allocate(off, length int64) error
	Truncate(size int64) error
	Size() (int64, error)
	Close() error
	Direct() bool
	Alignment() int
	Name() string
}
