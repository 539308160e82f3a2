package blockstore

import (
	"context"
	"errors"
	"fmt"

	"strata/ioengine"
)

// Compose makes key a new blob whose content is the contents of parts, in
// order, without copying a content byte: one record (a composed manifest,
// manifest.go format 2) names the parts' stored records, with the key and
// version each was written under. It returns once that record is durable
// and visible.
//
// The same record removes the parts: its index op carries, for each part,
// a tombstone at the part's version (an entry with no record of its own:
// its location is the compose record's, length 0). They are applied with
// the key's entry in one pending update and one bbolt batch, and recovery
// and a rebuild derive them from the compose record again, so after a
// crash either the record is durable and the key is new with no part
// visible, or it is not and nothing changed. A tombstone at a part's
// version beats that version of the part in any order of replay, and
// loses to a newer version of the part: a Put of a part key that races a
// Compose (after Compose read the part) keeps its new blob under the part
// key, the Compose takes the version it read, and a rebuild reaches the
// same state.
//
// A part may be a single-record blob or a chunked blob, not a composed
// blob: the manifest's parts are exactly the keys it removes, and a
// composed blob's records belong to other keys (S3 never composes one;
// copy it first). key must not be one of the parts, and no part may be
// listed twice (ErrInvalidArgument). The
// total is held to Options.MaxBlobSize and the manifest to the largest
// record the volumes are sized for (ErrTooLarge: with 8 MiB chunks that is
// tens of thousands of parts). The new blob's Info.ChunkSize is the
// store's chunk size: ReadChunk idx returns [idx*ChunkSize,
// (idx+1)*ChunkSize) of the content, read from the one or more records
// that hold it, each verified against its checksum. Info.Checksum is the
// CRC32C of the content, computed from the parts' checksums.
//
// With opts.Version set, a key whose current version is at least as high
// makes Compose write nothing and return that entry's Info (last writer
// wins; at exactly that version it is a repeat of this Compose), without
// touching the parts. Errors wrap ErrInvalidKey, ErrInvalidArgument,
// ErrNotFound (a part is missing; the message names it), ErrCorrupt (a
// part is known corrupt), ErrTooLarge, ErrNoSpace, ErrReadOnly or
// ErrClosed; on any error nothing changed.
func (s *Store) Compose(ctx context.Context, key string, parts []string, opts ComposeOptions) (Info, error) {
	if err := ValidateCompose(key, parts, opts); err != nil {
		return Info{}, err
	}
	if s.closed.Load() {
		return Info{}, ErrClosed
	}
	version := opts.Version
	if version != 0 {
		s.clock.observe(version)
		cur, ok, err := s.index.lookup(key)
		if err != nil {
			return Info{}, err
		}
		if ok && !(&indexEntry{version: version}).newer(&cur) {
			if !cur.live() {
				return Info{Key: key, Version: cur.version}, nil
			}
			return cur.info(key), nil
		}
	} else {
		version = s.clock.next()
	}
	// Compaction cannot remove a volume the parts' records lie in until
	// the new entry, which names them, is visible.
	s.composeMu.RLock()
	defer s.composeMu.RUnlock()
	modTime := s.modTime()
	m, checksum, tombs, err := s.composeParts(ctx, parts, opts.PartVersions, modTime)
	if err != nil {
		return Info{}, fmt.Errorf("blockstore: compose %q: %w", key, err)
	}
	payload := m.encodeComposed(nil)
	if limit := max(s.opts.maxManifestPayload(), s.opts.ChunkSize); int64(len(payload)) > limit {
		return Info{}, fmt.Errorf("blockstore: compose %q: %w: a manifest of %d bytes for %d parts, limit %d", key, ErrTooLarge, len(payload), len(parts), limit)
	}
	var ext []byte
	if len(opts.Meta) > 0 || opts.MD5 != nil {
		ext = appendExt(nil, opts.Meta, opts.MD5)
	}
	room := payloadOffset(key, opts.ContentType, len(ext))
	buf := s.getBuf(room + len(payload) + recordTrailerLen)
	defer s.putBuf(buf)
	copy(buf.B[room:], payload)
	h := recordHeader{flags: flagManifest, rawLen: len(payload), payloadLen: len(payload), contentCRC: checksum, version: version, modTime: modTime}
	rec := finishRecord(buf.B, h, key, opts.ContentType, ext)
	e := indexEntry{
		flags:       entryChunked,
		size:        m.totalSize,
		version:     version,
		modTime:     modTime,
		checksum:    checksum,
		chunkSize:   m.chunkSize,
		contentType: opts.ContentType,
		ext:         string(ext),
	}
	e = withSpans(e, &m, 0) // the parts' records are the new blob's now
	d, derr := s.pickDirErr(nil, false)
	if d == nil {
		if err := s.Healthy(); err != nil {
			return Info{}, fmt.Errorf("blockstore: compose %q: %w", key, err)
		}
		return Info{}, fmt.Errorf("blockstore: compose %q: %w", key, derr)
	}
	loc, err := s.writeOps(ctx, d, rec, indexOp{kind: opKey, key: key, e: e}, tombs)
	if err != nil {
		return Info{}, fmt.Errorf("blockstore: compose %q: %w", key, err)
	}
	s.writePartTombstones(ctx, key, tombs)
	e.loc = loc
	info := e.info(key)
	info.man.m = &m
	return info, nil
}

// writePartTombstones gives each part's tombstone a record of its own,
// all in one group, once the compose is durable: the tombstones that
// Compose's record carries have none, so they would be lost with it when
// compaction drops that record (the composed key overwritten or deleted)
// while the parts' records still lie in a volume, and a rebuild would
// bring the parts back. Tombstone records follow the rules of any delete
// (kept while the volumes of the records they hide remain). A failure is
// logged: the record-less tombstones still hold until then.
func (s *Store) writePartTombstones(ctx context.Context, key string, tombs []indexOp) {
	d := s.pickDir(nil, true)
	if d == nil {
		s.log.Warn("blockstore: compose: no disk for the parts' tombstone records", "key", key)
		return
	}
	reqs := make([]*appendReq, 0, len(tombs))
	bufs := make([]*ioengine.Buffer, 0, len(tombs))
	defer func() {
		for _, b := range bufs {
			s.putBuf(b)
		}
	}()
	var failed error
	for _, op := range tombs {
		h := recordHeader{flags: flagTombstone, version: op.e.version, modTime: op.e.modTime}
		buf := s.getBuf(recordOverhead + len(op.key))
		bufs = append(bufs, buf)
		op.e.loc = location{}
		req := &appendReq{rec: finishRecord(buf.B, h, op.key, "", nil), op: op, done: make(chan appendResult, 1), reserve: true}
		if err := d.app.submit(ctx, req); err != nil {
			failed = err
			break
		}
		reqs = append(reqs, req)
	}
	for _, req := range reqs { // every queued one owns its buffer until done
		if res := <-req.done; res.err != nil && failed == nil {
			failed = res.err
		}
	}
	if failed != nil {
		s.log.Warn("blockstore: compose: the parts' tombstone records were not all written", "key", key, "err", failed)
	}
}

// ValidateCompose reports whether Compose's arguments are well formed: a
// valid key, content type and metadata, an MD5 of 16 bytes or none, at
// least one part, every part a valid key, none listed twice and none the
// key itself. Errors wrap ErrInvalidKey or ErrInvalidArgument. Every
// Composer (the tiered store's, the cluster's, nodetest's) holds its
// arguments to it, so they refuse alike.
func ValidateCompose(key string, parts []string, opts ComposeOptions) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ValidateContentType(opts.ContentType); err != nil {
		return err
	}
	if err := ValidateMeta(opts.Meta); err != nil {
		return err
	}
	if opts.MD5 != nil && len(opts.MD5) != md5Len {
		return fmt.Errorf("%w: compose %q: MD5 of %d bytes", ErrInvalidArgument, key, len(opts.MD5))
	}
	if len(parts) == 0 {
		return fmt.Errorf("%w: compose %q: no parts", ErrInvalidArgument, key)
	}
	if opts.PartVersions != nil && len(opts.PartVersions) != len(parts) {
		return fmt.Errorf("%w: compose %q: %d part versions for %d parts", ErrInvalidArgument, key, len(opts.PartVersions), len(parts))
	}
	seen := make(map[string]bool, len(parts))
	for _, p := range parts {
		if err := ValidateKey(p); err != nil {
			return fmt.Errorf("compose %q: part %q: %w", key, p, err)
		}
		if p == key {
			return fmt.Errorf("%w: compose %q: the key is one of its parts", ErrInvalidArgument, key)
		}
		if seen[p] {
			return fmt.Errorf("%w: compose %q: part %q listed twice", ErrInvalidArgument, key, p)
		}
		seen[p] = true
	}
	return nil
}

// composeParts reads the parts' current entries (and manifests) into a
// composed manifest, the content's checksum and the parts' tombstones.
func (s *Store) composeParts(ctx context.Context, parts []string, versions []uint64, modTime int64) (manifest, uint32, []indexOp, error) {
	m := manifest{chunkSize: s.opts.ChunkSize, parts: make([]partRef, 0, len(parts))}
	var checksum uint32
	tombs := make([]indexOp, 0, len(parts))
	for i, p := range parts {
		if err := ctx.Err(); err != nil {
			return m, 0, nil, err
		}
		e, err := s.lookupLive(p)
		if err != nil {
			return m, 0, nil, fmt.Errorf("part %q: %w", p, err)
		}
		if versions != nil && e.version != versions[i] {
			return m, 0, nil, fmt.Errorf("part %q: %w: held at version %d, want %d", p, ErrNotFound, e.version, versions[i])
		}
		if err := s.appendPart(ctx, &m, p, e); err != nil {
			return m, 0, nil, fmt.Errorf("part %q: %w", p, err)
		}
		checksum = crc32cCombine(checksum, e.checksum, e.size)
		m.totalSize += e.size
		if m.totalSize > s.opts.MaxBlobSize {
			return m, 0, nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, s.opts.MaxBlobSize)
		}
		tombs = append(tombs, indexOp{kind: opKey, key: p, e: indexEntry{flags: entryTombstone, version: e.version, modTime: modTime}})
	}
	return m, checksum, tombs, nil
}

// appendPart appends the records of part key (entry e) to m.
func (s *Store) appendPart(ctx context.Context, m *manifest, key string, e indexEntry) error {
	start := m.totalSize
	if e.flags&entryChunked == 0 {
		m.chunks = append(m.chunks, chunkRef{loc: e.loc, crc: e.checksum, part: int32(len(m.parts)), raw: e.size, start: start})
		m.parts = append(m.parts, partRef{key: key, version: e.version})
		return nil
	}
	pm, err := s.manifestOf(ctx, e.info(key))
	if err != nil {
		return err
	}
	if !pm.composed() {
		idx := int32(len(m.parts))
		m.parts = append(m.parts, partRef{key: key, version: e.version, kind: flagChunk})
		for i, c := range pm.chunks {
			raw := pm.chunkLen(i)
			m.chunks = append(m.chunks, chunkRef{loc: c.loc, crc: c.crc, part: idx, raw: raw, start: start, index: uint32(i)})
			start += raw
		}
		return nil
	}
	// The new manifest's parts are exactly the keys it removes (recovery
	// derives their tombstones from it), so a composed blob, whose records
	// belong to other keys, cannot be one.
	return fmt.Errorf("%w: a composed blob cannot be a part", ErrInvalidArgument)
}

// appendComposed appends the verified bytes [off, off+n) of a composed
// blob to dst, reading each record that holds some of them.
func (s *Store) appendComposed(ctx context.Context, info Info, m *manifest, off, n int64, dst []byte) ([]byte, error) {
	base := len(dst)
	for i := m.find(off); i < len(m.chunks) && m.chunks[i].start < off+n; i++ {
		c := &m.chunks[i]
		key, version, kind, index, raw := m.record(i, info.Key, info.Version)
		at := len(dst)
		rec, data, err := s.readRecord(ctx, c.loc, key, version, kind, dst)
		if err == nil && (rec.chunkIndex != index || rec.contentCRC != c.crc || int64(len(data)-at) != raw) {
			s.stats.corruptions.Add(1)
			err = fmt.Errorf("%w: record %d (part %q) does not match its manifest", ErrCorrupt, i, key)
		}
		if err != nil {
			if errors.Is(err, ErrCorrupt) {
				s.markComposedCorrupt(info)
			}
			return nil, fmt.Errorf("blockstore: %q record %d: %w", info.Key, i, err)
		}
		lo := max(off, c.start) - c.start
		hi := min(off+n, c.start+raw) - c.start
		dst = append(data[:at], data[at+int(lo):at+int(hi)]...)
	}
	if int64(len(dst)-base) != n {
		s.stats.corruptions.Add(1)
		return nil, fmt.Errorf("%w: %q: records hold %d of bytes [%d,%d)", ErrCorrupt, info.Key, len(dst)-base, off, off+n)
	}
	return dst, nil
}

// markComposedCorrupt indexes a composed blob as corrupt once a read found
// one of its records damaged, if its entry is still the version read: so
// a replica's repair (a write at that version) replaces it. Scrub cannot
// do it for a composed blob: the damaged record carries the part's key,
// which names no live blob.
func (s *Store) markComposedCorrupt(info Info) {
	e, ok, err := s.index.lookup(info.Key)
	if err != nil || !ok || !e.live() || e.version != info.Version || e.loc != info.loc {
		return
	}
	if s.index.markCorrupt(info.Key, e) {
		s.log.Error("blockstore: composed blob has a damaged record; indexed as corrupt for repair", "key", info.Key, "version", info.Version)
	}
}
