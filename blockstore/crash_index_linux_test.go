//go:build linux

package blockstore

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// canFailIndexWrites: bbolt does its I/O on its own *os.File, outside
// ioengine.FS, so errorfs cannot reach it; on Linux the test swaps the
// descriptor under it instead.
const canFailIndexWrites = true

// indexWriteFailer makes every write to one open file fail (EBADF) by
// putting a read-only descriptor of the same file in place of the
// process's read-write one, until restore. Reads, and bbolt's mmap, keep
// working: the index serves lookups, but no commit gets through.
type indexWriteFailer struct {
	fd, saved int
}

// failIndexWrites finds the descriptor this process holds on path (bbolt's)
// and makes writes through it fail.
func failIndexWrites(path string) (*indexWriteFailer, error) {
	want, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	names, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("fail index writes: %w", err)
	}
	fd := -1
	for _, n := range names {
		got, err := os.Stat("/proc/self/fd/" + n.Name())
		if err == nil && os.SameFile(want, got) {
			if fd, err = strconv.Atoi(n.Name()); err != nil {
				return nil, err
			}
			break
		}
	}
	if fd < 0 {
		return nil, fmt.Errorf("fail index writes: no descriptor open on %s", path)
	}
	saved, err := syscall.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("fail index writes: dup: %w", err)
	}
	ro, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		syscall.Close(saved)
		return nil, fmt.Errorf("fail index writes: %w", err)
	}
	defer syscall.Close(ro)
	if err := syscall.Dup3(ro, fd, syscall.O_CLOEXEC); err != nil {
		syscall.Close(saved)
		return nil, fmt.Errorf("fail index writes: dup3: %w", err)
	}
	return &indexWriteFailer{fd: fd, saved: saved}, nil
}

// restore puts the read-write descriptor back.
func (f *indexWriteFailer) restore() error {
	defer syscall.Close(f.saved)
	if err := syscall.Dup3(f.saved, f.fd, syscall.O_CLOEXEC); err != nil {
		return fmt.Errorf("restore index writes: %w", err)
	}
	return nil
}
