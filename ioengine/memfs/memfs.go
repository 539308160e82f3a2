package memfs

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	"strata/ioengine"
)

// Options configures New.
type Options struct {
	// Alignment enforced on files opened with FlagDirect; 0 means 4096.
	Alignment int
	// FreeBytes is how many bytes files may grow by in total; 0 = unlimited.
	FreeBytes int64
	// FailedSync is what a failed fdatasync (reported through
	// File.SyncFailed, as errorfs does) does to the file's unsynced pages.
	// The zero value, FailedSyncMarksClean, is what Linux does.
	FailedSync FailedSync
}

// FS is an in-memory, crash-simulating ioengine.FS. It is safe for
// concurrent use.
type FS struct {
	mu    sync.Mutex
	align int

	// dirs maps a cleaned directory path to its current and durable entries.
	dirs map[string]*dir

	limited bool
	free    int64 // bytes files may still grow by, when limited

	locked map[string]bool // directories held by Lock

	failedSync FailedSync
}

type dir struct {
	entries map[string]*inode // current
	durable map[string]*inode // as of the last SyncDir
}

var _ ioengine.FS = (*FS)(nil)

// New returns an empty FS with the root directory "/" and "." existing.
func New(opts Options) *FS {
	align := opts.Alignment
	if align <= 0 {
		align = ioengine.DefaultAlignment
	}
	m := &FS{align: align, dirs: map[string]*dir{}, locked: map[string]bool{}, failedSync: opts.FailedSync}
	m.addDir("/")
	m.addDir(".")
	if opts.FreeBytes > 0 {
		m.limited, m.free = true, opts.FreeBytes
	}
	return m
}

func newDir() *dir {
	return &dir{entries: map[string]*inode{}, durable: map[string]*inode{}}
}

func (m *FS) addDir(p string) {
	if _, ok := m.dirs[p]; !ok {
		m.dirs[p] = newDir()
	}
}

// SetFreeBytes sets how many more bytes files may grow by: n >= 0 means
// exactly n bytes are free from now on (0: the disk is full); n < 0 removes
// the limit.
func (m *FS) SetFreeBytes(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n < 0 {
		m.limited, m.free = false, 0
		return
	}
	m.limited, m.free = true, n
}

// usedLocked sums the sizes of linked inodes.
func (m *FS) usedLocked() int64 {
	seen := map[*inode]bool{}
	var used int64
	for _, d := range m.dirs {
		for _, ino := range d.entries {
			if !seen[ino] {
				seen[ino] = true
				used += ino.size
			}
		}
	}
	return used
}

// split cleans name and returns its parent directory and base name.
func split(name string) (parent, base string) {
	name = filepath.Clean(name)
	return filepath.Dir(name), filepath.Base(name)
}

func notExist(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: syscall.ENOENT}
}

// lookupLocked returns the parent dir and inode of name (inode nil if missing).
func (m *FS) lookupLocked(op, name string) (*dir, string, *inode, error) {
	parent, base := split(name)
	d, ok := m.dirs[parent]
	if !ok {
		return nil, "", nil, notExist(op, name)
	}
	return d, base, d.entries[base], nil
}

// OpenFile opens name; with FlagCreate a missing file is created empty (its
// parent directory must exist).
func (m *FS) OpenFile(name string, flags ioengine.OpenFlag) (ioengine.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, ino, err := m.lookupLocked("open", name)
	if err != nil {
		return nil, fmt.Errorf("memfs: %w", err)
	}
	if _, isDir := m.dirs[filepath.Clean(name)]; isDir {
		return nil, fmt.Errorf("memfs: %w", &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR})
	}
	if ino == nil {
		if flags&ioengine.FlagCreate == 0 || flags&ioengine.FlagReadOnly != 0 {
			return nil, fmt.Errorf("memfs: %w", notExist("open", name))
		}
		ino = newInode()
		d.entries[base] = ino
	}
	return &file{
		fs:       m,
		ino:      ino,
		name:     name,
		direct:   flags&ioengine.FlagDirect != 0,
		readOnly: flags&ioengine.FlagReadOnly != 0,
	}, nil
}

// unlinkLocked marks ino unreachable if no current entry names it any more,
// returning its bytes to the free space.
func (m *FS) unlinkLocked(ino *inode) {
	for _, d := range m.dirs {
		for _, other := range d.entries {
			if other == ino {
				return
			}
		}
	}
	ino.linked = false
	if m.limited {
		m.free += ino.size
	}
}

// Remove removes the file name. Removing a directory is not supported.
func (m *FS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, isDir := m.dirs[filepath.Clean(name)]; isDir {
		return fmt.Errorf("memfs: remove %s: directories cannot be removed", name)
	}
	d, base, ino, err := m.lookupLocked("remove", name)
	if err != nil {
		return fmt.Errorf("memfs: %w", err)
	}
	if ino == nil {
		return fmt.Errorf("memfs: %w", notExist("remove", name))
	}
	delete(d.entries, base)
	m.unlinkLocked(ino)
	return nil
}

// Rename moves the file oldname to newname, replacing newname if it exists.
func (m *FS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	od, obase, ino, err := m.lookupLocked("rename", oldname)
	if err != nil {
		return fmt.Errorf("memfs: %w", err)
	}
	if ino == nil {
		return fmt.Errorf("memfs: %w", notExist("rename", oldname))
	}
	nd, nbase, replaced, err := m.lookupLocked("rename", newname)
	if err != nil {
		return fmt.Errorf("memfs: %w", err)
	}
	if _, isDir := m.dirs[filepath.Clean(newname)]; isDir {
		return fmt.Errorf("memfs: %w", &fs.PathError{Op: "rename", Path: newname, Err: syscall.EISDIR})
	}
	if replaced == ino {
		return nil
	}
	delete(od.entries, obase)
	nd.entries[nbase] = ino
	if replaced != nil {
		m.unlinkLocked(replaced)
	}
	return nil
}

// MkdirAll creates dir and its parents. Directories are durable at once.
func (m *FS) MkdirAll(dirname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := filepath.Clean(dirname)
	for {
		parent, base := filepath.Dir(p), filepath.Base(p)
		if d, ok := m.dirs[parent]; ok && d.entries[base] != nil {
			return fmt.Errorf("memfs: mkdir %s: %w", dirname, syscall.ENOTDIR)
		}
		m.addDir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// ReadDir returns the sorted base names of the files and directories in dir.
func (m *FS) ReadDir(dirname string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := filepath.Clean(dirname)
	d, ok := m.dirs[p]
	if !ok {
		return nil, fmt.Errorf("memfs: %w", notExist("readdir", dirname))
	}
	names := make([]string, 0, len(d.entries))
	for name := range d.entries {
		names = append(names, name)
	}
	for sub := range m.dirs {
		if sub != p && filepath.Dir(sub) == p {
			names = append(names, filepath.Base(sub))
		}
	}
	sort.Strings(names)
	return names, nil
}

// SyncDir makes the current entries of dir durable.
func (m *FS) SyncDir(dirname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirs[filepath.Clean(dirname)]
	if !ok {
		return fmt.Errorf("memfs: %w", notExist("syncdir", dirname))
	}
	d.durable = make(map[string]*inode, len(d.entries))
	for name, ino := range d.entries {
		d.durable[name] = ino
	}
	return nil
}

// Stat returns the current size of the file name (0 for a directory).
func (m *FS) Stat(name string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, isDir := m.dirs[filepath.Clean(name)]; isDir {
		return 0, nil
	}
	_, _, ino, err := m.lookupLocked("stat", name)
	if err != nil {
		return 0, fmt.Errorf("memfs: %w", err)
	}
	if ino == nil {
		return 0, fmt.Errorf("memfs: %w", notExist("stat", name))
	}
	return ino.size, nil
}

// FreeSpace returns the free bytes, or math.MaxInt64 when unlimited.
func (m *FS) FreeSpace(dirname string) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dirs[filepath.Clean(dirname)]; !ok {
		return 0, fmt.Errorf("memfs: %w", notExist("statfs", dirname))
	}
	if !m.limited {
		return math.MaxInt64, nil
	}
	return uint64(max(m.free, 0)), nil
}

// Lock takes the exclusive lock of the directory or file dirname. Locks
// are not part of a crash clone: a crash releases them, as the kernel does.
func (m *FS) Lock(dirname string) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := filepath.Clean(dirname)
	if _, ok := m.dirs[p]; !ok {
		if _, _, ino, err := m.lookupLocked("lock", p); err != nil || ino == nil {
			return nil, fmt.Errorf("memfs: %w", notExist("lock", dirname))
		}
	}
	if m.locked[p] {
		return nil, fmt.Errorf("memfs: %w: %s", ioengine.ErrLocked, dirname)
	}
	m.locked[p] = true
	return &dirLock{fs: m, dir: p}, nil
}

type dirLock struct {
	fs   *FS
	dir  string
	once sync.Once
}

func (l *dirLock) Close() error {
	l.once.Do(func() {
		l.fs.mu.Lock()
		delete(l.fs.locked, l.dir)
		l.fs.mu.Unlock()
	})
	return nil
}

// growLocked reserves space for ino to reach newSize bytes and sets its size.
func (m *FS) growLocked(ino *inode, newSize int64, op, name string) error {
	grow := newSize - ino.size
	if grow <= 0 {
		return nil
	}
	if m.limited && ino.linked {
		if grow > m.free {
			return fmt.Errorf("memfs: %s %s: %w", op, name, syscall.ENOSPC)
		}
		m.free -= grow
	}
	ino.truncate(newSize)
	return nil
}

// shrinkLocked cuts ino to newSize bytes, returning space.
func (m *FS) shrinkLocked(ino *inode, newSize int64) {
	if newSize >= ino.size {
		return
	}
	if m.limited && ino.linked {
		m.free += ino.size - newSize
	}
	ino.truncate(newSize)
}
