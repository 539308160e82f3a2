// Package errorfs wraps any ioengine.FS and injects faults into chosen
// operations, so tests can drive every error path of a storage engine:
// failed reads, writes, fdatasyncs, ENOSPC, and torn writes.
//
// # Basics
//
// Wrap(fs, inj) returns an FS whose every operation (on the FS and on the
// Files it opens) is first described as an Op and passed to inj.Inject.
// A zero Fault lets the operation through. A Fault with Err set fails it:
// the operation does not reach the wrapped FS and returns an *InjectedError
// wrapping Err, so errors.Is(err, syscall.EIO) (or ENOSPC, ...) works and
// errors.Is(err, ErrInjected) tells injected faults from real ones.
// For writes, Fault.TornPrefix > 0 first writes that many bytes of the
// buffer to the wrapped file, then returns the error: a torn write.
// A faulted Sync calls SyncFailed on the wrapped file when it has one, so
// memfs can do what Linux does after a failed fdatasync: mark the file's
// unsynced pages clean without writing them (memfs.Options.FailedSync), so
// that retrying the fdatasync "succeeds" and still loses them.
//
// Ready-made injectors compose:
//
//	OnIndex(OpSync, 2, EIO)            // the third Sync fails with EIO
//	TearWrite(0, 4096)                 // the first write: 4096 bytes land, then EIO
//	PathMatch("*.vol", inj)            // inj sees only ops on matching paths
//	Any(a, b)                          // every injector sees every op; first fault wins
//	NewToggle()                        // flip faults on and off at runtime
//
// Counting injectors (OnIndex, TearWrite) count only the ops that reach
// them, so PathMatch("*.vol", OnIndex(OpWrite, 3, EIO)) fails the fourth
// write to a .vol file. All injectors are safe for concurrent use; under
// concurrency "the n-th op" is the n-th to call Inject.
//
// # Caveats
//
// A torn write on a direct file must use an aligned TornPrefix, or the
// wrapped file (OSFS, memfs with FlagDirect) rejects the prefix write with
// EINVAL and that error is returned instead. Close, Size, Direct, Alignment
// and Name are never faulted.
package errorfs
