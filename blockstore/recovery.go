package blockstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"strata/ioengine"
)

// recover opens every volume file, rescans what the index has not
// committed (everything, when rebuilding), and picks each directory's
// active volume.
//
// A rebuild (no index, an unreadable one, or one whose rebuild was
// interrupted), and any volume on disk that the index does not know (an
// index.db left empty by a crash during the first start, say), can mean
// far more keys than memory should hold: then the scan runs with the
// indexer committing as it goes and waits for it (the bounded path),
// inside a rebuild marker kept in the index until everything is committed.
func (s *Store) recover(ctx context.Context, rebuild bool) error {
	known, maxVer, err := s.index.loadState()
	if err != nil {
		return fmt.Errorf("blockstore: reading index state: %w", err)
	}
	interrupted, err := s.index.rebuildMarked()
	if err != nil {
		return fmt.Errorf("blockstore: reading index state: %w", err)
	}
	if interrupted {
		s.log.Warn("blockstore: the index is from an interrupted rebuild; rebuilding from volumes")
	}
	stored := known
	if rebuild || interrupted {
		known = map[uint32]volumeRecord{}
	}
	dirVols := make([][]*volume, len(s.dirs))
	var unknown []uint32
	for i, d := range s.dirs {
		if dirVols[i], err = s.openVolumes(d); err != nil {
			return err
		}
		if dirVols[i], err = s.finishRemovals(d, dirVols[i], stored); err != nil {
			return err
		}
		for _, v := range dirVols[i] {
			if _, ok := known[v.id]; !ok {
				unknown = append(unknown, v.id)
			}
		}
	}
	bounded := rebuild || interrupted || len(unknown) > 0
	if bounded {
		if len(unknown) > 0 {
			s.log.Info("blockstore: scanning volumes the index does not know, committing as the scan goes", "volumes", len(unknown))
		}
		if err := s.index.markRebuild(true); err != nil {
			return fmt.Errorf("blockstore: marking rebuild in the index: %w", err)
		}
		s.index.start()
	}
	s.clock.observe(maxVer)
	s.index.mu.Lock()
	s.index.maxApplied = maxVer // everything in bbolt is at or below it
	s.index.unbounded = !bounded
	s.index.mu.Unlock()
	defer func() {
		s.index.mu.Lock()
		s.index.unbounded = false
		s.index.mu.Unlock()
	}()
	var maxID uint32
	for id := range stored { // compacted volumes too: ids are never reused
		maxID = max(maxID, id)
	}
	for i, d := range s.dirs {
		for _, v := range dirVols[i] {
			maxID = max(maxID, v.id)
		}
		if err := s.recoverDir(ctx, d, dirVols[i], known); err != nil {
			return err
		}
	}
	if bounded {
		// The marker goes only once every scanned entry is in bbolt.
		if err := s.index.flush(); err != nil {
			return fmt.Errorf("blockstore: committing the rebuilt index: %w", err)
		}
		if err := s.index.markRebuild(false); err != nil {
			return fmt.Errorf("blockstore: clearing the rebuild mark: %w", err)
		}
	}
	for id, r := range known {
		if _, ok := s.volume(id); !ok && r.state != volCompacted {
			s.log.Error("blockstore: volume named in the index is missing; its blobs will read as corrupt", "volume", id)
		}
	}
	s.nextVolumeID.Store(maxID)
	return nil
}

// openVolumes opens the volume files of d in id order and removes
// half-made ones (a crash between create and rename).
func (s *Store) openVolumes(d *dataDir) ([]*volume, error) {
	fsys := d.dev.FS()
	names, err := fsys.ReadDir(d.dev.Dir())
	if err != nil {
		return nil, fmt.Errorf("blockstore: listing %s: %w", d.dev.Dir(), err)
	}
	var vols []*volume
	for _, name := range names {
		if strings.HasSuffix(name, volumeTmpSuffix) {
			p := filepath.Join(d.dev.Dir(), name)
			if s.check != nil {
				continue // a check changes nothing; Open removes it
			}
			if err := fsys.Remove(p); err != nil && !errors.Is(err, errNotExist) {
				s.log.Warn("blockstore: removing half-made volume", "path", p, "err", err)
			}
			continue
		}
		id, ok := parseVolumeFileName(name)
		if !ok {
			continue
		}
		if other, dup := s.volume(id); dup {
			return nil, fmt.Errorf("blockstore: volume %d is in both %s and %s", id, other.dir.dev.Dir(), d.dev.Dir())
		}
		h, err := d.dev.Open(name, ioengine.FlagDirect)
		if err != nil {
			return nil, fmt.Errorf("blockstore: open volume %s: %w", filepath.Join(d.dev.Dir(), name), err)
		}
		size, err := h.Size()
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("blockstore: size of volume %d: %w", id, err)
		}
		v := newVolume(id, d, h, size)
		s.addVolume(v)
		vols = append(vols, v)
	}
	slices.SortFunc(vols, func(a, b *volume) int { return int(a.id) - int(b.id) })
	return vols, nil
}

// recoverDir scans each volume of d from its watermark. The newest open
// volume whose tail is clean stays active; other open volumes are sealed
// where their valid data ends.
func (s *Store) recoverDir(ctx context.Context, d *dataDir, vols []*volume, known map[uint32]volumeRecord) error {
	for i, v := range vols {
		r, ok := known[v.id]
		if !ok {
			r = volumeRecord{state: volOpen}
		}
		limit := v.size
		if r.state != volOpen {
			limit = min(limit, r.end)
		}
		end, clean := r.watermark, true
		if r.watermark < limit {
			var err error
			end, clean, err = s.scanVolume(ctx, v, r.watermark, limit, mayTear(r, ok, i, len(vols), v.size, s.opts.VolumeSize))
			if err != nil {
				return err
			}
		}
		v.end.Store(alignUp(end, formatAlign))
		v.state.Store(uint32(r.state))
		if r.state != volOpen {
			continue
		}
		last := i == len(vols)-1
		if last && clean && end%d.app.align() == 0 {
			d.app.setVol(v)
			continue
		}
		v.state.Store(uint32(volSealed))
		s.index.apply([]indexOp{{kind: opVolState, vol: v.id, state: volSealed, end: end}})
		if !clean {
			s.log.Warn("blockstore: volume had a torn tail; sealed at its last valid record", "volume", v.id, "end", end)
		}
	}
	return nil
}

// mayTear reports whether volume i of a directory's n volumes (in id
// order) may end in unacknowledged groups. Only a volume that was still
// taking writes can: a sealed or failed one was synced up to its recorded
// end. When the index does not know the volume (a rebuild), its state is
// unknown, so it may tear only if it is one of the directory's two newest
// (the active one, and the one sealed or failed just before it while its
// last group was still being synced) or still at its preallocated size
// (never sealed, since sealing trims the file). Anything else found damaged
// is corruption, never a torn tail that would roll its key back.
func mayTear(r volumeRecord, known bool, i, n int, size, volumeSize int64) bool {
	if r.state != volOpen {
		return false
	}
	return known || i >= n-2 || size >= volumeSize
}

// scanBatch is how many index ops recovery hands to the index at a time.
const scanBatch = 4096

// scanVolume reads records from start to limit and indexes them. It stops
// at the tail: the first place with no valid record after it within one
// scan window. A bad record followed by valid ones is corruption: counted,
// logged, skipped, and the records after it are kept. A record whose
// header decodes but whose body fails its checksum is classified by
// damagedRecord: torn (skipped) or corrupt (indexed as corrupt at its
// version). mayTear says the volume may end in unacknowledged groups. It
// returns where the valid data ends and whether the tail is clean (all
// zero, nothing torn) rather than torn.
func (s *Store) scanVolume(ctx context.Context, v *volume, start, limit int64, mayTear bool) (end int64, clean bool, err error) {
	sc := &scanReader{h: v.h, limit: limit, align: int64(v.h.Alignment()), window: 4 << 20}
	if progress := s.opts.RecoveryProgress; progress != nil {
		sc.before = func(_ context.Context, n int64) error { progress(n); return nil }
	}
	window := 2*alignUp(max(s.opts.maxRecordLen(), int64(groupLimit(s.opts.MaxBatchBytes))), formatAlign) + 2*formatAlign
	var ops []indexOp
	flush := func(upTo int64) {
		ops = append(ops, indexOp{kind: opWatermark, vol: v.id, end: upTo})
		if s.check != nil {
			s.check.scanned(v, ops)
		} else {
			s.index.apply(ops)
		}
		ops = nil
	}
	torn := false // a torn record was skipped: the volume takes no more groups
	p := start
	for p < limit {
		if err := ctx.Err(); err != nil {
			return 0, false, err
		}
		hb, err := sc.at(ctx, p, recordHeaderLen)
		if err != nil {
			return 0, false, err
		}
		if len(hb) < recordHeaderLen {
			flush(p)
			if !isZero(hb) {
				s.stats.tornTails.Add(1)
			}
			return p, isZero(hb) && !torn, nil
		}
		h, st, _ := parseHeader(hb)
		if st == headerValid && p+int64(h.recordLen()) <= limit {
			rb, err := sc.at(ctx, p, h.recordLen())
			if err != nil {
				return 0, false, err
			}
			rec, st2, derr := decodeRecord(rb)
			if st2 == headerValid {
				loc := location{volume: v.id, offset: p, length: int64(h.recordLen())}
				ops = s.recoveredOps(rec, loc, ops)
				p = alignUp(p+int64(h.recordLen()), recordAlign)
				if len(ops) >= min(scanBatch, s.index.maxQueue) {
					flush(min(p, limit))
					// A rebuild commits as it scans; without commits it
					// would hold every key in memory.
					if err := s.index.writable(); err != nil {
						return 0, false, fmt.Errorf("blockstore: index failed during recovery: %w", err)
					}
				}
				continue
			}
			op, isTorn, err := s.damagedRecord(ctx, sc, v, p, h, mayTear, window, derr)
			if err != nil {
				return 0, false, err
			}
			torn = torn || isTorn
			if op.kind == opKey {
				ops = append(ops, op)
			}
			p = alignUp(p+int64(h.recordLen()), recordAlign)
			continue
		}
		if st == headerZero && p%formatAlign != 0 {
			// Padding after the last record of a group.
			next := min(alignUp(p, formatAlign), limit)
			zb, err := sc.at(ctx, p, int(next-p))
			if err != nil {
				return 0, false, err
			}
			if isZero(zb) {
				p = next
				continue
			}
		}
		q, zeroGap, err := s.findRecord(ctx, sc, p, min(limit, alignDown(p, formatAlign)+window))
		if err != nil {
			return 0, false, err
		}
		if q < 0 {
			flush(p)
			tail := zeroGap && st == headerZero && p%formatAlign == 0
			if !tail {
				s.stats.tornTails.Add(1)
			}
			return p, tail && !torn, nil
		}
		if zeroGap && q%formatAlign == 0 && q-p < 64<<10 {
			// A device with a larger alignment padded further.
			p = q
			continue
		}
		s.stats.corruptions.Add(1)
		s.log.Error("blockstore: corrupt bytes inside a volume; skipped, later records kept",
			"volume", v.id, "from", p, "to", q, "bytes", q-p)
		s.check.problem(v.id, p, "", fmt.Sprintf("%d corrupt bytes inside the volume (records after them are kept)", q-p))
		p = q
	}
	flush(limit)
	return limit, !torn, nil
}

// tornSector is the unit a device writes atomically (at least): a torn
// write leaves whole sectors unwritten, which read as zero in a
// preallocated volume, while a flipped bit leaves none.
const tornSector = 512

// damagedRecord handles a record at p whose header decodes (key and
// version readable) but whose body checksum fails. Such a record is either
// torn (part of an unacknowledged group never reached the disk) or
// corrupt (an acknowledged record damaged since), and the two cannot
// always be told apart, so the rule errs toward never rolling a key back:
//
//   - It is torn only if the volume may end in unacknowledged groups, some
//     sector of the record reads as all zero (what an unwritten part of a
//     preallocated volume looks like), and no valid record lies a scan
//     window (two maximal groups) further on: only the last group or two
//     of a volume can be unacknowledged, since the appender writes a group
//     only after the one before the previous group was synced.
//   - Otherwise it is corrupt: the key is indexed as corrupt at the
//     record's version, so it answers ErrCorrupt (not an older version,
//     not a deleted key come back) until a write at least as new replaces
//     it. A corrupt chunk needs no entry: its manifest's reads fail.
//
// A single flipped bit inside the key itself is found and undone first
// (repairKeyBit), so the right key is marked. Torn records count in
// Stats.TornTails, corrupt ones in Stats.Corruptions; each is logged with
// volume, offset, key and version.
func (s *Store) damagedRecord(ctx context.Context, sc *scanReader, v *volume, p int64, h recordHeader, mayTear bool, window int64, cause error) (indexOp, bool, error) {
	s.clock.observe(h.version)
	n := int64(h.recordLen())
	rb, err := sc.at(ctx, p, int(n))
	if err != nil {
		return indexOp{}, false, err
	}
	// The key is under the body checksum: it may be the damaged part.
	key := string(rb[recordHeaderLen : recordHeaderLen+h.keyLen])
	repaired, keyFlipped := repairKeyBit(rb, h)
	looksTorn := false
	if mayTear {
		from := alignDown(p+recordHeaderLen, tornSector)
		b, err := sc.at(ctx, from, int(alignUp(p+n, tornSector)-from))
		if err != nil {
			return indexOp{}, false, err
		}
		for i := 0; i < len(b) && !looksTorn; i += tornSector {
			looksTorn = isZero(b[i:min(i+tornSector, len(b))])
		}
	}
	if looksTorn {
		later := p + window
		beyond := false
		if later < sc.limit {
			q, _, err := s.findRecord(ctx, sc, later-1, min(sc.limit, later+window))
			if err != nil {
				return indexOp{}, false, err
			}
			beyond = q >= 0
		}
		if !beyond {
			s.stats.tornTails.Add(1)
			s.log.Warn("blockstore: torn record in the last groups of a volume (unacknowledged write); skipped, volume sealed",
				"volume", v.id, "offset", p, "key", key, "version", h.version, "kind", h.kind(), "err", cause)
			s.check.problem(v.id, p, key, fmt.Sprintf("torn %s record at version %d in the last groups (an unacknowledged write)", h.kind(), h.version))
			return indexOp{}, true, nil
		}
	}
	s.stats.corruptions.Add(1)
	loc := location{volume: v.id, offset: p, length: n}
	if keyFlipped {
		s.log.Error("blockstore: corrupt record names a key with one flipped bit; indexing the key it was written for",
			"volume", v.id, "offset", p, "key_read", key, "key", repaired, "version", h.version)
		key = repaired
	}
	if h.flags&flagChunk != 0 || ValidateKey(key) != nil {
		s.log.Error("blockstore: corrupt record in a volume; its key cannot be indexed",
			"volume", v.id, "offset", p, "key", key, "version", h.version, "kind", h.kind(), "err", cause)
		s.check.problem(v.id, p, key, fmt.Sprintf("corrupt %s record at version %d (checksum fails)", h.kind(), h.version))
		return indexOp{}, false, nil
	}
	s.log.Error("blockstore: corrupt record in a volume; key indexed as corrupt at its version",
		"volume", v.id, "offset", p, "key", key, "version", h.version, "kind", h.kind(), "err", cause)
	s.check.problem(v.id, p, key, fmt.Sprintf("corrupt %s record at version %d (checksum fails): repair it from a replica", h.kind(), h.version))
	e := indexEntry{flags: entryCorrupt, loc: loc, version: h.version, modTime: h.modTime}
	return indexOp{kind: opKey, key: key, e: e}, false, nil
}

// findRecord looks for the next valid record in (from, to), probing every
// 8-byte boundary. It returns -1 when there is none, and whether every
// byte between from and the result (or to) is zero.
func (s *Store) findRecord(ctx context.Context, sc *scanReader, from, to int64) (int64, bool, error) {
	zero := true
	for q := alignDown(from, recordAlign); q+8 <= to; q += recordAlign {
		w, err := sc.at(ctx, q, 8)
		if err != nil {
			return -1, false, err
		}
		if len(w) < 8 {
			break
		}
		if q > from && binary.LittleEndian.Uint32(w) == recordMagic {
			hb, err := sc.at(ctx, q, recordHeaderLen)
			if err != nil {
				return -1, false, err
			}
			if h, st, _ := parseHeader(hb); st == headerValid && q+int64(h.recordLen()) <= sc.limit {
				rb, err := sc.at(ctx, q, h.recordLen())
				if err != nil {
					return -1, false, err
				}
				if _, st2, _ := decodeRecord(rb); st2 == headerValid {
					return q, zero, nil
				}
			}
		}
		if !isZero(w) {
			zero = false
		}
	}
	return -1, zero, nil
}

// recoveredOps appends the index ops of a record found by a scan: its
// own, and for a composed manifest the tombstones of its parts (as
// Compose applied them).
func (s *Store) recoveredOps(rec record, loc location, ops []indexOp) []indexOp {
	op, ok := s.recoveredOp(rec, loc)
	if !ok {
		return ops
	}
	ops = append(ops, op)
	if rec.flags&flagManifest != 0 && len(rec.payload) > 0 && rec.payload[0] == manifestFormatComposed {
		m, _ := decodeManifest(rec.payload) // recoveredOp decoded it
		for _, p := range m.parts {
			if p.key == op.key {
				continue
			}
			ops = append(ops, indexOp{kind: opKey, key: p.key, e: indexEntry{
				flags:   entryTombstone,
				loc:     location{volume: loc.volume, offset: loc.offset},
				version: p.version,
				modTime: rec.modTime,
			}})
		}
	}
	return ops
}

// recoveredOp turns a record found by a scan into its index op. Chunk
// records are not keys; a manifest that does not decode is corruption.
func (s *Store) recoveredOp(rec record, loc location) (indexOp, bool) {
	s.clock.observe(rec.version)
	key := string(rec.key)
	e := indexEntry{loc: loc, version: rec.version, modTime: rec.modTime}
	switch {
	case rec.flags&flagChunk != 0:
		return indexOp{}, false
	case rec.flags&flagTombstone != 0:
		e.flags = entryTombstone
	case rec.flags&flagManifest != 0:
		m, err := decodeManifest(rec.payload)
		if err != nil {
			s.stats.corruptions.Add(1)
			s.log.Error("blockstore: manifest with valid checksum does not decode; skipped", "key", key, "at", loc, "err", err)
			s.check.problem(loc.volume, loc.offset, key, "manifest record does not decode (its checksum is valid)")
			return indexOp{}, false
		}
		e.flags = entryChunked
		e.size = m.totalSize
		e.chunkSize = m.chunkSize
		e.checksum = rec.contentCRC
		e.contentType = string(rec.contentType)
		e.ext = string(rec.ext)
		e = withSpans(e, &m, rec.chunkIndex)
	default:
		e.size = int64(rec.rawLen)
		e.chunkSize = max(s.opts.ChunkSize, e.size)
		e.checksum = rec.contentCRC
		e.contentType = string(rec.contentType)
		e.ext = string(rec.ext)
	}
	return indexOp{kind: opKey, key: key, e: e}, true
}

// scanReader serves byte ranges of a volume from aligned windows read
// through the device queue.
type scanReader struct {
	h      *ioengine.Handle
	limit  int64
	align  int64
	window int
	class  ioengine.Class // ClassRead unless set (scrub: ClassBackground)
	// before, when set, is called with the size of each device read
	// before it is issued (scrub paces and counts its reads with it).
	before func(ctx context.Context, n int64) error
	buf    []byte
	off    int64
	n      int
}

// at returns up to n bytes at p (fewer only at the limit). The slice is
// valid until the next call.
func (r *scanReader) at(ctx context.Context, p int64, n int) ([]byte, error) {
	if p+int64(n) > r.limit {
		n = int(max(0, r.limit-p))
	}
	if n == 0 {
		return nil, nil
	}
	if p >= r.off && p+int64(n) <= r.off+int64(r.n) {
		return r.buf[p-r.off : p-r.off+int64(n)], nil
	}
	start := alignDown(p, r.align)
	size := max(int64(r.window), alignUp(p+int64(n), r.align)-start)
	size = min(size, alignUp(r.limit, r.align)-start)
	if r.before != nil {
		if err := r.before(ctx, size); err != nil {
			return nil, err
		}
	}
	if int64(cap(r.buf)) < size {
		r.buf = ioengine.AlignedBytes(int(size), int(r.align))
		r.n = 0
	}
	m, err := r.h.ReadAt(ctx, r.class, r.buf[:size], start)
	if err != nil && !errors.Is(err, io.EOF) {
		r.n = 0 // the buffer no longer holds what off and n describe
		return nil, fmt.Errorf("blockstore: scan read at %d: %w", start, err)
	}
	r.buf = r.buf[:cap(r.buf)]
	r.off, r.n = start, m
	if p+int64(n) > start+int64(m) {
		n = int(max(0, start+int64(m)-p))
	}
	return r.buf[p-start : p-start+int64(n)], nil
}
