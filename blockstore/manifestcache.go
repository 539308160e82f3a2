package blockstore

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// manifestLRU is the store's cache of decoded manifests, so a reader that
// Stats a chunked blob for every request (an HTTP handler) reads its
// manifest once, not per request. It is bounded by the bytes the decoded
// manifests hold (Options.ManifestCacheBytes) and evicts the least
// recently used.
//
// An item is the manifest of one key at one version, checksum and
// manifest location; get answers only for an Info that matches all four,
// so a stale item is never served: an overwrite or delete changes the
// version, compaction's rewrite of a manifest (new chunk locations) moves
// the manifest record. Those also drop the key's item (index.apply for
// writes, deletes and drops; switchMoves for compaction), which frees the
// memory at once. The decoded manifests are shared and never modified.
type manifestLRU struct {
	mu    sync.Mutex
	limit int64
	used  int64
	items map[string]*manifestItem
	lru   manifestItem // sentinel: lru.next is the most recent
	// n is len(items), readable without mu: drop, called for every
	// write, costs one atomic load while the cache holds nothing.
	n atomic.Int64

	hits, misses uint64
}

type manifestItem struct {
	key        string
	version    uint64
	checksum   uint32
	loc        location
	m          *manifest
	cost       int64
	prev, next *manifestItem
}

func newManifestLRU(limit int64) *manifestLRU {
	c := &manifestLRU{limit: limit, items: make(map[string]*manifestItem)}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// manifestCost is about what a decoded manifest holds in memory.
func manifestCost(key string, m *manifest) int64 {
	n := int64(unsafe.Sizeof(manifestItem{})+unsafe.Sizeof(manifest{})) + int64(len(key))
	n += int64(len(m.chunks)) * int64(unsafe.Sizeof(chunkRef{}))
	n += 4 * int64(len(m.subs))
	for _, p := range m.parts {
		n += int64(unsafe.Sizeof(p)) + int64(len(p.key))
	}
	return n
}

func (it *manifestItem) matches(info *Info) bool {
	return it.version == info.Version && it.checksum == info.Checksum && it.loc == info.loc
}

// get returns the cached manifest of exactly info's version, or nil.
func (c *manifestLRU) get(info *Info) *manifest {
	if c == nil || c.limit <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[info.Key]
	if !ok || !it.matches(info) {
		c.misses++
		return nil
	}
	c.hits++
	c.unlink(it)
	c.pushFront(it)
	return it.m
}

// put caches m as info's manifest, replacing the key's item, and evicts
// the least recently used items beyond the limit. A manifest larger than
// an eighth of the limit is not cached (it would evict many others).
func (c *manifestLRU) put(info *Info, m *manifest) {
	if c == nil || c.limit <= 0 {
		return
	}
	cost := manifestCost(info.Key, m)
	if cost > c.limit/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.items[info.Key]; ok {
		c.remove(old)
	}
	it := &manifestItem{key: info.Key, version: info.Version, checksum: info.Checksum, loc: info.loc, m: m, cost: cost}
	c.items[info.Key] = it
	c.n.Add(1)
	c.pushFront(it)
	c.used += cost
	for c.used > c.limit {
		c.remove(c.lru.prev)
	}
}

// drop forgets key's item, if any.
func (c *manifestLRU) drop(key string) {
	if c == nil || c.n.Load() == 0 {
		return
	}
	c.mu.Lock()
	if it, ok := c.items[key]; ok {
		c.remove(it)
	}
	c.mu.Unlock()
}

// state reports the items, their bytes, and hits and misses since Open.
func (c *manifestLRU) state() (items int, bytes int64, hits, misses uint64) {
	if c == nil {
		return 0, 0, 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.used, c.hits, c.misses
}

func (c *manifestLRU) remove(it *manifestItem) {
	c.unlink(it)
	delete(c.items, it.key)
	c.n.Add(-1)
	c.used -= it.cost
}

func (c *manifestLRU) unlink(it *manifestItem) {
	it.prev.next, it.next.prev = it.next, it.prev
	it.prev, it.next = nil, nil
}

func (c *manifestLRU) pushFront(it *manifestItem) {
	it.prev, it.next = &c.lru, c.lru.next
	c.lru.next.prev = it
	c.lru.next = it
}
