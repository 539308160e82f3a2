package ioengine

import (
	"syscall"
	"unsafe"
	_ "unsafe" // go:linkname

	"golang.org/x/sys/unix"
)

// A direct read blocks for the device's whole service time. Through
// os.File.ReadAt the goroutine's P stays bound to the blocked thread until
// sysmon notices the syscall (20 µs or more later) and hands the P on, so
// with GOMAXPROCS near the number of cores and a queue of reads every read
// idles a P for that long: on 2 cores at 16 reads in flight that capped the
// device's throughput, and each µs of CPU around a read (an index lookup, a
// checksum) cost about a µs of device time too. blockingPread tells the
// scheduler up front that the call blocks (runtime.entersyscallblock, the
// hint the runtime gives its own blocking calls, reachable by linkname as
// gVisor uses it), so the P moves to another thread at once.

//go:linkname entersyscallblock runtime.entersyscallblock
func entersyscallblock()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// pread1 is one pread(2) that releases the P before it blocks. It must not
// grow the stack or allocate between the two runtime calls: nosplit, and
// only a raw syscall in between.
//
//go:nosplit
func pread1(fd int, p unsafe.Pointer, n int, off int64) (int, syscall.Errno) {
	entersyscallblock()
	r, _, e := syscall.RawSyscall6(unix.SYS_PREAD64, uintptr(fd), uintptr(p), uintptr(n), uintptr(off), 0, 0)
	exitsyscall()
	return int(r), e
}

// blockingPread reads len(p) bytes at off from fd like os.File.ReadAt:
// it retries EINTR, continues after a short read and returns n < len(p)
// with eof set at the end of the file.
func blockingPread(fd int, p []byte, off int64) (n int, eof bool, err error) {
	for n < len(p) {
		m, e := pread1(fd, unsafe.Pointer(&p[n]), len(p)-n, off+int64(n))
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			return n, false, e
		case m == 0:
			return n, true, nil
		}
		n += m
	}
	return n, false, nil
}
