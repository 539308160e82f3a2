package memfs

import (
	"maps"
	"slices"
)

// pageSize is the granularity of file storage. Files are sparse: a page
// that was never written is absent and reads as zeros, so allocating a
// 4 GiB volume costs nothing.
const pageSize = 4096

type page = [pageSize]byte

// inode is one file's bytes, current and as of the last Sync. Pages are
// copy-on-write: a page referenced by synced (and so possibly shared with
// crash clones) is never modified in place. Only pages in dirty, which were
// freshly allocated after the last Sync, are written in place. All fields
// are guarded by FS.mu.
type inode struct {
	size  int64
	pages map[int64]*page
	dirty map[int64]struct{} // page indexes changed (or deleted) since the last sync

	syncedSize int64
	synced     map[int64]*page

	linked bool // reachable from some current directory entry; counts against free space
}

func newInode() *inode {
	return &inode{
		pages:  map[int64]*page{},
		dirty:  map[int64]struct{}{},
		synced: map[int64]*page{},
		linked: true,
	}
}

// crashed returns a new inode holding ino's synced state.
func (ino *inode) crashed() *inode {
	return &inode{
		size:       ino.syncedSize,
		pages:      maps.Clone(ino.synced),
		dirty:      map[int64]struct{}{},
		syncedSize: ino.syncedSize,
		synced:     maps.Clone(ino.synced),
		linked:     true,
	}
}

// readAt copies bytes at off into p, up to the file size, and returns the count.
func (ino *inode) readAt(p []byte, off int64) int {
	if off >= ino.size {
		return 0
	}
	n := int(min(int64(len(p)), ino.size-off))
	for done := 0; done < n; {
		pos := off + int64(done)
		idx, in := pos/pageSize, int(pos%pageSize)
		chunk := min(pageSize-in, n-done)
		if pg := ino.pages[idx]; pg != nil {
			copy(p[done:done+chunk], pg[in:in+chunk])
		} else {
			clear(p[done : done+chunk])
		}
		done += chunk
	}
	return n
}

// writablePage returns page idx, copying it first unless it is already a
// private dirty page.
func (ino *inode) writablePage(idx int64) *page {
	old := ino.pages[idx]
	if _, isDirty := ino.dirty[idx]; isDirty && old != nil {
		return old
	}
	pg := new(page)
	if old != nil {
		*pg = *old
	}
	ino.pages[idx] = pg
	ino.dirty[idx] = struct{}{}
	return pg
}

// writeAt stores p at off. The caller has already grown size to cover it.
func (ino *inode) writeAt(p []byte, off int64) {
	for done := 0; done < len(p); {
		pos := off + int64(done)
		idx, in := pos/pageSize, int(pos%pageSize)
		chunk := min(pageSize-in, len(p)-done)
		copy(ino.writablePage(idx)[in:in+chunk], p[done:done+chunk])
		done += chunk
	}
}

// truncate sets the size. Bytes beyond the size are kept zero, so growing
// again exposes zeros.
func (ino *inode) truncate(size int64) {
	if size < ino.size {
		for idx := range ino.pages {
			if idx*pageSize >= size {
				delete(ino.pages, idx)
				ino.dirty[idx] = struct{}{}
			}
		}
		if in := int(size % pageSize); in != 0 {
			if idx := size / pageSize; ino.pages[idx] != nil {
				clear(ino.writablePage(idx)[in:])
			}
		}
	}
	ino.size = size
}

// sync makes the current state the synced state.
func (ino *inode) sync() {
	for idx := range ino.dirty {
		if pg := ino.pages[idx]; pg != nil {
			ino.synced[idx] = pg
		} else {
			delete(ino.synced, idx)
		}
	}
	clear(ino.dirty)
	ino.syncedSize = ino.size
}

// syncFailed applies what the kernel does to the dirty pages of a file
// whose fdatasync failed, as mode says. Only written pages fare so: pages
// a truncation removed stay dirty, since a truncation is metadata that the
// next Sync makes durable.
func (ino *inode) syncFailed(mode FailedSync) {
	if mode == FailedSyncKeepsDirty {
		return
	}
	for idx := range ino.dirty {
		pg := ino.pages[idx]
		if pg == nil {
			continue
		}
		// No longer dirty, so no later Sync writes it. A page left in
		// pages is treated as possibly shared from now on and copied
		// before the next write, which keeps the synced state intact.
		delete(ino.dirty, idx)
		if mode != FailedSyncDropsPages {
			continue
		}
		// Evicted: reads show the disk's bytes again, within the current
		// size (bytes past it stay zero, as truncate keeps them).
		old := ino.synced[idx]
		if old == nil {
			delete(ino.pages, idx)
			continue
		}
		if in := int(ino.size % pageSize); idx == ino.size/pageSize && in != 0 {
			cp := *old
			clear(cp[in:])
			old = &cp
		}
		ino.pages[idx] = old
	}
}

// dirtyIndexes returns the dirty page indexes in order, so that a seeded
// choice among them is reproducible.
func (ino *inode) dirtyIndexes() []int64 {
	return slices.Sorted(maps.Keys(ino.dirty))
}

// crashedKeeping returns a new inode holding ino's synced state plus the
// dirty pages keep selects, cut to size.
func (ino *inode) crashedKeeping(keep func(idx int64) bool, size int64) *inode {
	pages := maps.Clone(ino.synced)
	for _, idx := range ino.dirtyIndexes() {
		if !keep(idx) {
			continue
		}
		pg := ino.pages[idx]
		if pg == nil {
			delete(pages, idx)
			continue
		}
		// Dirty pages are written in place by the origin: copy.
		cp := *pg
		pages[idx] = &cp
	}
	for idx := range pages {
		if idx*pageSize >= size {
			delete(pages, idx)
		}
	}
	if in := int(size % pageSize); in != 0 {
		if pg := pages[size/pageSize]; pg != nil {
			cp := *pg
			clear(cp[in:])
			pages[size/pageSize] = &cp
		}
	}
	return &inode{
		size:       size,
		pages:      pages,
		dirty:      map[int64]struct{}{},
		syncedSize: size,
		synced:     maps.Clone(pages),
		linked:     true,
	}
}
