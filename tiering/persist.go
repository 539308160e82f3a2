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
//	next seq u64 | index depth u32 | index shards u32 | index count u64
//	fifo length u32
//	per region: state u8, seq u64, end u64, live u64, items u32   (29 bytes)
//	fifo: region u32 each, oldest first
//	per index shard, in directory order: depth u8, slots u32, then
//	  3 x u32 per slot (fingerprint, packed low, packed high)
//	CRC32C of everything above, u32
//
// Only free and sealed regions appear: close writes every other region first.
const (
	snapshotMagic   = "STRTSSDX"
	snapshotFormat  = 2
	snapshotHeader  = 8 + 4 + 4 + 8 + 4 + 8 + 4 + 4 + 8 + 4
	snapshotRegionN = 29
	snapshotShardN  = 5
)

func encodeSnapshot(c *ssdCore) []byte {
	n := snapshotHeader + len(c.regions)*snapshotRegionN + 4*len(c.fifo) + snapshotShardN*c.index.shards + 12*c.index.slots + 4
	b := make([]byte, 0, n)
	le := binary.LittleEndian
	b = append(b, snapshotMagic...)
	b = le.AppendUint32(b, snapshotFormat)
	b = le.AppendUint32(b, uint32(c.unit))
	b = le.AppendUint64(b, uint64(c.regionSize))
	b = le.AppendUint32(b, uint32(len(c.regions)))
	b = le.AppendUint64(b, c.nextSeq)
	b = le.AppendUint32(b, uint32(c.index.depth))
	b = le.AppendUint32(b, uint32(c.index.shards))
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
	c.index.eachShard(func(_ int, sh *indexShard) {
		b = append(b, sh.depth)
		b = le.AppendUint32(b, uint32(sh.n))
		for _, v := range sh.slots {
			b = le.AppendUint32(b, v)
		}
	})
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
	c := newSSDCore(numRegions, regionSize)
	if int64(le.Uint32(b[12:])) != c.unit || int64(le.Uint64(b[16:])) != regionSize || int(le.Uint32(b[24:])) != numRegions {
		return bad("geometry differs from configuration (unit %d, region size %d, regions %d)",
			le.Uint32(b[12:]), le.Uint64(b[16:]), le.Uint32(b[24:]))
	}
	c.nextSeq = le.Uint64(b[28:])
	depth := le.Uint32(b[36:])
	shards := uint64(le.Uint32(b[40:]))
	count := le.Uint64(b[44:])
	fifoLen := uint64(le.Uint32(b[52:]))
	if depth > indexMaxDepth || shards == 0 || shards > 1<<depth || count > uint64(c.maxItems) || fifoLen > uint64(numRegions) {
		return bad("index of depth %d, %d shards, %d items, fifo %d out of range", depth, shards, count, fifoLen)
	}
	fixed := uint64(snapshotHeader) + uint64(numRegions)*snapshotRegionN + 4*fifoLen + snapshotShardN*shards + 4
	if uint64(len(b)) < fixed || (uint64(len(b))-fixed)%12 != 0 {
		return bad("%d bytes, want %d and whole slots", len(b), fixed)
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
	idx, p, err := decodeSnapshotIndex(p[:len(p)-4], uint8(depth), int(shards))
	if err != nil {
		return bad("%v", err)
	}
	c.index = idx
	// Recount from the table: the per-region counters must agree with it.
	var items = make([]int32, numRegions)
	var live = make([]int64, numRegions)
	var outside bool
	idx.each(func(_ uint32, v uint64) {
		l := c.unpack(packedLoc(v & (1<<locExtraShift - 1)))
		if int(l.region) >= numRegions || c.regions[l.region].state != regionSealed || l.size == 0 || l.off+l.size > c.regions[l.region].end {
			outside = true
			return
		}
		items[l.region]++
		live[l.region] += l.size
		c.liveItems++
		c.liveBytes += l.size
	})
	if outside {
		return bad("index entry points outside a sealed region")
	}
	if uint64(c.liveItems) != count {
		return bad("index holds %d items, header says %d", c.liveItems, count)
	}
	for i := range c.regions {
		if items[i] != c.regions[i].items || live[i] != c.regions[i].live {
			return bad("region %d counters disagree with the index", i)
		}
	}
	return c, nil
}

// decodeSnapshotIndex rebuilds the index from its shards (p holds exactly
// them) and checks that they tile the directory and that every entry is in
// its shard where its hash leads.
func decodeSnapshotIndex(p []byte, depth uint8, shards int) (*itemIndex, []byte, error) {
	le := binary.LittleEndian
	t := &itemIndex{dir: make([]*indexShard, 1<<depth), depth: depth}
	pos := 0
	for range shards {
		if len(p) < snapshotShardN {
			return nil, nil, fmt.Errorf("shard %d: truncated", t.shards)
		}
		d, n := p[0], uint64(le.Uint32(p[1:]))
		p = p[snapshotShardN:]
		span := 1 << (depth - min(d, depth))
		if d > depth || n < shardMinSlots || n*12 > uint64(len(p)) || pos%span != 0 || pos+span > len(t.dir) {
			return nil, nil, fmt.Errorf("shard %d: depth %d, %d slots at directory slot %d", t.shards, d, n, pos)
		}
		s := &indexShard{slots: make([]uint32, 3*n), n: int(n), depth: d}
		for i := range s.slots {
			s.slots[i] = le.Uint32(p)
			p = p[4:]
		}
		prefix := uint32(pos >> (depth - d))
		for i := 0; i < s.n; i++ {
			fp, v := s.at(i)
			if v == 0 {
				if fp != 0 {
					return nil, nil, fmt.Errorf("shard %d: empty slot %d with a fingerprint", t.shards, i)
				}
				continue
			}
			s.count++
			if (d > 0 && fp>>(32-d) != prefix) || s.find(fp, v>>locExtraShift) != i {
				return nil, nil, fmt.Errorf("shard %d: entry %d is not where its hash leads", t.shards, i)
			}
		}
		if s.count >= s.n {
			return nil, nil, fmt.Errorf("shard %d: full", t.shards)
		}
		for i := pos; i < pos+span; i++ {
			t.dir[i] = s
		}
		pos += span
		t.shards++
		t.count += s.count
		t.slots += s.n
		if d == depth {
			t.atGlobal++
		}
	}
	if pos != len(t.dir) || len(p) != 0 {
		return nil, nil, fmt.Errorf("shards cover %d of %d directory slots, %d bytes left", pos, len(t.dir), len(p))
	}
	return t, p, nil
}
