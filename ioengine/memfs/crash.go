package memfs

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
)

// FailedSync chooses what a failed fdatasync does to the unsynced pages of
// the file.
type FailedSync int

const (
	// FailedSyncMarksClean: the pages keep their new bytes in the cache (reads
	// see them) but are marked clean without reaching the disk, so a later
	// Sync that succeeds does not persist them and a crash loses them. This
	// is what Linux does: the failed writeback leaves the pages clean and
	// the error is reported once, so a retried fsync succeeds without
	// writing them. It is why a failed fsync must never be retried.
	FailedSyncMarksClean FailedSync = iota
	// FailedSyncDropsPages: the pages are evicted as well, so reads return
	// the bytes of the last successful Sync again.
	FailedSyncDropsPages
	// FailedSyncKeepsDirty: nothing happens to the pages, so a retried Sync
	// persists them: the optimistic model of memfs before it modelled
	// writeback errors, for tests that want it.
	FailedSyncKeepsDirty
)

func (f FailedSync) String() string {
	switch f {
	case FailedSyncMarksClean:
		return "marks-clean"
	case FailedSyncDropsPages:
		return "drops-pages"
	case FailedSyncKeepsDirty:
		return "keeps-dirty"
	}
	return fmt.Sprintf("FailedSync(%d)", int(f))
}

// CrashClone returns a new FS holding the state a crash at this instant
// could leave: for each directory only its entries as of its last SyncDir,
// each with its file's bytes as of the file's last Sync. Files opened on m
// stay attached to m. The clone has the same alignment, free-space limit and
// FailedSync mode. It is CrashCloneWith(CrashOptions{}).
func (m *FS) CrashClone() *FS { return m.CrashCloneWith(CrashOptions{}) }

// Unsynced chooses which bytes written since a file's last Sync a crash
// clone keeps.
type Unsynced int

const (
	// LoseUnsynced: none; every file is as of its last Sync. The most
	// pessimistic legal state.
	LoseUnsynced Unsynced = iota
	// KeepUnsyncedPrefix: per file, the unsynced pages below a random offset
	// reached the disk, those at or above it did not (an append-only
	// writer's tail torn at a page boundary).
	KeepUnsyncedPrefix
	// KeepUnsyncedRandom: per file, each unsynced page independently
	// reached the disk or not, as writeback in any order can leave it.
	KeepUnsyncedRandom
)

func (u Unsynced) String() string {
	switch u {
	case LoseUnsynced:
		return "lose"
	case KeepUnsyncedPrefix:
		return "keep-prefix"
	case KeepUnsyncedRandom:
		return "keep-random"
	}
	return fmt.Sprintf("Unsynced(%d)", int(u))
}

// CrashOptions chooses among the states a crash could leave.
type CrashOptions struct {
	Unsynced Unsynced
	// Rand drives the choices of KeepUnsyncedPrefix and KeepUnsyncedRandom;
	// nil means a fixed seed. Directories and pages are visited in sorted
	// order, so a seeded Rand gives a reproducible clone.
	Rand *rand.Rand
}

// CrashCloneWith returns a new FS holding one state a crash at this instant
// could leave, as opts chooses. Directory entries are always those of the
// last SyncDir. With a keep mode, a file whose size changed since its last
// Sync gets either its synced or its current size, at random; kept pages
// are cut to that size. Pages lost to a failed fdatasync are not unsynced
// any more (they were marked clean): no mode brings them back.
func (m *FS) CrashCloneWith(opts CrashOptions) *FS {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := opts.Rand
	if r == nil {
		r = rand.New(rand.NewPCG(1, 2))
	}
	c := &FS{align: m.align, dirs: map[string]*dir{}, limited: m.limited, free: m.free, locked: map[string]bool{}, failedSync: m.failedSync}
	clones := map[*inode]*inode{}
	for _, p := range slices.Sorted(maps.Keys(m.dirs)) {
		d := m.dirs[p]
		cd := newDir()
		for _, name := range slices.Sorted(maps.Keys(d.durable)) {
			ino := d.durable[name]
			ci, ok := clones[ino]
			if !ok {
				ci = crashedInode(ino, opts.Unsynced, r)
				clones[ino] = ci
			}
			cd.entries[name] = ci
			cd.durable[name] = ci
		}
		c.dirs[p] = cd
	}
	if c.limited {
		// The crash discarded unsynced growth; give that space back.
		c.free += m.usedLocked() - c.usedLocked()
		c.free = max(c.free, 0)
	}
	return c
}

// crashedInode returns what of ino a crash leaves, as mode and r choose.
func crashedInode(ino *inode, mode Unsynced, r *rand.Rand) *inode {
	if mode == LoseUnsynced || (len(ino.dirty) == 0 && ino.size == ino.syncedSize) {
		return ino.crashed()
	}
	size := ino.syncedSize
	if ino.size != ino.syncedSize && r.IntN(2) == 0 {
		size = ino.size
	}
	keep := func(int64) bool { return r.IntN(2) == 0 }
	if mode == KeepUnsyncedPrefix {
		var cut int64
		if idx := ino.dirtyIndexes(); len(idx) > 0 {
			cut = idx[0] + r.Int64N(idx[len(idx)-1]-idx[0]+2)
		}
		keep = func(idx int64) bool { return idx < cut }
	}
	return ino.crashedKeeping(keep, size)
}
