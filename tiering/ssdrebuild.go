package tiering

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"strata/ioengine"
)

// This file rebuilds the SSD cache's index from the cache file itself when
// no index was saved (a crash, or a kill before Close): every region starts
// with a header naming its fill sequence, and every item carries its full
// key and a CRC32C, so the regions can be read back and their items
// indexed again instead of starting cold.
//
//   - Newest first: regions are scanned in descending fill sequence, so
//     where an item has several copies (a reinsertion) the newest is kept,
//     and a rebuild cut short by its time bound keeps the regions that
//     would be reclaimed last.
//   - Bounded: one small read per region for the headers, then at most the
//     written part of each region (read in 1 MiB pieces, stopping at the
//     first bytes that are not an item), within Options.SSDRebuildTime.
//     Regions not scanned in time are free.
//   - Never bad bytes: an item whose header or CRC fails ends its region's
//     scan (it and what follows are not indexed), and every read verifies
//     the key and CRC again. An indexed item is a clean copy under its full
//     identity (key, version, checksum, segment), so even a copy the index
//     had dropped before the crash (a delete) can only be served for that
//     exact version, which Store.Open serves only while it is current.

// rebuildStats is what a rebuild found.
type rebuildStats struct {
	regions   int   // regions with a valid header, scanned
	skipped   int   // regions with a valid header left unscanned (time bound)
	items     int64 // items indexed
	bytesRead int64
	elapsed   time.Duration
	timedOut  bool
}

// rebuild returns a core indexing the items found in the cache file's
// regions, within the time bound.
func (s *ssdCache) rebuild(ctx context.Context, numRegions int) (*ssdCore, rebuildStats) {
	start := time.Now()
	if s.cfg.rebuildTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.rebuildTime)
		defer cancel()
	}
	c := newSSDCore(numRegions, s.cfg.regionSize)
	var st rebuildStats
	type found struct {
		region uint32
		seq    uint64
	}
	var regions []found
	hdr := ioengine.AlignedBytes(int(ioengine.AlignUp(regionHeaderSize, s.align)), s.align)
	for r := range numRegions {
		if ctx.Err() != nil {
			break
		}
		base := int64(r) * s.cfg.regionSize
		n, err := s.file.ReadAt(ctx, ioengine.ClassBackground, hdr, base)
		st.bytesRead += int64(max(n, 0))
		if err != nil || n != len(hdr) {
			continue
		}
		if seq, err := decodeRegionHeader(hdr, uint32(r), s.cfg.regionSize); err == nil {
			regions = append(regions, found{uint32(r), seq})
		}
	}
	slices.SortFunc(regions, func(a, b found) int { return cmp.Compare(b.seq, a.seq) })
	buf := ioengine.AlignedBytes(int(s.cfg.regionSize), s.align)
	for i, f := range regions {
		if ctx.Err() != nil {
			st.skipped = len(regions) - i
			st.timedOut = true
			break
		}
		end, read := s.rebuildRegion(ctx, c, f.region, buf)
		st.bytesRead += read
		c.adoptRegion(f.region, f.seq, end)
		st.regions++
	}
	c.endAdopt()
	st.items = c.liveItems
	st.elapsed = time.Since(start)
	return c, st
}

// rebuildRegion reads region r piece by piece and indexes its items, newest
// copies (already indexed) winning. It returns the end of the last item
// and the bytes read.
func (s *ssdCache) rebuildRegion(ctx context.Context, c *ssdCore, r uint32, buf []byte) (end, read int64) {
	base := int64(r) * s.cfg.regionSize
	off := c.footprint(regionHeaderSize)
	// have is how much of the region buf holds; read more as items need it.
	var have int64
	fill := func(want int64) bool {
		for have < want && have < s.cfg.regionSize {
			piece := min(s.cfg.regionSize-have, ssdWritePiece)
			n, err := s.file.ReadAt(ctx, ioengine.ClassBackground, buf[have:have+piece], base+have)
			read += int64(max(n, 0))
			if err != nil || int64(n) != piece {
				return false
			}
			have += piece
		}
		return have >= want
	}
	for off+itemHeaderSize <= s.cfg.regionSize {
		if !fill(off + itemHeaderSize) {
			break
		}
		n, ok := peekItemLen(buf[off:have])
		if !ok || off+n > s.cfg.regionSize || !fill(off+n) {
			break
		}
		it, err := decodeItem(buf[off : off+n])
		if err != nil {
			break
		}
		fp := c.footprint(int64(it.n))
		if off+fp > s.cfg.regionSize {
			break
		}
		c.adopt(r, off, fp, it.hash())
		off += fp
	}
	return off, read
}

// peekItemLen is the encoded length an item header at the start of b
// claims, if b starts with one (the CRC is checked by decodeItem).
func peekItemLen(b []byte) (int64, bool) {
	n, err := itemLen(b)
	return n, err == nil
}

// adopt indexes an item found at off in region r during a rebuild, unless
// a newer copy is indexed already (regions are adopted newest first).
func (c *ssdCore) adopt(r uint32, off, footprint int64, h uint64) bool {
	if c.index.has(h) || footprint/c.unit > maxSizeUnits {
		return false
	}
	l := makeLoc(r, uint32(off/c.unit), uint32(footprint/c.unit))
	if _, _, ok := c.index.put(h, l, c.maxItems); !ok {
		return false
	}
	m := &c.regions[r]
	m.live += footprint
	m.items++
	c.liveBytes += footprint
	c.liveItems++
	return true
}

// adoptRegion records region r, scanned up to end, as sealed.
func (c *ssdCore) adoptRegion(r uint32, seq uint64, end int64) {
	m := &c.regions[r]
	m.state, m.seq, m.end = regionSealed, seq, end
}

// endAdopt orders the adopted regions for reclaiming (oldest fill first)
// and frees the others.
func (c *ssdCore) endAdopt() {
	c.fifo, c.free = c.fifo[:0], c.free[:0]
	for i := len(c.regions) - 1; i >= 0; i-- {
		m := &c.regions[i]
		if m.state == regionSealed {
			c.fifo = append(c.fifo, uint32(i))
			c.nextSeq = max(c.nextSeq, m.seq)
			continue
		}
		*m = regionMeta{state: regionFree}
		c.free = append(c.free, uint32(i))
	}
	slices.SortFunc(c.fifo, func(a, b uint32) int { return cmp.Compare(c.regions[a].seq, c.regions[b].seq) })
}

func (st rebuildStats) String() string {
	s := fmt.Sprintf("rebuilt from regions: %d items in %d regions, %d bytes read in %v", st.items, st.regions, st.bytesRead, st.elapsed.Round(time.Millisecond))
	if st.timedOut {
		s += fmt.Sprintf(" (time bound reached: %d older regions left free)", st.skipped)
	}
	return s
}
