package tiering

import (
	"fmt"
	"sync/atomic"

	"github.com/maypok86/otter/v2"
)

// ramKey names one cached item: a segment of one version of a blob. The
// version and checksum make an overwrite a different key, so the RAM tier
// never serves stale bytes; a delete invalidates explicitly.
type ramKey struct {
	key     string
	version uint64
	sum     uint32
	seg     uint32
}

func (k ramKey) hash() uint64 { return itemHash(k.key, k.version, k.sum, k.seg) }

// ramValue is a cached item. data is never modified after insertion.
type ramValue struct {
	data    []byte
	size    int64 // bytes charged for data (cap(data); the simulator sets it without data)
	objSize int64 // size of the whole blob, for the SSD per-object cutoff
	fromSSD bool  // promoted from the SSD: a clean copy is there already
	// unread marks a blob written through by a Put and not read since:
	// replacing it is no reason to write the next version through
	// (writeadmit.go). The first RAM hit clears it (markRead).
	unread bool
}

// ramEntryOverhead approximates what otter and Go spend per entry besides
// the key and data bytes (node, hash table slot, slice and string headers),
// so that the configured capacity bounds the heap rather than payload only.
// TestRAMWeightCoversHeap measures it: about 150 bytes are spent.
const ramEntryOverhead = 192

// ramCache is the RAM tier: an otter (W-TinyLFU) cache weighted by bytes.
// Every entry that leaves it by eviction is reported to onEvict, so no
// accepted insert disappears without the SSD tier being offered it.
type ramCache struct {
	c         *otter.Cache[ramKey, ramValue]
	capacity  int64
	evictions atomic.Uint64
	inserts   atomic.Uint64
}

func ramWeight(k ramKey, v ramValue) uint32 {
	return uint32(int64(len(k.key)) + heapBytes(v.size) + ramEntryOverhead)
}

// heapBytes approximates what the Go allocator spends on an n-byte slice:
// small sizes are rounded up to a size class (up to 12.5%, 1/16 on
// average), large ones to whole 8 KiB pages.
func heapBytes(n int64) int64 {
	if n > 32<<10 {
		return (n + 8<<10 - 1) &^ (8<<10 - 1)
	}
	return n + n/16
}

// newRAMCache builds the RAM tier. onEvict runs on the goroutine that
// caused the eviction, possibly under otter's locks: it must not call the
// cache and must not block.
func newRAMCache(capacity int64, onEvict func(ramKey, ramValue)) (*ramCache, error) {
	r := &ramCache{capacity: capacity}
	c, err := otter.New(&otter.Options[ramKey, ramValue]{
		MaximumWeight: uint64(capacity),
		Weigher:       ramWeight,
		// Run maintenance and deletion events on the caller: eviction is
		// then prompt (RSS follows the bound) and deterministic for the
		// simulator, and no goroutine is spawned per event.
		Executor: func(fn func()) { fn() },
		OnDeletion: func(e otter.DeletionEvent[ramKey, ramValue]) {
			if e.WasEvicted() {
				r.evictions.Add(1)
				if onEvict != nil {
					onEvict(e.Key, e.Value)
				}
			}
		},
		Logger: &otter.NoopLogger{},
	})
	if err != nil {
		return nil, fmt.Errorf("tiering: ram cache: %w", err)
	}
	r.c = c
	return r, nil
}

func (r *ramCache) get(k ramKey) (ramValue, bool) { return r.c.GetIfPresent(k) }

// containsQuietly reports whether k is cached without counting an access.
func (r *ramCache) containsQuietly(k ramKey) bool {
	_, ok := r.c.GetEntryQuietly(k)
	return ok
}

// containsRead reports whether k is cached and has been read since it
// entered RAM (a fill from a read, or a write-through hit since), without
// counting an access.
func (r *ramCache) containsRead(k ramKey) bool {
	e, ok := r.c.GetEntryQuietly(k)
	return ok && !e.Value.unread
}

// markRead clears v.unread of k after a hit on it. Only the first hit of
// a written-through item writes to the cache.
func (r *ramCache) markRead(k ramKey, v ramValue) {
	if !v.unread {
		return
	}
	r.c.ComputeIfPresent(k, func(old ramValue) (ramValue, otter.ComputeOp) {
		if !old.unread {
			return old, otter.CancelOp
		}
		old.unread = false
		return old, otter.WriteOp
	})
}

func (r *ramCache) set(k ramKey, v ramValue) {
	if v.data != nil {
		v.size = int64(cap(v.data))
	}
	r.inserts.Add(1)
	r.c.Set(k, v)
}

func (r *ramCache) invalidate(k ramKey) { r.c.Invalidate(k) }

func (r *ramCache) weightedSize() int64 { return int64(r.c.WeightedSize()) }

func (r *ramCache) items() int64 { return int64(r.c.EstimatedSize()) }
