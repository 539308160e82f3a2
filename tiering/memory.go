package tiering

// ssdIndexBytesPerItem is the SSD index's worst cost per item (a 12-byte
// slot at 76% fill, with its directory and shard headers);
// ssdIndexItemBytes is the smallest average item
// the estimate assumes (an item below a 4 KiB page is rare on an SSD cache
// that exists to save HDD seeks).
const (
	ssdIndexBytesPerItem = 16
	ssdIndexItemBytes    = 4 << 10
)

// MemoryBytes is the most RAM the caches o describes hold once full: the
// RAM cache's capacity (its item weights include Go's allocation rounding
// and per-entry overheads, so the capacity bounds the heap it takes), and,
// with the SSD cache on, its region buffers, its admission queue, its index
// (16 bytes per item at one item per 4 KiB of SSD, counted twice: the
// index now grows one shard at a time and needs only one shard, ~50 KiB, more,
// but the node's budget figures still count the old whole-table rehash)
// and the admission sketch.
func (o Options) MemoryBytes() int64 {
	o = o.sizeDefaults()
	total := max(o.RAMCacheBytes, 0)
	if o.SSDCacheBytes > 0 {
		total += int64(o.SSDRegionBuffers)*o.RegionSize + o.SSDAdmitQueueBytes
		total += 2 * o.SSDCacheBytes / ssdIndexItemBytes * ssdIndexBytesPerItem
	}
	// The sketch Open builds: 4 rows of one byte per counter.
	total += 4 * int64(sketchWidthFor(o.RAMCacheBytes, o.SSDCacheBytes))
	return total
}

// sketchWidthFor is the admission sketch's width for these cache sizes.
func sketchWidthFor(ramBytes, ssdBytes int64) int {
	return int(min(max((ramBytes+ssdBytes)/(32<<10), 1<<16), 1<<22))
}
