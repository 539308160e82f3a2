package ioengine

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
