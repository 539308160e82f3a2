package tiering

import (
	"testing"

	"strata/internal/mix"
)

// TestMemoryBytesCountsEachPartOnce builds the parts MemoryBytes estimates
// (the SSD index of a cache full of 4 KiB items, the admission sketch
// grown to its widest) and
// checks the estimate holds each of them once: at least what the part
// really takes, and not a second copy of it.
func TestMemoryBytesCountsEachPartOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ram, ssd int64
	}{
		{"defaults", 256 << 20, 1 << 30},
		{"large ssd", 1 << 30, 2 << 30},
		{"small", 8 << 20, 64 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{RAMCacheBytes: tc.ram, SSDCacheBytes: tc.ssd}
			so := o.sizeDefaults()
			fixed := tc.ram + int64(so.SSDRegionBuffers)*so.RegionSize + so.SSDAdmitQueueBytes + so.FillQueueBytes + coldChooserBytes

			adm := newAdmissionPolicy(admissionConfigFor(so))
			for 2*len(adm.sketch.rows[0]) <= adm.sketch.maxWidth {
				adm.sketch.grow() // the widest it gets
			}
			sketch := adm.sketch.bytes()

			idx := newItemIndex()
			items := tc.ssd / ssdIndexItemBytes
			for i := range items {
				idx.put(mix.Mix64(uint64(i)+1), makeLoc(uint32(i%4096), uint32(i%30000), 32), 0)
			}
			index := idx.bytes()

			rest := o.MemoryBytes() - fixed - sketch
			// The index term covers the index once, plus one shard of room
			// for a resize and the region metadata: not 20% more.
			if rest < index || float64(rest) > 1.2*float64(index)+ssdIndexResizeBytes {
				t.Errorf("MemoryBytes %d: %d left for the SSD index after RAM, buffers, queues and a %d-byte sketch; the index of %d items takes %d",
					o.MemoryBytes(), rest, sketch, items, index)
			}
		})
	}
}
