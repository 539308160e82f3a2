// Package memfs is an in-memory ioengine.FS that can simulate a crash.
//
// # Crash model
//
// Every file (inode) keeps two copies of its bytes: the current ones and the
// ones as of its last File.Sync (fdatasync). Every directory keeps two
// listings: the current entries and the entries as of its last FS.SyncDir.
// CrashClone returns a new FS holding what a crash could leave: only the
// durable directory entries, each naming its inode's synced bytes. So
//
//   - bytes written but never synced are lost;
//   - a file created (or renamed, or removed) whose directory was never
//     synced afterwards is back to its old directory state: a new file
//     vanishes, a renamed file reappears under its old name, a removed file
//     comes back (with its synced bytes);
//   - a file synced, then written again, keeps only the synced version;
//   - Truncate and Allocate change the size, which becomes durable with the
//     next Sync like any data.
//
// CrashClone picks the most pessimistic legal state. Real filesystems may
// keep more: unsynced data that happened to be written back, in any order.
// CrashCloneWith picks other legal states, from a seeded Rand: a random
// prefix of each file's unsynced pages (KeepUnsyncedPrefix) or a random
// subset of them (KeepUnsyncedRandom), so recovery also meets holes and
// stale pages between new ones.
//
// # Failed fdatasync
//
// A failed fdatasync never reaches memfs; the wrapper that injected it
// (errorfs) calls File.SyncFailed. By default memfs then does what Linux
// does: the file's unsynced written pages are marked clean without reaching
// the disk (a truncation is metadata: the next Sync still makes it
// durable). Reads still see the new bytes, but no later Sync persists them,
// until they are written again, and a crash loses them, so a store that retries a failed fdatasync and acks
// loses acknowledged data in a crash test. Options.FailedSync can also drop
// the pages from the cache (reads revert) or keep them dirty (a retry
// persists them, the old model).
//
// # Storage
//
// Files are sparse 4 KiB pages, copy-on-write between the current and the
// synced state: Allocate of a multi-GiB volume costs no memory, Sync costs
// one pointer copy per page changed since the previous Sync, and a crash
// clone shares unchanged pages with its origin.
//
// # Alignment and space
//
// Files opened with ioengine.FlagDirect report Direct() == true and reject,
// with an error wrapping syscall.EINVAL, any read or write whose offset,
// length or buffer address is not a multiple of Options.Alignment. This
// makes alignment bugs fail in tests the way they fail on a real disk.
//
// Options.FreeBytes (or SetFreeBytes) caps how many more bytes the files may
// grow by. A write or Allocate that would exceed the cap writes nothing and
// fails with an error wrapping syscall.ENOSPC (ioengine.IsNoSpace is true).
// Overwrites inside a file's current size always succeed. Space is counted
// by file size (Allocate and growing Truncate both count), not by pages
// actually written.
//
// # Caveats
//
// Directories are durable as soon as MkdirAll returns, and renaming or
// removing directories is not supported. There are no hard links, modes or
// timestamps. Lock is modelled (exclusive per path) but not part of a
// crash clone: a crash releases every lock. Each directory listing is independent: rename across
// directories becomes durable per directory as each is synced. An inode
// removed while open stays readable and writable through its open File, and
// its bytes no longer count against FreeBytes.
package memfs
