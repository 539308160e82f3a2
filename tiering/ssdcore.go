package tiering

// ssdCore is the I/O-free heart of the SSD cache, in the style of CacheLib's
// BlockCache: the cache file is an array of fixed-size regions; items are
// appended to the one region being filled (in RAM); a full region is sealed
// and written; when free regions run out, the oldest sealed region is
// reclaimed (FIFO), and items that were read while resident are offered for
// reinsertion. The core holds the index, the region metadata and these
// decisions. The real cache (ssdcache.go) adds buffers and I/O around it; the
// simulator (sim.go) drives the same core with no I/O.
//
// Not safe for concurrent use: callers hold a lock.
type ssdCore struct {
	regionSize int64
	unit       int64 // bytes per offset/size unit in packed locations
	regions    []regionMeta
	index      *itemIndex
	maxItems   int
	fifo       []uint32 // sealed regions, oldest first
	free       []uint32
	fill       int32 // region being filled, -1 when none
	nextSeq    uint64
	liveBytes  int64
	liveItems  int64
}

type regionState uint8

const (
	regionFree regionState = iota
	regionFilling
	regionFlushing
	regionSealed
	regionReclaiming
)

type regionMeta struct {
	state regionState
	seq   uint64 // order in which regions were opened for filling
	end   int64  // bytes appended so far
	live  int64  // bytes of items the index still points to
	items int32  // items the index still points to
}

// itemLoc is an unpacked location.
type itemLoc struct {
	region uint32
	off    int64 // bytes from the region start
	size   int64 // footprint in bytes (a multiple of unit)
	hits   uint8
}

func (c *ssdCore) unpack(l packedLoc) itemLoc {
	return itemLoc{region: l.region(), off: int64(l.offUnits()) * c.unit, size: int64(l.sizeUnits()) * c.unit, hits: l.hits()}
}

// ssdUnit is the offset/size unit for a region size: 128 bytes, or more
// for regions above 16 MiB so offsets still fit 17 bits. An item's
// footprint is its header, key and payload rounded up to the unit, so a
// 4 KiB object with a 40-byte key takes 4224 bytes (3% over); with the
// 1 KiB unit 16 MiB regions had before it took 5 KiB. Packing tighter than
// the device's alignment costs no second read: a read is one aligned range
// around the item, whatever its offset (ssdCache.get).
func ssdUnit(regionSize int64) int64 {
	u := int64(128)
	for regionSize/u > maxUnitsPerRegion {
		u <<= 1
	}
	return u
}

func newSSDCore(numRegions int, regionSize int64) *ssdCore {
	c := &ssdCore{
		regionSize: regionSize,
		unit:       ssdUnit(regionSize),
		regions:    make([]regionMeta, numRegions),
		index:      newItemIndex(),
		fill:       -1,
	}
	// Bound the index by what could fit at one unit per item: it never
	// needs more, and a corrupt workload cannot make it grow without end.
	c.maxItems = int(min(int64(numRegions)*regionSize/c.unit, 1<<31-1))
	for i := numRegions - 1; i >= 0; i-- {
		c.free = append(c.free, uint32(i))
	}
	return c
}

// footprint is the flash space an item of n encoded bytes takes.
func (c *ssdCore) footprint(n int64) int64 { return (n + c.unit - 1) / c.unit * c.unit }

func (c *ssdCore) lookup(h uint64) (itemLoc, bool) {
	l, ok := c.index.get(h)
	if !ok {
		return itemLoc{}, false
	}
	return c.unpack(l), true
}

func (c *ssdCore) contains(h uint64) bool { return c.index.has(h) }

// touch records a hit on h, which makes it a candidate for reinsertion
// when its region is reclaimed.
func (c *ssdCore) touch(h uint64) {
	if l, ok := c.index.get(h); ok {
		c.index.update(h, l.withHits(l.hits()+1))
	}
}

func (c *ssdCore) unaccount(l packedLoc) {
	loc := c.unpack(l)
	r := &c.regions[loc.region]
	r.live -= loc.size
	r.items--
	c.liveBytes -= loc.size
	c.liveItems--
}

// invalidate forgets h: a delete or overwrite costs no SSD write, only
// this index update and the live-byte counter of the region.
func (c *ssdCore) invalidate(h uint64) bool {
	l, ok := c.index.remove(h)
	if ok {
		c.unaccount(l)
	}
	return ok
}

// invalidateAt forgets h only if it still points at loc (a reader found
// bad bytes there; a newer copy elsewhere must survive).
func (c *ssdCore) invalidateAt(h uint64, loc itemLoc) bool {
	cur, ok := c.lookup(h)
	if !ok || cur.region != loc.region || cur.off != loc.off {
		return false
	}
	return c.invalidate(h)
}

type placeResult uint8

const (
	placed         placeResult = iota
	placeNeedFill              // no region being filled, or it has no room: rotate
	placeIndexFull             // the index cannot grow
	placeTooLarge              // the item can never fit a region
)

// place appends an item of footprint bytes for h to the fill region and
// points the index at it (replacing any older copy).
func (c *ssdCore) place(h uint64, footprint int64) (itemLoc, placeResult) {
	if footprint > c.regionSize || footprint/c.unit > maxSizeUnits {
		return itemLoc{}, placeTooLarge
	}
	if c.fill < 0 || c.regions[c.fill].end+footprint > c.regionSize {
		return itemLoc{}, placeNeedFill
	}
	r := &c.regions[c.fill]
	l := makeLoc(uint32(c.fill), uint32(r.end/c.unit), uint32(footprint/c.unit))
	old, replaced, ok := c.index.put(h, l, c.maxItems)
	if !ok {
		return itemLoc{}, placeIndexFull
	}
	if replaced {
		c.unaccount(old)
	}
	loc := itemLoc{region: uint32(c.fill), off: r.end, size: footprint}
	r.end += footprint
	r.live += footprint
	r.items++
	c.liveBytes += footprint
	c.liveItems++
	return loc, placed
}

// sealFill ends the fill region; it must now be written (flushing).
func (c *ssdCore) sealFill() (uint32, bool) {
	if c.fill < 0 {
		return 0, false
	}
	r := uint32(c.fill)
	c.regions[r].state = regionFlushing
	c.fill = -1
	return r, true
}

// openFill takes a free region for filling.
func (c *ssdCore) openFill() (uint32, bool) {
	if c.fill >= 0 {
		return uint32(c.fill), true
	}
	if len(c.free) == 0 {
		return 0, false
	}
	r := c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	c.nextSeq++
	// The region header takes the first unit (ssdformat.go).
	c.regions[r] = regionMeta{state: regionFilling, seq: c.nextSeq, end: c.footprint(regionHeaderSize)}
	c.fill = int32(r)
	return r, true
}

// markSealed records that region r is on flash and readable.
func (c *ssdCore) markSealed(r uint32) {
	c.regions[r].state = regionSealed
	c.fifo = append(c.fifo, r)
}

// needReclaim reports whether fewer than reserve regions are free and a
// sealed region can be reclaimed.
func (c *ssdCore) needReclaim(reserve int) bool { return len(c.free) < reserve && len(c.fifo) > 0 }

// beginReclaim takes the oldest sealed region for reclaiming. Its items
// stay readable until reclaimItem or endReclaim removes them.
func (c *ssdCore) beginReclaim() (uint32, bool) {
	if len(c.fifo) == 0 {
		return 0, false
	}
	r := c.fifo[0]
	c.fifo = c.fifo[1:]
	c.regions[r].state = regionReclaiming
	return r, true
}

// reclaimItem is called for each item found in a region being reclaimed.
// It removes h from the index if the index still points at this copy, and
// says whether the item should be reinserted: it was read while resident.
func (c *ssdCore) reclaimItem(r uint32, h uint64, off int64) (live, reinsert bool) {
	l, ok := c.index.get(h)
	if !ok {
		return false, false
	}
	loc := c.unpack(l)
	if loc.region != r || loc.off != off {
		return false, false
	}
	c.invalidate(h)
	return true, loc.hits > 0
}

// endReclaim frees region r. Items its scan did not account for (an
// unreadable region) are dropped by a full index scan.
func (c *ssdCore) endReclaim(r uint32) { c.dropRegion(r) }

// dropRegion forgets every item of region r and frees it (reclaim, or a
// failed write).
func (c *ssdCore) dropRegion(r uint32) {
	if c.regions[r].items > 0 {
		c.index.removeIf(func(l packedLoc) bool {
			if l.region() != r {
				return false
			}
			c.unaccount(l)
			return true
		})
	}
	if c.fill == int32(r) {
		c.fill = -1
	}
	for i, f := range c.fifo {
		if f == r {
			c.fifo = append(c.fifo[:i:i], c.fifo[i+1:]...)
			break
		}
	}
	c.regions[r] = regionMeta{state: regionFree}
	c.free = append(c.free, r)
}

// indexBytesPerItem is the RAM the index costs per cached item.
func (c *ssdCore) indexBytesPerItem() float64 {
	if c.liveItems == 0 {
		return 0
	}
	return float64(c.index.bytes()) / float64(c.liveItems)
}
