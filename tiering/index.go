package tiering

import "unsafe"

// itemIndex maps a 64-bit item hash to the packed location of the item in
// the SSD cache. It is extendible hashing over small Robin Hood tables
// (shards): a directory of 2^depth shard pointers chosen by the top bits of
// the hash, each shard an open-addressing table whose slot is 12 bytes: the
// top 32 bits of the hash (the fingerprint) and a packed uint64 location
// that carries 8 more hash bits.
//
// Every resize touches one shard of at most about shardSplitSlots slots
// (48 KiB): a shard grows or shrinks alone to keep its load in
// [shardMinLoad, shardMaxLoad], splits in two when it would outgrow
// shardSplitSlots and merges with its buddy when both are small. So the
// index grows and shrinks in bounded steps, never by rehashing the whole
// table under the cache lock, and never holds more than one shard twice.
// With the directory and per-shard headers it costs 13.0 to 15.8 bytes per
// item at any size above a few thousand items (bytes reports its own
// accounting; TestIndexBytesPerItemAtEverySize checks it), and an empty
// index costs a few hundred bytes.
//
// Two different items whose 40 stored hash bits agree share one entry: the
// later insert replaces the earlier (a cache loss, never wrong bytes, since
// every read verifies the full key and checksum stored on flash).
//
// Not safe for concurrent use.
type itemIndex struct {
	dir      []*indexShard // 2^depth entries; a shard of local depth d appears 2^(depth-d) times
	depth    uint8
	shards   int // distinct shards
	atGlobal int // shards whose local depth equals depth
	count    int
	slots    int    // slots of all shards
	rehashed uint64 // entries moved by resizes, splits and merges so far
}

// indexShard is one Robin Hood table. Its entries share the top depth bits
// of their fingerprint; the home slot is picked by multiply-shift from the
// bits below them.
type indexShard struct {
	slots []uint32 // 3 per slot: fingerprint, packed low, packed high; packed == 0 means empty
	n     int      // slots
	count int
	depth uint8 // local depth: the fingerprint bits every entry shares
}

// Packed location layout (uint64):
//
//	bits  0..17  size in units (1..2^18-1); never 0, so 0 marks an empty slot
//	bits 18..34  offset in units within the region (a region has at most 2^17 units)
//	bits 35..53  region number (up to 512Ki regions: 8 TiB of 16 MiB regions)
//	bits 54..55  hits since insertion, saturating at 3
//	bits 56..63  hash bits 24..31 (extra fingerprint)
const (
	locSizeBits   = 18
	locOffBits    = 17
	locRegionBits = 19
	locHitsShift  = locSizeBits + locOffBits + locRegionBits // 54
	locExtraShift = 56

	maxUnitsPerRegion = 1 << locOffBits // so every offset fits, and every size up to a whole region
	maxSizeUnits      = 1<<locSizeBits - 1
	maxRegions        = 1 << locRegionBits

	indexSlotBytes = 12
	// A shard's load stays in [shardMinLoad, shardMaxLoad] once it holds
	// more than shardMinSlots; a grown (or split) shard starts at
	// shardGrowLoad, a shrunk or merged one at shardShrinkLoad.
	shardMinSlots   = 8
	shardMaxLoad    = 0.93
	shardMinLoad    = 0.76
	shardGrowLoad   = 0.80
	shardShrinkLoad = 0.86
	// A shard that would grow past shardSplitSlots splits instead; two
	// buddies merge when together they fit in shardMergeItems entries and
	// one of them holds fewer than half of that (hysteresis against a
	// split and merge on every other operation).
	shardSplitSlots = 4096
	shardMergeItems = shardSplitSlots * 2 / 5
	// indexMaxDepth leaves at least 13 fingerprint bits to pick a home slot
	// in a shard (2^19 shards of ~3500 items: 1.8 billion items).
	indexMaxDepth = 19

	shardHeaderBytes = int64(unsafe.Sizeof(indexShard{}))
	dirEntryBytes    = int64(unsafe.Sizeof((*indexShard)(nil)))
	indexHeaderBytes = int64(unsafe.Sizeof(itemIndex{}))
)

// packedLoc is an item's location: region, offset and size in units, plus
// a small hit counter used for reinsertion decisions.
type packedLoc uint64

func makeLoc(region uint32, offUnits, sizeUnits uint32) packedLoc {
	return packedLoc(uint64(sizeUnits) | uint64(offUnits)<<locSizeBits | uint64(region)<<(locSizeBits+locOffBits))
}

func (l packedLoc) sizeUnits() uint32 { return uint32(l) & (1<<locSizeBits - 1) }
func (l packedLoc) offUnits() uint32  { return uint32(l>>locSizeBits) & (1<<locOffBits - 1) }
func (l packedLoc) region() uint32 {
	return uint32(l>>(locSizeBits+locOffBits)) & (1<<locRegionBits - 1)
}
func (l packedLoc) hits() uint8 { return uint8(l>>locHitsShift) & 3 }

// withoutMeta strips hits and extra fingerprint bits: the pure location.
func (l packedLoc) withoutMeta() packedLoc { return l & (1<<locHitsShift - 1) }

func (l packedLoc) withHits(h uint8) packedLoc {
	if h > 3 {
		h = 3
	}
	return l&^(3<<locHitsShift) | packedLoc(h)<<locHitsShift
}

func splitHash(h uint64) (fp uint32, extra uint64) {
	return uint32(h >> 32), (h >> 24) & 0xff
}

// joinHash is the part of an item hash the index stores (fingerprint and
// extra bits), as a hash that find will match.
func joinHash(fp uint32, v uint64) uint64 { return uint64(fp)<<32 | (v>>locExtraShift)<<24 }

func newItemIndex() *itemIndex {
	s := newIndexShard(0, 0)
	return &itemIndex{dir: []*indexShard{s}, shards: 1, atGlobal: 1, slots: s.n}
}

// slotsFor is the table size for count entries at load.
func slotsFor(count int, load float64) int {
	return max(int(float64(count)/load)+1, shardMinSlots)
}

func newIndexShard(slots int, depth uint8) *indexShard {
	slots = max(slots, shardMinSlots)
	return &indexShard{slots: make([]uint32, 3*slots), n: slots, depth: depth}
}

func (t *itemIndex) shardOf(fp uint32) (int, *indexShard) {
	if t.depth == 0 {
		return 0, t.dir[0]
	}
	i := int(fp >> (32 - t.depth))
	return i, t.dir[i]
}

func (s *indexShard) home(fp uint32) int {
	return int((uint64(fp<<s.depth) * uint64(s.n)) >> 32)
}

func (s *indexShard) at(i int) (fp uint32, v uint64) {
	e := s.slots[3*i : 3*i+3 : 3*i+3]
	return e[0], uint64(e[1]) | uint64(e[2])<<32
}

func (s *indexShard) set(i int, fp uint32, v uint64) {
	e := s.slots[3*i : 3*i+3 : 3*i+3]
	e[0], e[1], e[2] = fp, uint32(v), uint32(v>>32)
}

func (s *indexShard) dist(i int, fp uint32) int {
	d := i - s.home(fp)
	if d < 0 {
		d += s.n
	}
	return d
}

// find returns the slot holding the entry with fingerprint fp and extra
// bits extra, or -1.
func (s *indexShard) find(fp uint32, extra uint64) int {
	i := s.home(fp)
	for d := 0; ; d++ {
		sfp, v := s.at(i)
		if v == 0 || s.dist(i, sfp) < d {
			return -1
		}
		if sfp == fp && v>>locExtraShift == extra {
			return i
		}
		if i++; i == s.n {
			i = 0
		}
	}
}

// insertNew places an entry known to be absent, Robin Hood style: a
// newcomer further from home takes the slot of a resident closer to home.
func (s *indexShard) insertNew(fp uint32, v uint64) {
	i := s.home(fp)
	d := 0
	for {
		sfp, sv := s.at(i)
		if sv == 0 {
			s.set(i, fp, v)
			s.count++
			return
		}
		if sd := s.dist(i, sfp); sd < d {
			s.set(i, fp, v)
			fp, v, d = sfp, sv, sd
		}
		if i++; i == s.n {
			i = 0
		}
		d++
	}
}

// removeAt empties slot i and shifts the following cluster back by one
// (backward-shift deletion: no tombstones, lookups stay short).
func (s *indexShard) removeAt(i int) {
	for {
		j := i + 1
		if j == s.n {
			j = 0
		}
		fp, v := s.at(j)
		if v == 0 || s.dist(j, fp) == 0 {
			s.set(i, 0, 0)
			break
		}
		s.set(i, fp, v)
		i = j
	}
	s.count--
}

// each calls fn for every entry of the shard.
func (s *indexShard) each(fn func(fp uint32, v uint64)) {
	for i := 0; i < s.n; i++ {
		if fp, v := s.at(i); v != 0 {
			fn(fp, v)
		}
	}
}

// get returns the location stored for h.
func (t *itemIndex) get(h uint64) (packedLoc, bool) {
	fp, extra := splitHash(h)
	_, s := t.shardOf(fp)
	i := s.find(fp, extra)
	if i < 0 {
		return 0, false
	}
	_, v := s.at(i)
	return packedLoc(v).withoutMeta() | packedLoc(v)&(3<<locHitsShift), true
}

func (t *itemIndex) has(h uint64) bool {
	fp, extra := splitHash(h)
	_, s := t.shardOf(fp)
	return s.find(fp, extra) >= 0
}

// update rewrites the location metadata (hits) of h in place.
func (t *itemIndex) update(h uint64, loc packedLoc) bool {
	fp, extra := splitHash(h)
	_, s := t.shardOf(fp)
	i := s.find(fp, extra)
	if i < 0 {
		return false
	}
	_, v := s.at(i)
	s.set(i, fp, v&(0xff<<locExtraShift)|uint64(loc)&(1<<locExtraShift-1))
	return true
}

// put stores loc for h and returns the location it replaced, if any. It
// returns ok=false only when the index holds maxItems entries already
// (0: no limit).
func (t *itemIndex) put(h uint64, loc packedLoc, maxItems int) (old packedLoc, replaced, ok bool) {
	fp, extra := splitHash(h)
	v := uint64(loc)&(1<<locExtraShift-1) | extra<<locExtraShift
	di, s := t.shardOf(fp)
	if i := s.find(fp, extra); i >= 0 {
		_, ov := s.at(i)
		s.set(i, fp, v)
		return packedLoc(ov & (1<<locExtraShift - 1)), true, true
	}
	if maxItems > 0 && t.count >= maxItems {
		return 0, false, false
	}
	if float64(s.count+1) > shardMaxLoad*float64(s.n) {
		s = t.growShard(di, s, s.count+1)
		di, s = t.shardOf(fp)
	}
	s.insertNew(fp, v)
	t.count++
	return 0, false, true
}

// remove deletes h and returns its location.
func (t *itemIndex) remove(h uint64) (packedLoc, bool) {
	fp, extra := splitHash(h)
	di, s := t.shardOf(fp)
	i := s.find(fp, extra)
	if i < 0 {
		return 0, false
	}
	_, v := s.at(i)
	s.removeAt(i)
	t.count--
	t.afterRemove(di, s)
	return packedLoc(v & (1<<locExtraShift - 1)), true
}

// removeIf deletes every entry for which drop returns true (a full scan:
// used only when a region is lost and its items cannot be enumerated).
func (t *itemIndex) removeIf(drop func(packedLoc) bool) int {
	var victims []uint64
	t.each(func(fp uint32, v uint64) {
		if drop(packedLoc(v & (1<<locExtraShift - 1))) {
			victims = append(victims, joinHash(fp, v))
		}
	})
	for _, h := range victims {
		t.remove(h)
	}
	return len(victims)
}

// each calls fn for every entry, shard by shard in directory order.
func (t *itemIndex) each(fn func(fp uint32, v uint64)) {
	t.eachShard(func(_ int, s *indexShard) { s.each(fn) })
}

// eachShard calls fn for every distinct shard in directory order with the
// first directory slot that points to it.
func (t *itemIndex) eachShard(fn func(first int, s *indexShard)) {
	for i := 0; i < len(t.dir); {
		s := t.dir[i]
		fn(i, s)
		i += 1 << (t.depth - s.depth)
	}
}

// rebuild returns a copy of s's entries (those kept by keep, nil: all) in
// a new shard of slots slots and local depth depth.
func (t *itemIndex) rebuild(s *indexShard, slots int, depth uint8, keep func(fp uint32) bool) *indexShard {
	ns := newIndexShard(slots, depth)
	s.each(func(fp uint32, v uint64) {
		if keep == nil || keep(fp) {
			ns.insertNew(fp, v)
		}
	})
	t.rehashed += uint64(ns.count)
	return ns
}

// setRange points the directory slots of the shard of local depth depth
// that contains directory slot di at s.
func (t *itemIndex) setRange(di int, depth uint8, s *indexShard) {
	span := 1 << (t.depth - depth)
	first := di &^ (span - 1)
	for i := first; i < first+span; i++ {
		t.dir[i] = s
	}
}

// growShard makes room for want entries in shard s (at directory slot di):
// a bigger table, or a split when that would pass shardSplitSlots.
func (t *itemIndex) growShard(di int, s *indexShard, want int) *indexShard {
	n := slotsFor(want, shardGrowLoad)
	if n <= shardSplitSlots || s.depth >= indexMaxDepth {
		ns := t.rebuild(s, n, s.depth, nil)
		t.slots += ns.n - s.n
		t.setRange(di, s.depth, ns)
		return ns
	}
	if s.depth == t.depth {
		t.doubleDir()
		di *= 2
	}
	d := s.depth + 1
	bit := uint32(1) << (32 - d) // the fingerprint bit that tells the halves apart
	var hi int
	s.each(func(fp uint32, _ uint64) {
		if fp&bit != 0 {
			hi++
		}
	})
	lo := t.rebuild(s, slotsFor(s.count-hi, shardGrowLoad), d, func(fp uint32) bool { return fp&bit == 0 })
	up := t.rebuild(s, slotsFor(hi, shardGrowLoad), d, func(fp uint32) bool { return fp&bit != 0 })
	span := 1 << (t.depth - s.depth)
	first := di &^ (span - 1)
	for i := first; i < first+span/2; i++ {
		t.dir[i] = lo
	}
	for i := first + span/2; i < first+span; i++ {
		t.dir[i] = up
	}
	t.slots += lo.n + up.n - s.n
	t.shards++
	if d == t.depth { // s was below the directory's depth (it may just have doubled)
		t.atGlobal += 2
	}
	return lo
}

// doubleDir doubles the directory: every shard now appears twice as often.
func (t *itemIndex) doubleDir() {
	nd := make([]*indexShard, 2*len(t.dir))
	for i, s := range t.dir {
		nd[2*i], nd[2*i+1] = s, s
	}
	t.dir = nd
	t.depth++
	t.atGlobal = 0
}

// afterRemove shrinks shard s (at directory slot di) if its load fell below
// shardMinLoad, merges it with its buddy when both are small, and halves
// the directory when no shard needs its full depth.
func (t *itemIndex) afterRemove(di int, s *indexShard) {
	if s.depth > 0 && s.count < shardMergeItems/2 {
		bi := di ^ (1 << (t.depth - s.depth))
		if b := t.dir[bi]; b.depth == s.depth && s.count+b.count <= shardMergeItems {
			t.merge(di, s, b)
			return
		}
	}
	if s.n > shardMinSlots && float64(s.count) < shardMinLoad*float64(s.n) {
		ns := t.rebuild(s, slotsFor(s.count, shardShrinkLoad), s.depth, nil)
		t.slots += ns.n - s.n
		t.setRange(di, s.depth, ns)
	}
}

func (t *itemIndex) merge(di int, s, b *indexShard) {
	d := s.depth - 1
	ns := newIndexShard(slotsFor(s.count+b.count, shardShrinkLoad), d)
	s.each(ns.insertNew)
	b.each(ns.insertNew)
	t.rehashed += uint64(s.count + b.count)
	if s.depth == t.depth {
		t.atGlobal -= 2
	}
	t.slots += ns.n - s.n - b.n
	t.shards--
	t.setRange(di, d, ns)
	for t.depth > 0 && t.atGlobal == 0 {
		t.halveDir()
	}
}

// halveDir halves the directory; no shard has the full depth.
func (t *itemIndex) halveDir() {
	nd := make([]*indexShard, len(t.dir)/2)
	for i := range nd {
		nd[i] = t.dir[2*i]
	}
	t.dir = nd
	t.depth--
	t.atGlobal = 0
	t.eachShard(func(_ int, s *indexShard) {
		if s.depth == t.depth {
			t.atGlobal++
		}
	})
}

// bytes is the RAM the index occupies by its own accounting: the shards'
// tables and headers, the directory and the index header.
func (t *itemIndex) bytes() int64 {
	return int64(t.slots)*indexSlotBytes + int64(t.shards)*shardHeaderBytes + int64(len(t.dir))*dirEntryBytes + indexHeaderBytes
}
