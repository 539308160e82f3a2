package devmodel

import (
	"hash/fnv"

	"strata/internal/mix"
	"strata/ioengine"
)

// Options configures Wrap.
type Options struct {
	// Clock reads the time and waits; nil means the wall clock.
	Clock Clock
}

// FS is an ioengine.FS whose files share one modelled disk head. Only the
// data operations of files (ReadAt, WriteAt, Sync) pay the head; the
// directory operations of the embedded FS and a file's Allocate,
// Truncate, Size and Close pass straight through.
type FS struct {
	ioengine.FS
	head  *head
	clock Clock
}

// Wrap returns fsys with every file's reads, writes and syncs served by
// one head of model m. It fails (ErrInvalidModel) when m does not
// validate.
func Wrap(fsys ioengine.FS, m Model, opts Options) (*FS, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	clock := opts.Clock
	if clock == nil {
		clock = realClock{}
	}
	return &FS{FS: fsys, head: newHead(m), clock: clock}, nil
}

// Model returns the model the head follows.
func (w *FS) Model() Model { return w.head.model }

// Stats returns what the head did so far.
func (w *FS) Stats() Stats { return w.head.snapshot() }

// OpenFile opens name on the wrapped FS and places the file on the
// platter: at a position derived from its name, so a file lands at the same
// place in every run.
func (w *FS) OpenFile(name string, flags ioengine.OpenFlag) (ioengine.File, error) {
	f, err := w.FS.OpenFile(name, flags)
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	base := int64(mix.Mix64(h.Sum64()) % uint64(w.head.model.Span))
	return &file{File: f, fs: w, base: base}, nil
}

// file is one open file on the modelled disk.
type file struct {
	ioengine.File
	fs   *FS
	base int64
}

// position maps a file offset to a byte position under the head: the
// file lies contiguously from its base (seeks past the span cost a full
// stroke).
func (f *file) position(off int64) int64 { return f.base + off }

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 { // the wrapped file refuses it; the head never moves
		return f.File.ReadAt(p, off)
	}
	done := f.fs.head.reserve(f.fs.clock.Now(), requestRead, f.position(off), int64(len(p)))
	n, err := f.File.ReadAt(p, off)
	f.fs.clock.SleepUntil(done)
	return n, err
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 { // the wrapped file refuses it; the head never moves
		return f.File.WriteAt(p, off)
	}
	done := f.fs.head.reserve(f.fs.clock.Now(), requestWrite, f.position(off), int64(len(p)))
	n, err := f.File.WriteAt(p, off)
	f.fs.clock.SleepUntil(done)
	return n, err
}

// Sync waits for the head to finish every request queued before it, then
// pays the model's Flush, then returns the wrapped file's fdatasync result
// (never retried).
func (f *file) Sync() error {
	done := f.fs.head.reserve(f.fs.clock.Now(), requestSync, 0, 0)
	err := f.File.Sync()
	f.fs.clock.SleepUntil(done)
	return err
}

// SyncFailed passes the news of a failed fdatasync on to the wrapped file
// when it models one (memfs under errorfs), as errorfs does.
func (f *file) SyncFailed() {
	if sf, ok := f.File.(interface{ SyncFailed() }); ok {
		sf.SyncFailed()
	}
}
