package errorfs

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"strata/ioengine"
)

// Errnos tests usually inject; injected errors wrap them so errors.Is works.
const (
	EIO    = syscall.EIO
	ENOSPC = syscall.ENOSPC
	EINVAL = syscall.EINVAL
)

// ErrInjected matches (with errors.Is) every error produced by an injected fault.
var ErrInjected = errors.New("errorfs: injected fault")

// OpKind names the kind of an operation.
type OpKind int

const (
	OpRead OpKind = iota
	OpWrite
	OpSync
	OpAllocate
	OpTruncate
	OpOpen
	OpRemove
	OpRename
	OpSyncDir
	OpMkdirAll
	OpReadDir
	OpStat
	OpFreeSpace
	OpLock

	numOpKinds
)

func (k OpKind) String() string {
	switch k {
	case OpRead:
		return "read"
	case OpWrite:
		return "write"
	case OpSync:
		return "sync"
	case OpAllocate:
		return "allocate"
	case OpTruncate:
		return "truncate"
	case OpOpen:
		return "open"
	case OpRemove:
		return "remove"
	case OpRename:
		return "rename"
	case OpSyncDir:
		return "syncdir"
	case OpMkdirAll:
		return "mkdirall"
	case OpReadDir:
		return "readdir"
	case OpStat:
		return "stat"
	case OpFreeSpace:
		return "freespace"
	case OpLock:
		return "lock"
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// Op describes one operation about to run.
type Op struct {
	Kind    OpKind
	Path    string // file or directory; for OpRename the old name
	NewPath string // OpRename only
	Off     int64  // OpRead/OpWrite/OpAllocate offset; OpTruncate size
	Len     int    // OpRead/OpWrite length; OpAllocate length
}

// Fault is an injector's verdict. The zero Fault lets the op through.
type Fault struct {
	Err        error // non-nil: fail the op with an error wrapping Err
	TornPrefix int   // OpWrite only: write this many bytes first, then fail
}

// Injector decides, per operation, whether to inject a fault.
// Implementations must be safe for concurrent use.
type Injector interface {
	Inject(op Op) Fault
}

// InjectorFunc adapts a function to Injector.
type InjectorFunc func(op Op) Fault

// Inject calls f(op).
func (f InjectorFunc) Inject(op Op) Fault { return f(op) }

// InjectedError is the error returned for an injected fault.
type InjectedError struct {
	Op  Op
	Err error
}

func (e *InjectedError) Error() string {
	return fmt.Sprintf("errorfs: injected %v on %s %s", e.Err, e.Op.Kind, e.Op.Path)
}

// Unwrap returns the injected error (e.g. syscall.EIO).
func (e *InjectedError) Unwrap() error { return e.Err }

// Is reports true for ErrInjected.
func (e *InjectedError) Is(target error) bool { return target == ErrInjected }

// Wrap returns an FS that asks inj before every operation on fs and the
// files it opens. A nil inj injects nothing.
func Wrap(fs ioengine.FS, inj Injector) ioengine.FS {
	return &wrapFS{fs: fs, inj: inj}
}

type wrapFS struct {
	fs  ioengine.FS
	inj Injector
}

func (w *wrapFS) check(op Op) (Fault, error) {
	if w.inj == nil {
		return Fault{}, nil
	}
	f := w.inj.Inject(op)
	if f.Err == nil {
		return Fault{}, nil
	}
	return f, &InjectedError{Op: op, Err: f.Err}
}

func (w *wrapFS) OpenFile(name string, flags ioengine.OpenFlag) (ioengine.File, error) {
	if _, err := w.check(Op{Kind: OpOpen, Path: name}); err != nil {
		return nil, err
	}
	f, err := w.fs.OpenFile(name, flags)
	if err != nil {
		return nil, err
	}
	return &wrapFile{File: f, w: w}, nil
}

func (w *wrapFS) Remove(name string) error {
	if _, err := w.check(Op{Kind: OpRemove, Path: name}); err != nil {
		return err
	}
	return w.fs.Remove(name)
}

func (w *wrapFS) Rename(oldname, newname string) error {
	if _, err := w.check(Op{Kind: OpRename, Path: oldname, NewPath: newname}); err != nil {
		return err
	}
	return w.fs.Rename(oldname, newname)
}

func (w *wrapFS) MkdirAll(dir string) error {
	if _, err := w.check(Op{Kind: OpMkdirAll, Path: dir}); err != nil {
		return err
	}
	return w.fs.MkdirAll(dir)
}

func (w *wrapFS) ReadDir(dir string) ([]string, error) {
	if _, err := w.check(Op{Kind: OpReadDir, Path: dir}); err != nil {
		return nil, err
	}
	return w.fs.ReadDir(dir)
}

func (w *wrapFS) SyncDir(dir string) error {
	if _, err := w.check(Op{Kind: OpSyncDir, Path: dir}); err != nil {
		return err
	}
	return w.fs.SyncDir(dir)
}

func (w *wrapFS) Stat(name string) (int64, error) {
	if _, err := w.check(Op{Kind: OpStat, Path: name}); err != nil {
		return 0, err
	}
	return w.fs.Stat(name)
}

func (w *wrapFS) FreeSpace(dir string) (uint64, error) {
	if _, err := w.check(Op{Kind: OpFreeSpace, Path: dir}); err != nil {
		return 0, err
	}
	return w.fs.FreeSpace(dir)
}

func (w *wrapFS) Lock(dir string) (io.Closer, error) {
	if _, err := w.check(Op{Kind: OpLock, Path: dir}); err != nil {
		return nil, err
	}
	return w.fs.Lock(dir)
}

// wrapFile faults data operations; Close, Size, Direct, Alignment and Name
// pass straight through the embedded File.
type wrapFile struct {
	ioengine.File
	w *wrapFS
}

func (f *wrapFile) ReadAt(p []byte, off int64) (int, error) {
	if _, err := f.w.check(Op{Kind: OpRead, Path: f.Name(), Off: off, Len: len(p)}); err != nil {
		return 0, err
	}
	return f.File.ReadAt(p, off)
}

func (f *wrapFile) WriteAt(p []byte, off int64) (int, error) {
	fault, err := f.w.check(Op{Kind: OpWrite, Path: f.Name(), Off: off, Len: len(p)})
	if err == nil {
		return f.File.WriteAt(p, off)
	}
	if fault.TornPrefix <= 0 {
		return 0, err
	}
	n, werr := f.File.WriteAt(p[:min(fault.TornPrefix, len(p))], off)
	if werr != nil {
		return n, werr
	}
	return n, err
}

// syncFailer is implemented by files that model what a failed fdatasync
// does to their unsynced pages (memfs; a wrapFile passes it on).
type syncFailer interface {
	SyncFailed()
}

func (f *wrapFile) Sync() error {
	if _, err := f.w.check(Op{Kind: OpSync, Path: f.Name()}); err != nil {
		f.SyncFailed()
		return err
	}
	return f.File.Sync()
}

// SyncFailed passes the news of a failed fdatasync on to the wrapped file,
// if it models one.
func (f *wrapFile) SyncFailed() {
	if sf, ok := f.File.(syncFailer); ok {
		sf.SyncFailed()
	}
}

func (f *wrapFile) Allocate(off, length int64) error {
	if _, err := f.w.check(Op{Kind: OpAllocate, Path: f.Name(), Off: off, Len: int(length)}); err != nil {
		return err
	}
	return f.File.Allocate(off, length)
}

func (f *wrapFile) Truncate(size int64) error {
	if _, err := f.w.check(Op{Kind: OpTruncate, Path: f.Name(), Off: size}); err != nil {
		return err
	}
	return f.File.Truncate(size)
}
