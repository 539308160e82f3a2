package ioengine

import (
	"errors"
	"syscall"
)

var (
	// ErrClosed is returned by Handle operations after Close.
	ErrClosed = errors.New("ioengine: handle closed")
	// ErrInvalidClass is returned when a Class outside ClassRead..ClassBackground is passed.
	ErrInvalidClass = errors.New("ioengine: invalid class")
	// ErrInvalidName is returned by Device.Open for names that are not local
	// to the device directory (absolute, empty, or containing "..").
	ErrInvalidName = errors.New("ioengine: invalid file name")
	// ErrProbeMismatch is returned by NewDevice when the direct I/O probe read
	// back different bytes than it wrote: the device cannot be trusted.
	ErrProbeMismatch = errors.New("ioengine: direct I/O probe read back different bytes")
	// ErrLocked is returned by FS.Lock when another holder (another process,
	// or another Open in this one) has the directory locked.
	ErrLocked = errors.New("ioengine: directory locked by another holder")
)

// IsNoSpace reports whether err is ENOSPC (from the OS or injected by
// errorfs/memfs). EDQUOT (quota exhausted) counts too: for a writer both mean
// "this directory accepts no more bytes".
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
