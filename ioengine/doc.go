// Package ioengine does O_DIRECT I/O with aligned buffers and per-device
// queues. It owns files on a device and nothing else: it does not know what
// a blob, a record or a volume is.
//
// # Basics
//
// FS and File are the seam every durability test goes through. OSFS is the
// real filesystem; package memfs simulates crashes and package errorfs
// injects faults into any FS.
//
// A Device is one directory on one physical disk. NewDevice probes direct
// I/O there (an aligned write and read of a temporary file), and the Device
// then hands out Handles whose ReadAt, WriteAt, Sync, Allocate and Truncate
// go through the device queue and are counted in Stats.
//
// FS.Lock takes an exclusive, non-blocking lock on a directory or file
// (flock in OSFS, released by the kernel when the process dies); a second
// holder, in this process too, gets ErrLocked. Files that FlagCreate makes
// are 0600 unless the flags carry another mode (WithPerm).
//
// Sync is fdatasync. A File or Handle never retries a failed Sync or write:
// after a failed fdatasync the kernel may have dropped the dirty pages, so a
// retry can report success for bytes that are gone. Callers must treat the
// file as suspect instead.
//
// # Alignment
//
// With O_DIRECT the kernel moves data straight between the caller's buffer
// and the disk, so the buffer address, the file offset and the length must
// all be multiples of the device's alignment. ioengine uses
// max(4096, STATX_DIOALIGN memory and offset alignment) as reported by
// statx(2). Direct files do not check alignment themselves: the kernel
// rejects a misaligned request with EINVAL (memfs checks, to surface such
// bugs in tests). Callers always align, also on a device that fell back to
// buffered I/O, so the same code runs in both modes.
//
// BufferPool hands out buffers whose address and length are aligned, in two
// pooled size classes (64 KiB and 1 MiB). Larger requests are allocated
// aligned and dropped by Put. AlignUp, AlignDown and AlignedBytes help with
// the arithmetic.
//
// # Direct I/O fallback
//
// OSFS opens FlagDirect files with O_DIRECT. If open fails with EINVAL, or
// statx says the filesystem does not support direct I/O on the file, the
// file is opened buffered and File.Direct reports false. NewDevice goes
// further and verifies an aligned write and read; if the kernel refuses
// them with EINVAL the device falls back to buffered I/O, logs one warning
// through DeviceOptions.Logger, reports Direct() == false in DeviceStats, and
// drops FlagDirect from later Opens. Durability is unchanged: fdatasync is
// what makes bytes durable in both modes.
//
// # Blocking reads
//
// A direct file's ReadAt (OSFS, Linux) tells the Go scheduler before the
// pread that it will block (runtime.entersyscallblock, reached by linkname
// as gVisor does), so the caller's P moves to another thread at once
// instead of idling until sysmon retakes it 20 µs or more later. With
// GOMAXPROCS near the number of cores and many reads in flight, that idle
// time was what bounded a device's throughput: on 2 cores at 16 reads in
// flight a plain os.File pread loop is P-bound, and every µs of CPU around
// a read (an index lookup, a checksum) cost about a µs of device time
// (docs/benchmarks.md, "Cold Get in the store"). The read keeps
// os.File.ReadAt's contract: EINTR is retried, a short read continues, the
// end of the file is io.EOF with the bytes before it, the descriptor is
// held open for the call. Buffered files still use os.File.ReadAt. The
// price is one thread handoff per direct read even when it is fast, which
// a device read (tens of µs at least) always amortises.
//
// # Queue
//
// Each Device bounds the number of syscalls in flight (MaxInFlight, default
// 32). An operation takes a slot of one of three classes, ClassRead,
// ClassWrite or ClassBackground. When a slot frees it goes to the oldest
// waiting read, else the oldest waiting write, else the oldest background
// operation: strict priority, FIFO within a class. A caller whose context
// ends while queued gets ctx.Err() and holds nothing. There is no goroutine
// per operation: the caller's goroutine runs the syscall. When a slot is free
// and no one waits, taking it costs one mutex round trip and no allocation;
// waiter structs are pooled.
//
// Per device and class, Stats counts operations, bytes and errors with
// atomics, and records latency (call to return, queue wait included) and
// queue wait in fixed log2-bucket histograms (16µs doubling to ~16.8s).
//
// # Caveats
//
// Priority is strict: a steady stream of reads that keeps every slot busy
// starves writes and background work. Callers throttle background work
// themselves.
//
// The queue bounds syscalls, not bytes: one 64 MiB write holds one slot.
//
// Direct I/O on tmpfs is accepted on recent kernels but does not enforce
// alignment, so tests that must catch alignment bugs should use memfs or an
// ext4 directory.
//
// Handle.Size and Handle.Close do not go through the queue.
//
// Names starting with ".ioengine-probe-" are reserved in device directories:
// NewDevice creates one for its probe and removes any it finds (left by a
// crash during a probe).
package ioengine
