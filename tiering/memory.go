package tiering

import "unsafe"

// ssdIndexBytesPerItem is the SSD index's worst cost per item (a 12-byte
// slot at 76% fill, with its directory and shard headers);
// ssdIndexItemBytes is the smallest average item
// the estimate assumes (an item below a 4 KiB page is rare on an SSD cache
// that exists to save HDD seeks).
const (
	ssdIndexBytesPerItem = 16
	ssdIndexItemBytes    = 4 << 10
	// ssdIndexResizeBytes is what a resize holds on top: the index grows,
	// shrinks, splits and merges one shard at a time, so at most one
	// shard of shardSplitSlots slots exists twice.
	ssdIndexResizeBytes = shardSplitSlots * indexSlotBytes
	// ssdRegionMetaBytes is the SSD core's metadata per region: its
	// regionMeta and its place in the free or sealed list.
	ssdRegionMetaBytes = int64(unsafe.Sizeof(regionMeta{})) + 8
)

// MemoryBytes is the most RAM the caches o describes hold once full: the
// RAM cache's capacity (its item weights include Go's allocation rounding
// and per-entry overheads, so the capacity bounds the heap it takes), and,
// with the SSD cache on, its region buffers, its admission queue, its index
// (16 bytes per item at one item per 4 KiB of SSD, once: the index resizes
// one shard at a time, so it needs only one shard, 48 KiB, more, never a
// second copy of itself), its per-region metadata, the admission sketch
// at the widest it grows to, the cold-share models (coldshare.go), and
// the fill queue.
func (o Options) MemoryBytes() int64 {
	o = o.sizeDefaults()
	total := max(o.RAMCacheBytes, 0)
	if o.RAMCacheBytes > 0 || o.SSDCacheBytes > 0 {
		// Missed bytes waiting for the filler (fill.go).
		total += o.FillQueueBytes
	}
	if o.SSDCacheBytes > 0 {
		total += int64(o.SSDRegionBuffers)*o.RegionSize + o.SSDAdmitQueueBytes
		total += o.SSDCacheBytes/ssdIndexItemBytes*ssdIndexBytesPerItem + ssdIndexResizeBytes
		total += o.SSDCacheBytes / o.RegionSize * ssdRegionMetaBytes
		total += coldChooserBytes
	}
	total += sketchBytes(sketchMaxWidthFor(o.RAMCacheBytes, o.SSDCacheBytes))
	return total
}

// sketchMaxWidthFor is the widest the admission sketch grows to for these
// cache sizes (sketch.go): 8 times its starting width, at most 2^24
// counters per row (64 MiB), which caches of 64 GiB and more reach.
func sketchMaxWidthFor(ramBytes, ssdBytes int64) int {
	return min(8*sketchRowWidth(sketchWidthFor(ramBytes, ssdBytes)), 1<<24)
}

// sketchWidthFor is the admission sketch's starting width for these cache
// sizes.
func sketchWidthFor(ramBytes, ssdBytes int64) int {
	return int(min(max((ramBytes+ssdBytes)/(32<<10), 1<<16), 1<<22))
}
