package tiering

// itemIndex maps a 64-bit item hash to the packed location of the item in
// the SSD cache. It is an open-addressing Robin Hood table whose slot is 12
// bytes: the top 32 bits of the hash (the fingerprint, which also picks the
// home slot by multiply-shift, so the table can grow by any factor) and a
// packed uint64 location that carries 8 more hash bits.
//
// The table grows by 1.2x when it is 90% full, so between growths its load
// stays in [0.75, 0.90]: 13.3 to 16.0 bytes of RAM per cached item.
//
// Two different items whose 40 stored hash bits agree share one entry: the
// later insert replaces the earlier (a cache loss, never wrong bytes, since
// every read verifies the full key and checksum stored on flash).
//
// Not safe for concurrent use.
type itemIndex struct {
	slots []uint32 // 3 per slot: fingerprint, packed low, packed high; packed == 0 means empty
	n     int      // slots
	count int
}

// Packed location layout (uint64):
//
//	bits  0..14  size in units (1..32767); never 0, so 0 marks an empty slot
//	bits 15..29  offset in units within the region
//	bits 30..53  region number (up to 16M regions)
//	bits 54..55  hits since insertion, saturating at 3
//	bits 56..63  hash bits 24..31 (extra fingerprint)
const (
	locSizeBits   = 15
	locOffBits    = 15
	locRegionBits = 24
	locHitsShift  = locSizeBits + locOffBits + locRegionBits // 54
	locExtraShift = 56

	maxUnitsPerRegion = 1<<locOffBits - 1
	maxRegions        = 1 << locRegionBits

	indexMinSlots  = 1024
	indexMaxLoad   = 0.90
	indexGrowNum   = 6 // grow by 6/5 = 1.2x
	indexGrowDenom = 5
	indexSlotBytes = 12
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

func newItemIndex(slots int) *itemIndex {
	if slots < indexMinSlots {
		slots = indexMinSlots
	}
	return &itemIndex{slots: make([]uint32, 3*slots), n: slots}
}

func (t *itemIndex) home(fp uint32) int { return int((uint64(fp) * uint64(t.n)) >> 32) }

func (t *itemIndex) at(i int) (fp uint32, v uint64) {
	s := t.slots[3*i : 3*i+3 : 3*i+3]
	return s[0], uint64(s[1]) | uint64(s[2])<<32
}

func (t *itemIndex) set(i int, fp uint32, v uint64) {
	s := t.slots[3*i : 3*i+3 : 3*i+3]
	s[0], s[1], s[2] = fp, uint32(v), uint32(v>>32)
}

func (t *itemIndex) dist(i int, fp uint32) int {
	d := i - t.home(fp)
	if d < 0 {
		d += t.n
	}
	return d
}

// find returns the slot holding h, or -1.
func (t *itemIndex) find(h uint64) int {
	fp, extra := splitHash(h)
	i := t.home(fp)
	for d := 0; ; d++ {
		sfp, v := t.at(i)
		if v == 0 || t.dist(i, sfp) < d {
			return -1
		}
		if sfp == fp && v>>locExtraShift == extra {
			return i
		}
		if i++; i == t.n {
			i = 0
		}
	}
}

// get returns the location stored for h.
func (t *itemIndex) get(h uint64) (packedLoc, bool) {
	i := t.find(h)
	if i < 0 {
		return 0, false
	}
	_, v := t.at(i)
	return packedLoc(v).withoutMeta() | packedLoc(v)&(3<<locHitsShift), true
}

// update rewrites the location metadata (hits) of h in place.
func (t *itemIndex) update(h uint64, loc packedLoc) bool {
	i := t.find(h)
	if i < 0 {
		return false
	}
	fp, v := t.at(i)
	t.set(i, fp, v&(0xff<<locExtraShift)|uint64(loc)&(1<<locExtraShift-1))
	return true
}

// put stores loc for h and returns the location it replaced, if any. It
// returns ok=false only when the table cannot grow (maxSlots reached).
func (t *itemIndex) put(h uint64, loc packedLoc, maxSlots int) (old packedLoc, replaced, ok bool) {
	fp, extra := splitHash(h)
	v := uint64(loc)&(1<<locExtraShift-1) | extra<<locExtraShift
	if i := t.find(h); i >= 0 {
		_, ov := t.at(i)
		t.set(i, fp, v)
		return packedLoc(ov & (1<<locExtraShift - 1)), true, true
	}
	if float64(t.count+1) > indexMaxLoad*float64(t.n) {
		if !t.grow(maxSlots) {
			return 0, false, false
		}
	}
	t.insertNew(fp, v)
	t.count++
	return 0, false, true
}

// insertNew places an entry known to be absent, Robin Hood style: a
// newcomer further from home takes the slot of a resident closer to home.
func (t *itemIndex) insertNew(fp uint32, v uint64) {
	i := t.home(fp)
	d := 0
	for {
		sfp, sv := t.at(i)
		if sv == 0 {
			t.set(i, fp, v)
			return
		}
		if sd := t.dist(i, sfp); sd < d {
			t.set(i, fp, v)
			fp, v, d = sfp, sv, sd
		}
		if i++; i == t.n {
			i = 0
		}
		d++
	}
}

// remove deletes h and returns its location.
func (t *itemIndex) remove(h uint64) (packedLoc, bool) {
	i := t.find(h)
	if i < 0 {
		return 0, false
	}
	_, v := t.at(i)
	t.removeAt(i)
	return packedLoc(v & (1<<locExtraShift - 1)), true
}

// removeAt empties slot i and shifts the following cluster back by one
// (backward-shift deletion: no tombstones, lookups stay short).
func (t *itemIndex) removeAt(i int) {
	for {
		j := i + 1
		if j == t.n {
			j = 0
		}
		fp, v := t.at(j)
		if v == 0 || t.dist(j, fp) == 0 {
			t.set(i, 0, 0)
			break
		}
		t.set(i, fp, v)
		i = j
	}
	t.count--
}

// removeIf deletes every entry for which drop returns true (a full scan:
// used only when a region is lost and its items cannot be enumerated).
func (t *itemIndex) removeIf(drop func(packedLoc) bool) int {
	var victims []uint64
	for i := 0; i < t.n; i++ {
		fp, v := t.at(i)
		if v != 0 && drop(packedLoc(v&(1<<locExtraShift-1))) {
			victims = append(victims, uint64(fp)<<32|(v>>locExtraShift)<<24)
		}
	}
	for _, h := range victims {
		t.remove(h)
	}
	return len(victims)
}

func (t *itemIndex) grow(maxSlots int) bool {
	n := t.n * indexGrowNum / indexGrowDenom
	if maxSlots > 0 && n > maxSlots {
		n = maxSlots
	}
	if n <= t.n {
		return false
	}
	old := t.slots
	t.slots = make([]uint32, 3*n)
	t.n = n
	for i := 0; i < len(old); i += 3 {
		if v := uint64(old[i+1]) | uint64(old[i+2])<<32; v != 0 {
			t.insertNew(old[i], v)
		}
	}
	return true
}

// bytes is the RAM the table occupies.
func (t *itemIndex) bytes() int64 { return int64(len(t.slots)) * 4 }
