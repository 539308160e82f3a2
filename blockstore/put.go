package blockstore

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/s2"

	"strata/ioengine"
)

// PutOptions are the per-write options of Put.
type PutOptions struct {
	ContentType string
	// Meta is stored with the blob and returned verbatim in Info.Meta:
	// header-like name/value pairs (S3 user metadata, Content-Encoding,
	// Cache-Control, ...), at most MaxMetaBytes of names and values in all.
	// Names are canonical header names (textproto.CanonicalMIMEHeaderKey).
	Meta map[string]string
	// WantMD5 asks the store to hash the content with MD5 while it streams
	// and keep the digest in Info.MD5 (S3 ETags); off, Info.MD5 is nil.
	WantMD5 bool
	// MD5, when set, is the content's MD5 as the caller already knows it
	// (S3's Content-MD5, which its verifying body checks as it streams:
	// the body fails before its end unless it matches): kept as Info.MD5
	// without hashing the content again. 16 bytes; it wins over WantMD5.
	MD5 []byte
	// Version is the write's version stamp (hybrid logical clock). 0: the
	// store assigns one greater than any it has seen.
	Version uint64
}

// ComposeOptions are the options of a Compose: the new blob's content type,
// metadata and version stamp (0: the store assigns one), as for a Put.
type ComposeOptions struct {
	ContentType string
	Meta        map[string]string
	// MD5 is stored as the new blob's Info.MD5 (the caller computed it: for
	// S3, the MD5 of the parts' MD5s); nil stores none.
	MD5 []byte
	// PartVersions, when set (one per part), pins each part to the version
	// the caller checked: a part held at any other version fails the
	// Compose with ErrNotFound, naming both versions, and nothing changes.
	// A cluster pins the versions its quorum read saw, so a replica behind
	// on a part catches up before it composes instead of composing stale
	// bytes; the S3 API pins the versions whose MD5s make the ETag.
	PartVersions []uint64
	Version      uint64
}

// DeleteOptions are the per-delete options of Delete.
type DeleteOptions struct {
	// Version stamps the tombstone; 0: the store assigns one.
	Version uint64
}

// Put streams size bytes from r (size -1: unknown, read to EOF) and returns
// once the record(s) are durable (fdatasync returned) and readable. Blobs
// above the chunk size become chunk records plus a manifest, so memory stays
// at about two chunks whatever the size.
//
// With opts.Version set and a current version at least as high, nothing is
// written and the current Info is returned (last writer wins); its Version
// tells the caller. At exactly the version of a live blob the record is
// written and the higher content checksum wins (two coordinators that
// stamped one version converge on every replica); the returned Info is
// then the one the index keeps. The exception is a key indexed as corrupt: a Put at
// the same version replaces it (a repair brings the lost version back). Errors wrap ErrInvalidKey, ErrInvalidArgument,
// ErrTooLarge, ErrSizeMismatch, ErrNoSpace, ErrReadOnly or ErrClosed; on any
// error nothing becomes visible.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := ValidateContentType(opts.ContentType); err != nil {
		return Info{}, err
	}
	if err := ValidateMeta(opts.Meta); err != nil {
		return Info{}, err
	}
	if size < -1 {
		return Info{}, fmt.Errorf("%w: size %d", ErrInvalidArgument, size)
	}
	if opts.MD5 != nil && len(opts.MD5) != md5Len {
		return Info{}, fmt.Errorf("%w: an MD5 of %d bytes", ErrInvalidArgument, len(opts.MD5))
	}
	if size > s.opts.MaxBlobSize {
		return Info{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, s.opts.MaxBlobSize)
	}
	if s.closed.Load() {
		return Info{}, ErrClosed
	}
	version := opts.Version
	sameVersionBlob := false
	if version != 0 {
		s.clock.observe(version)
		cur, ok, err := s.index.lookup(key)
		if err != nil {
			return Info{}, err
		}
		// A live blob at exactly this version may lose to this one on
		// its checksum (newer), which only the body tells: write, and let
		// the index decide.
		blob := indexEntry{version: version}
		sameVersionBlob = ok && cur.version == version && cur.rank() == rankBlob && !cur.dropped()
		if ok && !sameVersionBlob && !blob.newer(&cur) {
			info := cur.info(key)
			if !cur.live() {
				info = Info{Key: key, Version: cur.version}
			}
			return info, nil
		}
	} else {
		version = s.clock.next()
	}
	d, derr := s.pickDirErr(nil, false)
	if d == nil {
		if err := s.Healthy(); err != nil {
			return Info{}, fmt.Errorf("blockstore: put %q: %w", key, err)
		}
		return Info{}, fmt.Errorf("blockstore: put %q: %w", key, derr)
	}
	p := &putter{s: s, ctx: ctx, key: key, ct: opts.ContentType, version: version, modTime: s.modTime(), dir: d}
	if len(opts.Meta) > 0 || opts.WantMD5 || opts.MD5 != nil {
		var zero []byte
		switch {
		case opts.MD5 != nil:
			zero = opts.MD5
		case opts.WantMD5:
			zero = make([]byte, md5Len) // filled in once the content is hashed
			p.md5 = s.opts.NewMD5()
			defer closeHash(p.md5)
		}
		p.ext = appendExt(nil, opts.Meta, zero)
	}
	info, err := p.run(r, size)
	if err != nil {
		return Info{}, fmt.Errorf("blockstore: put %q: %w", key, err)
	}
	if sameVersionBlob {
		if cur, ok, err := s.index.lookup(key); err == nil && ok && cur.live() && cur.version == version {
			info = cur.info(key)
		}
	}
	return info, nil
}

// putter is one Put in progress.
type putter struct {
	s       *Store
	ctx     context.Context
	key, ct string
	version uint64
	modTime int64
	dir     *dataDir
	// ext is the extension block of the blob's record (single record or
	// manifest): metadata and, with md5 set, the content's MD5 at
	// ext[1:17] once known. nil when the Put has neither.
	ext []byte
	md5 hash.Hash
}

// closeHash releases h when it holds resources (Options.NewMD5).
func closeHash(h hash.Hash) {
	if c, ok := h.(interface{ Close() }); ok {
		c.Close()
	}
}

// setMD5 writes the digest of what p.md5 hashed into p.ext.
func (p *putter) setMD5() {
	if p.md5 != nil {
		p.md5.Sum(p.ext[1:1])
	}
}

func (p *putter) run(r io.Reader, size int64) (Info, error) {
	s := p.s
	chunk := s.opts.ChunkSize
	first := chunk
	if size >= 0 && size <= chunk {
		first = size
	}
	body := r
	if size >= 0 {
		body = io.LimitReader(r, size)
	}
	// The first piece decides: one record, or chunks plus a manifest.
	room := payloadOffset(p.key, p.ct, len(p.ext))
	buf := s.getBuf(room + int(first) + recordTrailerLen)
	n, err := readFull(body, buf.B[room:room+int(first)])
	if err != nil {
		s.putBuf(buf)
		return Info{}, err
	}
	var carry []byte
	if int64(n) == chunk {
		var one [1]byte
		m, err := readFull(body, one[:])
		if err != nil {
			s.putBuf(buf)
			return Info{}, err
		}
		carry = one[:m]
	}
	if len(carry) == 0 {
		defer s.putBuf(buf)
		if err := checkSize(r, size, int64(n)); err != nil {
			return Info{}, err
		}
		return p.single(buf.B, n)
	}
	return p.chunked(r, body, size, buf, n, carry)
}

// checkSize verifies a declared size: exactly size bytes were read and r
// has nothing more.
func checkSize(r io.Reader, size, got int64) error {
	if size < 0 {
		return nil
	}
	if got != size {
		return fmt.Errorf("%w: read %d of %d bytes", ErrSizeMismatch, got, size)
	}
	var one [1]byte
	m, err := readFull(r, one[:])
	if err != nil {
		return err
	}
	if m != 0 {
		return fmt.Errorf("%w: body longer than %d bytes", ErrSizeMismatch, size)
	}
	return nil
}

// readFull reads until p is full or EOF; a short count is not an error.
func readFull(r io.Reader, p []byte) (int, error) {
	n, err := io.ReadFull(r, p)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	if err != nil {
		return n, fmt.Errorf("reading body: %w", err)
	}
	return n, nil
}

// encode finishes a record whose raw payload is in place in b, compressing
// it into a second buffer when that saves enough. It returns the record and
// the buffer it lives in (b's or the new one, which the caller releases).
func (p *putter) encode(b []byte, h recordHeader, ct string, ext []byte) (rec []byte, extra []byte, release func()) {
	s := p.s
	room := payloadOffset(p.key, ct, len(ext))
	raw := b[room : room+h.rawLen]
	h.payloadLen = h.rawLen
	release = func() {}
	if s.opts.compress() && h.flags&flagManifest == 0 && p.worthCompressing(raw) {
		cb := s.getBuf(room + s2.MaxEncodedLen(len(raw)) + recordTrailerLen)
		if enc, ok := compressPayload(cb.B[room:], raw); ok {
			h.codec, h.payloadLen = codecS2, len(enc)
			return finishRecord(cb.B, h, p.key, ct, ext), cb.B, func() { s.putBuf(cb) }
		}
		s.putBuf(cb)
	}
	if h.flags&flagManifest == 0 {
		// Uncompressed, the payload is the raw content: its CRC is the
		// content CRC, so the body checksum needs no second pass.
		return finishRecordPayloadCRC(b, h, p.key, ct, ext, h.contentCRC), nil, release
	}
	return finishRecord(b, h, p.key, ct, ext), nil, release
}

// worthCompressing decides whether compressing raw is worth trying, by
// compressing a sample first: 64 KiB of a large payload, 1 KiB of a small
// one. Incompressible payloads (media, encrypted data) then cost a sample's
// CPU instead of a full encode.
func (p *putter) worthCompressing(raw []byte) bool {
	switch {
	case len(raw) < 64:
		return false
	case len(raw) < 4<<10:
		return true
	}
	probe := compressProbe
	if len(raw) <= 4*compressProbe {
		probe = 1 << 10
	}
	scratch := p.s.getBuf(s2.MaxEncodedLen(probe))
	defer p.s.putBuf(scratch)
	return compressible(scratch.B, raw, probe)
}

func (p *putter) single(b []byte, n int) (Info, error) {
	s := p.s
	room := payloadOffset(p.key, p.ct, len(p.ext))
	raw := b[room : room+n]
	if p.md5 != nil {
		p.md5.Write(raw)
		p.setMD5()
	}
	h := recordHeader{rawLen: n, contentCRC: crc32c(raw), version: p.version, modTime: p.modTime}
	rec, _, release := p.encode(b, h, p.ct, p.ext)
	defer release()
	e := indexEntry{
		size:        int64(n),
		version:     p.version,
		modTime:     p.modTime,
		checksum:    h.contentCRC,
		chunkSize:   max(s.opts.ChunkSize, int64(n)),
		contentType: p.ct,
		ext:         string(p.ext),
	}
	loc, err := s.write(p.ctx, p.dir, rec, indexOp{kind: opKey, key: p.key, e: e})
	if err != nil {
		return Info{}, err
	}
	e.loc = loc
	return e.info(p.key), nil
}

// chunked writes chunk records one at a time (each durable before the next
// is read, so at most a chunk and its compressed copy are in memory), then
// the manifest, whose durability is the Put's.
//
// The first chunk is already in first (n bytes at the payload offset of
// the blob's record); carry holds the byte read after it. Chunk records
// carry the content type too but no extension block (the manifest has it),
// so with one the first piece moves down to the chunk's payload offset.
func (p *putter) chunked(r, body io.Reader, size int64, first *ioengine.Buffer, firstLen int, carry []byte) (Info, error) {
	s := p.s
	chunk := int(s.opts.ChunkSize)
	room := payloadOffset(p.key, p.ct, 0)
	if from := payloadOffset(p.key, p.ct, len(p.ext)); from != room {
		copy(first.B[room:room+firstLen], first.B[from:from+firstLen])
	}
	m := manifest{chunkSize: s.opts.ChunkSize, subSize: subBlockSizeFor(s.opts.ChunkSize)}
	var subs []uint32 // the current chunk's sub-block CRCs (subblock.go)
	var total int64
	var whole uint32
	for idx := 0; ; idx++ {
		if err := p.ctx.Err(); err != nil {
			return Info{}, err
		}
		var buf *ioengine.Buffer
		var n int
		var err error
		if idx == 0 {
			buf, n = first, firstLen
		} else {
			buf = s.getBuf(room + chunk + recordTrailerLen)
			c := copy(buf.B[room:room+chunk], carry)
			carry = nil
			n, err = readFull(body, buf.B[room+c:room+chunk])
			n += c
		}
		slot := buf.B[room : room+chunk]
		if err != nil || n == 0 {
			s.putBuf(buf)
			if err != nil {
				return Info{}, err
			}
			break
		}
		total += int64(n)
		if total > s.opts.MaxBlobSize {
			s.putBuf(buf)
			return Info{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, s.opts.MaxBlobSize)
		}
		raw := slot[:n]
		whole = crc32.Update(whole, castagnoli, raw)
		// The MD5 of the chunk is computed while the chunk is encoded,
		// written and synced: off the Put's critical path. raw is only
		// read by both until the buffer is released below.
		var hashed chan struct{}
		if p.md5 != nil {
			hashed = make(chan struct{})
			go func() { p.md5.Write(raw); close(hashed) }()
		}
		var crc uint32
		subs, crc = subBlockCRCs(subs[:0], raw, m.subSize)
		h := recordHeader{flags: flagChunk, rawLen: n, contentCRC: crc, version: p.version, modTime: p.modTime, chunkIndex: uint32(idx)}
		rec, _, release := p.encode(buf.B, h, p.ct, nil)
		if rec[6] != codecNone {
			subs = subs[:0] // a ranged read cannot cut a compressed payload
		}
		loc, err := s.write(p.ctx, p.dir, rec, indexOp{})
		release()
		if hashed != nil {
			<-hashed
		}
		s.putBuf(buf)
		if err != nil {
			return Info{}, fmt.Errorf("chunk %d: %w", idx, err)
		}
		m.addChunk(loc, h.contentCRC, subs)
		if n < chunk {
			break
		}
	}
	if err := checkSize(r, size, total); err != nil {
		return Info{}, err
	}
	m.totalSize = total
	p.setMD5()
	payload := m.encode(make([]byte, 0, m.encodedLen()))
	room = payloadOffset(p.key, p.ct, len(p.ext))
	buf := s.getBuf(room + len(payload) + recordTrailerLen)
	defer s.putBuf(buf)
	copy(buf.B[room:], payload)
	h := recordHeader{flags: flagManifest, rawLen: len(payload), contentCRC: whole, version: p.version, modTime: p.modTime}
	rec, _, release := p.encode(buf.B, h, p.ct, p.ext)
	defer release()
	e := indexEntry{
		flags:       entryChunked,
		size:        total,
		version:     p.version,
		modTime:     p.modTime,
		checksum:    whole,
		chunkSize:   s.opts.ChunkSize,
		contentType: p.ct,
		ext:         string(p.ext),
	}
	e = withSpans(e, &m, 0) // the chunks' bytes, for garbage accounting
	loc, err := s.write(p.ctx, p.dir, rec, indexOp{kind: opKey, key: p.key, e: e})
	if err != nil {
		return Info{}, fmt.Errorf("manifest: %w", err)
	}
	e.loc = loc
	info := e.info(p.key)
	info.man.m = &m
	return info, nil
}
