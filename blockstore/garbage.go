package blockstore

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Garbage accounting: per volume, the index keeps the bytes of the records
// its entries need (live bytes: each entry's record, and a chunked blob's
// chunks), updated in the same transactions that commit the ops, so it is
// never found by scanning. A volume's garbage is the rest of its used
// length: records overwritten, deleted, dropped, expired or that lost
// under last writer wins, chunks of puts that never finished, and group
// padding. Counting what is needed rather than what is not makes a replay
// of an op already committed (same record) change nothing.

var (
	// bucketLive maps a volume id to its live bytes (uvarint).
	bucketLive = []byte("volume-live")
	// metaShadows is set in an index created empty by this code: every
	// entry's shadow (the volumes that may hold older records of its key)
	// is then complete, which tombstone expiry relies on. An older index
	// lacks it; its tombstones are kept until a rebuild (fsck --repair).
	metaShadows = []byte("tombstone-shadows")
)

// maxShadow bounds an entry's shadow list; past it the list holds
// shadowUnknown and the key's tombstone is never dropped.
const maxShadow = 16

// shadowUnknown in a shadow means "older records may lie anywhere": set
// for a key Drop forgot (its records stay in the volumes) and when a
// shadow overflows.
const shadowUnknown uint32 = 0

// volBytes is a byte count in one volume.
type volBytes struct {
	vol   uint32
	bytes int64
}

// entryTail is the decoded indexEntry.tail:
//
//	uvarint  number of shadow volumes, then each volume id (uvarint)
//	uvarint  number of chunk spans, then each: volume id, bytes (uvarints)
//
//	uvarint  manifest generation (optional; absent means 0)
//
// shadow lists the volumes that may hold older records of the key (what
// the entry replaced, or what lost to it), sorted; spans lists, for a
// chunked blob, its chunk records' bytes per volume, sorted by volume;
// gen counts compaction's rewrites of a manifest (the manifest record's
// chunk index field holds it): of two manifests at one version, the later
// rewrite wins, so a rebuild never picks one that names moved chunks.
type entryTail struct {
	shadow []uint32
	spans  []volBytes
	gen    uint32
}

func (t entryTail) encode() string {
	if len(t.shadow) == 0 && len(t.spans) == 0 && t.gen == 0 {
		return ""
	}
	b := binary.AppendUvarint(nil, uint64(len(t.shadow)))
	for _, v := range t.shadow {
		b = binary.AppendUvarint(b, uint64(v))
	}
	b = binary.AppendUvarint(b, uint64(len(t.spans)))
	for _, s := range t.spans {
		b = binary.AppendUvarint(b, uint64(s.vol))
		b = binary.AppendUvarint(b, uint64(s.bytes))
	}
	if t.gen != 0 {
		b = binary.AppendUvarint(b, uint64(t.gen))
	}
	return string(b)
}

func decodeTail(s string) (entryTail, error) {
	var t entryTail
	if s == "" {
		return t, nil
	}
	p := []byte(s)
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	n, ok := next()
	if !ok || n > uint64(len(p)) {
		return t, fmt.Errorf("%w: index entry shadow", ErrCorrupt)
	}
	for range n {
		v, ok := next()
		if !ok || v > 1<<32-1 {
			return t, fmt.Errorf("%w: index entry shadow volume", ErrCorrupt)
		}
		t.shadow = append(t.shadow, uint32(v))
	}
	n, ok = next()
	if !ok || n > uint64(len(p)) {
		return t, fmt.Errorf("%w: index entry spans", ErrCorrupt)
	}
	for range n {
		v, ok1 := next()
		b, ok2 := next()
		if !ok1 || !ok2 || v > 1<<32-1 || b > 1<<62 {
			return t, fmt.Errorf("%w: index entry span", ErrCorrupt)
		}
		t.spans = append(t.spans, volBytes{uint32(v), int64(b)})
	}
	if len(p) > 0 {
		g, ok := next()
		if !ok || g == 0 || g > 1<<32-1 {
			return t, fmt.Errorf("%w: index entry manifest generation", ErrCorrupt)
		}
		t.gen = uint32(g)
	}
	if len(p) != 0 {
		return t, fmt.Errorf("%w: %d trailing bytes in index entry tail", ErrCorrupt, len(p))
	}
	return t, nil
}

// tailOf decodes e's tail; a tail that does not decode (decodeEntry
// refuses those) reads as empty.
func tailOf(e *indexEntry) entryTail {
	t, _ := decodeTail(e.tail)
	return t
}

// chunkSpans sums a manifest's chunk record bytes per volume.
func chunkSpans(m *manifest) []volBytes {
	per := map[uint32]int64{}
	for _, c := range m.chunks {
		per[c.loc.volume] += c.loc.length
	}
	out := make([]volBytes, 0, len(per))
	for _, v := range slices.Sorted(maps.Keys(per)) {
		out = append(out, volBytes{v, per[v]})
	}
	return out
}

// withSpans returns e with its tail's spans set to those of m, whose
// record is generation gen.
func withSpans(e indexEntry, m *manifest, gen uint32) indexEntry {
	t := tailOf(&e)
	t.spans = chunkSpans(m)
	t.gen = gen
	e.tail = t.encode()
	return e
}

// liveDelta collects one transaction's changes to the live counts.
type liveDelta map[uint32]int64

// add adds sign times e's footprint: the bytes a version of a key takes
// per volume, its record (blob, manifest or tombstone) and a chunked blob's
// chunks; nothing for a corrupt entry, which compaction cannot move. It
// runs for every op the indexer commits, so it builds nothing.
func (d liveDelta) add(e *indexEntry, sign int64) {
	if e.corrupt() || e.dropped() {
		return
	}
	if e.loc.length > 0 {
		d[e.loc.volume] += sign * e.loc.length
	}
	if e.tail != "" {
		for _, s := range tailOf(e).spans {
			d[s.vol] += sign * s.bytes
		}
	}
}

// remove: e left the index (deleted, dropped, expired).
func (d liveDelta) remove(e *indexEntry) { d.add(e, -1) }

// install: e is the key's entry now, in place of prev (nil: none). Chunks
// both name (a manifest compaction rewrote) cancel out.
func (d liveDelta) install(e, prev *indexEntry) {
	if prev != nil {
		if prev.loc == e.loc {
			return // the same record, replayed
		}
		d.remove(prev)
	}
	d.add(e, 1)
}

// volumeGarbage is the index's in-memory copy of the live counts and of
// which volumes compaction removed; the indexer and compaction update it
// after each commit.
type volumeGarbage struct {
	mu   sync.Mutex
	live map[uint32]int64
	gone map[uint32]bool // volumes compacted away (state volCompacted)
	// shadows: every entry's shadow is complete (see metaShadows).
	shadows bool
}

// loadGarbage reads the live counts and the compacted volumes; fresh (a
// new index.db) marks the shadows complete. An index written before the
// counts were kept gets them counted from its entries (chunk bytes of its
// chunked blobs are unknown: their volumes look emptier than they are,
// and compaction reads those manifests) and stored.
func (ix *index) loadGarbage(fresh bool) error {
	ix.garbage.live = map[uint32]int64{}
	ix.garbage.gone = map[uint32]bool{}
	if fresh {
		if err := ix.update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(metaShadows, []byte{1})
		}); err != nil {
			return err
		}
	}
	counted := false
	err := ix.db.View(func(tx *bolt.Tx) error {
		ix.garbage.shadows = tx.Bucket(bucketMeta).Get(metaShadows) != nil
		if vb := tx.Bucket(bucketVolumes); vb != nil {
			vb.ForEach(func(k, v []byte) error {
				if r, err := decodeVolumeRecord(v); err == nil && len(k) == 4 && r.state == volCompacted {
					ix.garbage.gone[binary.BigEndian.Uint32(k)] = true
				}
				return nil
			})
		}
		lb := tx.Bucket(bucketLive)
		if lb == nil {
			counted = true
			d := liveDelta{}
			err := tx.Bucket(bucketKeys).ForEach(func(_, v []byte) error {
				if e, ok := decodeEntryOrZero(v); ok {
					d.install(&e, nil)
				}
				return nil
			})
			maps.Copy(ix.garbage.live, d)
			return err
		}
		return lb.ForEach(func(k, v []byte) error {
			n, m := binary.Uvarint(v)
			if len(k) == 4 && m > 0 {
				ix.garbage.live[binary.BigEndian.Uint32(k)] = int64(n)
			}
			return nil
		})
	})
	if err != nil || !counted || fresh {
		return err
	}
	err = ix.update(func(tx *bolt.Tx) error { return putLive(tx, liveDelta(ix.garbage.live)) })
	if err != nil {
		// Read-only disk: the counts are right in memory; the next Open
		// counts again.
		ix.log.Warn("blockstore: storing the volumes' live counts", "err", err)
	}
	return nil
}

// putLive adds d to the counts in tx.
func putLive(tx *bolt.Tx, d liveDelta) error {
	if len(d) == 0 {
		return nil
	}
	lb, err := tx.CreateBucketIfNotExists(bucketLive)
	if err != nil {
		return err
	}
	for _, vol := range slices.Sorted(maps.Keys(d)) {
		if d[vol] == 0 {
			continue // a record replaced in its own volume by one of its size
		}
		k := volumeKey(vol)
		var cur int64
		if v := lb.Get(k); v != nil {
			n, _ := binary.Uvarint(v)
			cur = int64(n)
		}
		if err := lb.Put(k, binary.AppendUvarint(nil, uint64(max(0, cur+d[vol])))); err != nil {
			return err
		}
	}
	return nil
}

// addLive applies a committed delta to the in-memory counts.
func (ix *index) addLive(d liveDelta) {
	if len(d) == 0 {
		return
	}
	ix.garbage.mu.Lock()
	for v, n := range d {
		ix.garbage.live[v] = max(0, ix.garbage.live[v]+n)
	}
	ix.garbage.mu.Unlock()
}

func (ix *index) liveOf(vol uint32) int64 {
	ix.garbage.mu.Lock()
	defer ix.garbage.mu.Unlock()
	return ix.garbage.live[vol]
}

// garbageOf is the used length of a volume less its live bytes.
func (ix *index) garbageOf(vol uint32, used int64) int64 {
	return max(0, used-ix.liveOf(vol))
}

func (ix *index) volumeGone(vol uint32) bool {
	ix.garbage.mu.Lock()
	defer ix.garbage.mu.Unlock()
	return ix.garbage.gone[vol]
}

// shadowed returns e (replacing prev) with a shadow of prev's shadow and
// prev's own volume, less the volumes compaction removed.
func (ix *index) shadowed(e indexEntry, prev *indexEntry, extra ...uint32) indexEntry {
	t := tailOf(&e)
	pt := tailOf(prev)
	ids := append(slices.Clone(pt.shadow), extra...)
	if prev.loc.length > 0 {
		ids = append(ids, prev.loc.volume)
	}
	t.shadow = ix.pruneShadow(ids)
	e.tail = t.encode()
	return e
}

// addShadow returns e with vol added to its shadow, and whether that
// changed it.
func (ix *index) addShadow(e indexEntry, vol uint32) (indexEntry, bool) {
	t := tailOf(&e)
	if slices.Contains(t.shadow, vol) || slices.Contains(t.shadow, shadowUnknown) {
		return e, false
	}
	t.shadow = ix.pruneShadow(append(t.shadow, vol))
	e.tail = t.encode()
	return e, true
}

// pruneShadow sorts ids, drops duplicates and removed volumes, and caps
// the list (overflow: shadowUnknown only).
func (ix *index) pruneShadow(ids []uint32) []uint32 {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	ix.garbage.mu.Lock()
	ids = slices.DeleteFunc(ids, func(v uint32) bool { return v != shadowUnknown && ix.garbage.gone[v] })
	ix.garbage.mu.Unlock()
	if len(ids) > maxShadow || (len(ids) > 0 && ids[0] == shadowUnknown) {
		return []uint32{shadowUnknown}
	}
	return ids
}

// VolumeUsage is one volume's space as the index accounts it.
type VolumeUsage struct {
	ID     uint32
	Dir    string // data directory
	Sealed bool   // read-only (sealed or failed): compaction may take it
	// Bytes is the volume's used length; Live the bytes of the records
	// the index needs; Garbage the rest (records no entry needs, padding).
	Bytes, Live, Garbage int64
	GarbageRatio         float64 // Garbage / Bytes (0 for an empty volume)
}

// DiskUsage sums VolumeUsage over one data directory.
type DiskUsage struct {
	Dir                  string
	Device               string // the device's label in Devices
	DiskID               string
	Volumes              int
	Bytes, Live, Garbage int64
	GarbageRatio         float64
}

func ratio(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return min(1, float64(part)/float64(whole))
}

// usage reports every volume (compacted ones left out) and each disk's sum.
func (s *Store) usage() ([]VolumeUsage, []DiskUsage) {
	s.volMu.RLock()
	vols := slices.Collect(maps.Values(s.volumes))
	s.volMu.RUnlock()
	slices.SortFunc(vols, func(a, b *volume) int { return int(a.id) - int(b.id) })
	disks := make([]DiskUsage, len(s.dirs))
	for i, d := range s.dirs {
		disks[i] = DiskUsage{Dir: d.dev.Dir(), Device: d.dev.Name(), DiskID: d.diskID}
	}
	var out []VolumeUsage
	for _, v := range vols {
		state := uint8(v.state.Load())
		if state == volCompacted {
			continue
		}
		used := v.end.Load()
		g := s.index.garbageOf(v.id, used)
		u := VolumeUsage{ID: v.id, Dir: v.dir.dev.Dir(), Sealed: state != volOpen, Bytes: used, Live: used - g, Garbage: g, GarbageRatio: ratio(g, used)}
		out = append(out, u)
		du := &disks[v.dir.idx]
		du.Volumes++
		du.Bytes += u.Bytes
		du.Live += u.Live
		du.Garbage += u.Garbage
	}
	for i := range disks {
		disks[i].GarbageRatio = ratio(disks[i].Garbage, disks[i].Bytes)
	}
	return out, disks
}
