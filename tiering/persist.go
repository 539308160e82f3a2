package tiering

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// SSD index snapshot, written at clean shutdown and read (then removed) at
// start. All integers little-endian:
//
//	magic "STRTSSDX" | format u32 | unit u32 | region size u64 | regions u32
//	next seq u64 | index slots u64 | index count u64 | fifo length u32
//	per region: state u8, seq u64, end u64, live u64, items u32   (29 bytes)
//	fifo: region u32 each, oldest first
//	index slots: 3 x u32 each (fingerprint, packed low, packed high)
//	CRC32C of everything above, u32
//
// Only free and sealed regions appear: close writes every other region first.
const (
	snapshotMagic   = "STRTSSDX"
	snapshotFormat  = 1
	snapshotHeader  = 8 + 4 + 4 + 8 + 4 + 8 + 8 + 8 + 4
	snapshotRegionN = 29
)

func encodeSnapshot(c *ssdCore) []byte {
	n := snapshotHeader + len(c.regions)*snapshotRegionN + 4*len(c.fifo) + 4*len(c.index.slots) + 4
	b := make([]byte, 0, n)
	le := binary.LittleEndian
	b = append(b, snapshotMagic...)
	b = le.AppendUint32(b, snapshotFormat)
	b = le.AppendUint32(b, uint32(c.unit))
	b = le.AppendUint64(b, uint64(c.regionSize))
	b = le.AppendUint32(b, uint32(len(c.regions)))
	b = le.AppendUint64(b, c.nextSeq)
	b = le.AppendUint64(b, uint64(c.index.n))
	b = le.AppendUint64(b, uint64(c.index.count))
	b = le.AppendUint32(b, uint32(len(c.fifo)))
	for _, r := range c.regions {
		b = append(b, byte(r.state))
		b = le.AppendUint64(b, r.seq)
		b = le.AppendUint64(b, uint64(r.end))
		b = le.AppendUint64(b, uint64(r.live))
		b = le.AppendUint32(b, uint32(r.items))
	}
	for _, r := range c.fifo {
		b = le.AppendUint32(b, r)
	}
	for _, v := range c.index.slots {
		b = le.AppendUint32(b, v)
	}
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeSnapshot parses and validates a snapshot against the configured
// geometry. Every structural fact is checked, so a damaged or foreign file
// is rejected (cold start) rather than trusted.
func decodeSnapshot(b []byte, numRegions int, regionSize int64) (*ssdCore, error) {
	bad := func(format string, args ...any) (*ssdCore, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{errBadSnapshot}, args...)...)
	}
	le := binary.LittleEndian
	if len(b) < snapshotHeader+4 {
		return bad("%d bytes, too short", len(b))
	}
	if crc32.Checksum(b[:len(b)-4], castagnoli) != le.Uint32(b[len(b)-4:]) {
		return bad("checksum mismatch")
	}
	if string(b[:8]) != snapshotMagic || le.Uint32(b[8:]) != snapshotFormat {
		return bad("bad magic or format")
	}
	c := newSSDCore(numRegions, regionSize, 0)
	if int64(le.Uint32(b[12:])) != c.unit || int64(le.Uint64(b[16:])) != regionSize || int(le.Uint32(b[24:])) != numRegions {
		return bad("geometry differs from configuration (unit %d, region size %d, regions %d)",
			le.Uint32(b[12:]), le.Uint64(b[16:]), le.Uint32(b[24:]))
	}
	c.nextSeq = le.Uint64(b[28:])
	slots := le.Uint64(b[36:])
	count := le.Uint64(b[44:])
	fifoLen := uint64(le.Uint32(b[52:]))
	if slots < indexMinSlots || slots > uint64(c.maxSlots) || float64(count) > indexMaxLoad*float64(slots) || fifoLen > uint64(numRegions) {
		return bad("index of %d slots, %d items, fifo %d out of range", slots, count, fifoLen)
	}
	want := uint64(snapshotHeader) + uint64(numRegions)*snapshotRegionN + 4*fifoLen + 12*slots + 4
	if uint64(len(b)) != want {
		return bad("%d bytes, want %d", len(b), want)
	}
	p := b[snapshotHeader:]
	c.free = c.free[:0]
	inFIFO := make([]bool, numRegions)
	for i := range c.regions {
		r := regionMeta{
			state: regionState(p[0]),
			seq:   le.Uint64(p[1:]),
			end:   int64(le.Uint64(p[9:])),
			live:  int64(le.Uint64(p[17:])),
			items: int32(le.Uint32(p[25:])),
		}
		p = p[snapshotRegionN:]
		if (r.state != regionFree && r.state != regionSealed) || r.end < 0 || r.end > regionSize || r.live < 0 || r.live > r.end || r.items < 0 {
			return bad("region %d: state %d end %d live %d", i, r.state, r.end, r.live)
		}
		c.regions[i] = r
		if r.state == regionFree {
			c.free = append(c.free, uint32(i))
		}
	}
	for range fifoLen {
		r := le.Uint32(p)
		p = p[4:]
		if int(r) >= numRegions || c.regions[r].state != regionSealed || inFIFO[r] {
			return bad("fifo names region %d", r)
		}
		inFIFO[r] = true
		c.fifo = append(c.fifo, r)
	}
	for i, r := range c.regions {
		if r.state == regionSealed && !inFIFO[i] {
			return bad("sealed region %d missing from fifo", i)
		}
	}
	c.index = &itemIndex{slots: make([]uint32, 3*slots), n: int(slots)}
	for i := range c.index.slots {
		c.index.slots[i] = le.Uint32(p)
		p = p[4:]
	}
	// Recount from the table: the per-region counters must agree with it.
	var items = make([]int32, numRegions)
	var live = make([]int64, numRegions)
	for i := 0; i < c.index.n; i++ {
		fp, v := c.index.at(i)
		if v == 0 {
			continue
		}
		l := c.unpack(packedLoc(v & (1<<locExtraShift - 1)))
		if int(l.region) >= numRegions || c.regions[l.region].state != regionSealed || l.size == 0 || l.off+l.size > c.regions[l.region].end {
			return bad("index entry points outside a sealed region")
		}
		if c.index.find(uint64(fp)<<32|(v>>locExtraShift)<<24) != i {
			return bad("index entry %d is not where its hash leads", i)
		}
		items[l.region]++
		live[l.region] += l.size
		c.liveItems++
		c.liveBytes += l.size
	}
	if uint64(c.liveItems) != count {
		return bad("index holds %d items, header says %d", c.liveItems, count)
	}
	for i := range c.regions {
		if items[i] != c.regions[i].items || live[i] != c.regions[i].live {
			return bad("region %d counters disagree with the index", i)
		}
	}
	c.index.count = int(count)
	return c, nil
}
