package ioengine

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"
)

// Handle is a File whose operations go through its device's queue: each
// call takes a slot of the given class, runs one syscall, and records
// counters and latency. It is safe for concurrent use.
type Handle struct {
	dev    *Device
	file   File
	closed atomic.Bool
}

type opKind int

const (
	opRead opKind = iota
	opWrite
	opSync
	opOther
)

// begin checks the handle and class and takes a queue slot. It returns when
// the call started and when it got its slot (the same instant when it did
// not have to wait, saving a clock read on the fast path).
func (h *Handle) begin(ctx context.Context, c Class) (start, granted time.Time, err error) {
	if !c.valid() {
		return start, granted, ErrInvalidClass
	}
	if h.closed.Load() {
		return start, granted, ErrClosed
	}
	start = time.Now()
	waited, err := h.dev.queue.acquire(ctx, c)
	if err != nil {
		return start, granted, err
	}
	granted = start
	if waited {
		granted = time.Now()
	}
	return start, granted, nil
}

// end releases the slot and records the operation.
func (h *Handle) end(c Class, kind opKind, start, granted time.Time, n int, err error) {
	h.dev.queue.release()
	done := time.Now()
	st := &h.dev.classes[c]
	switch kind {
	case opRead:
		st.readOps.Add(1)
		st.readBytes.Add(uint64(max(n, 0)))
	case opWrite:
		st.writeOps.Add(1)
		st.writeBytes.Add(uint64(max(n, 0)))
	case opSync:
		st.syncOps.Add(1)
		h.dev.syncs.record(done.Sub(start))
	default:
		st.otherOps.Add(1)
	}
	if err != nil && !(kind == opRead && errors.Is(err, io.EOF)) {
		st.errors.Add(1)
	}
	st.queueWait.record(granted.Sub(start))
	st.latency.record(done.Sub(start))
}

// ReadAt reads len(p) bytes at off; io.EOF as for io.ReaderAt.
func (h *Handle) ReadAt(ctx context.Context, c Class, p []byte, off int64) (int, error) {
	start, granted, err := h.begin(ctx, c)
	if err != nil {
		return 0, err
	}
	n, err := h.file.ReadAt(p, off)
	h.end(c, opRead, start, granted, n, err)
	return n, err
}

// WriteAt writes p at off. A failed write must not be retried blindly by
// callers: the bytes on disk are unknown.
func (h *Handle) WriteAt(ctx context.Context, c Class, p []byte, off int64) (int, error) {
	start, granted, err := h.begin(ctx, c)
	if err != nil {
		return 0, err
	}
	n, err := h.file.WriteAt(p, off)
	h.end(c, opWrite, start, granted, n, err)
	return n, err
}

// Sync is fdatasync through the queue. Never retry a failed Sync.
func (h *Handle) Sync(ctx context.Context, c Class) error {
	start, granted, err := h.begin(ctx, c)
	if err != nil {
		return err
	}
	err = h.file.Sync()
	h.end(c, opSync, start, granted, 0, err)
	return err
}

// Allocate reserves [off, off+length) (fallocate mode 0, extends the size).
func (h *Handle) Allocate(ctx context.Context, c Class, off, length int64) error {
	start, granted, err := h.begin(ctx, c)
	if err != nil {
		return err
	}
	err = h.file.Allocate(off, length)
	h.end(c, opOther, start, granted, 0, err)
	return err
}

// Truncate sets the file size.
func (h *Handle) Truncate(ctx context.Context, c Class, size int64) error {
	start, granted, err := h.begin(ctx, c)
	if err != nil {
		return err
	}
	err = h.file.Truncate(size)
	h.end(c, opOther, start, granted, 0, err)
	return err
}

// Size returns the file size (not queued: it is a metadata lookup).
func (h *Handle) Size() (int64, error) {
	if h.closed.Load() {
		return 0, ErrClosed
	}
	return h.file.Size()
}

// Direct reports whether the file uses direct I/O.
func (h *Handle) Direct() bool { return h.file.Direct() }

// Alignment is the alignment of offsets, lengths and buffers for this file.
func (h *Handle) Alignment() int { return h.file.Alignment() }

// Name returns the full path of the file.
func (h *Handle) Name() string { return h.file.Name() }

// Device returns the device the handle belongs to.
func (h *Handle) Device() *Device { return h.dev }

// Close closes the file. Operations already running finish; later calls
// return ErrClosed. A second Close returns ErrClosed.
func (h *Handle) Close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	return h.file.Close()
}
