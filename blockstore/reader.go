package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"strata/ioengine"
)

// readRecord reads the record at loc with exactly one aligned device read
// and checks it is the record of key and version with the given kind flag.
// The content (decompressed, verified) is appended to dst (nil: a new
// slice).
func (s *Store) readRecord(ctx context.Context, loc location, key string, version uint64, kind uint8, dst []byte) (record, []byte, error) {
	v, buf, rb, err := s.readSpan(ctx, loc, key)
	if err != nil {
		return record{}, nil, err
	}
	defer s.putBuf(buf)
	rec, _, err := decodeRecord(rb)
	if err == nil {
		switch {
		case int64(rec.recordLen()) != loc.length:
			err = fmt.Errorf("%w: record length %d, index says %d", ErrCorrupt, rec.recordLen(), loc.length)
		case !bytes.Equal(rec.key, []byte(key)):
			err = fmt.Errorf("%w: record holds key %q", ErrCorrupt, rec.key)
		case rec.version != version:
			err = fmt.Errorf("%w: record version %d, want %d", ErrCorrupt, rec.version, version)
		case rec.flags != kind:
			err = fmt.Errorf("%w: record is a %s", ErrCorrupt, rec.kind())
		}
	}
	var data []byte
	if err == nil {
		data, err = rec.appendContent(dst, false) // never alias the pooled buffer
		if data == nil {
			data = []byte{} // an empty blob is present: not nil
		}
	}
	if err != nil {
		s.stats.corruptions.Add(1)
		s.log.Error("blockstore: corrupt record on read", "key", key, "at", loc, "dir", v.dir.dev.Dir(), "err", err)
		return record{}, nil, fmt.Errorf("blockstore: %q at %s: %w", key, loc, err)
	}
	rec.key, rec.contentType, rec.payload = nil, nil, nil
	return rec, data, nil
}

// readSpan reads loc.length bytes at loc.offset of volume loc.volume with
// one aligned device read at ClassRead, into a pooled buffer the caller
// releases with putBuf; b is the span within it. A missing volume is
// corruption (the index names it); a failed disk or read is an error
// wrapping the disk's. v is the volume read.
func (s *Store) readSpan(ctx context.Context, loc location, key string) (v *volume, buf *ioengine.Buffer, b []byte, err error) {
	v, ok := s.volume(loc.volume)
	if !ok {
		s.stats.corruptions.Add(1)
		return nil, nil, nil, fmt.Errorf("%w: %q: volume %d is missing", ErrCorrupt, key, loc.volume)
	}
	if err := v.dir.failedErr(); err != nil {
		return nil, nil, nil, fmt.Errorf("blockstore: read %q at %s: %w", key, loc, err)
	}
	align := int64(v.h.Alignment())
	start := alignDown(loc.offset, align)
	end := alignUp(loc.offset+loc.length, align)
	buf = s.getBuf(int(end - start))
	n, err := v.h.ReadAt(ctx, ioengine.ClassRead, buf.B[:end-start], start)
	if err != nil && !(errors.Is(err, io.EOF) && int64(n) >= loc.offset+loc.length-start) {
		s.putBuf(buf)
		v.dir.noteIOError(s, err)
		return nil, nil, nil, fmt.Errorf("blockstore: read %q at %s: %w", key, loc, v.dir.diskError(err))
	}
	s.stats.reads.Add(1)
	return v, buf, buf.B[loc.offset-start : loc.offset-start+loc.length], nil
}

// ReadChunk returns the verified bytes of chunk idx of exactly the version
// info describes (info must come from this store). A single-record blob has
// one chunk, read with one device read.
func (s *Store) ReadChunk(ctx context.Context, info Info, idx int) ([]byte, error) {
	return s.AppendChunk(ctx, info, idx, nil)
}

// AppendChunk is ReadChunk appending to dst, so a caller that reuses its
// buffers (a cache filling slots, a server copying to a socket) costs no
// allocation per read. On error dst's contents past len(dst) are undefined.
func (s *Store) AppendChunk(ctx context.Context, info Info, idx int, dst []byte) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	if info.loc.length == 0 {
		return nil, fmt.Errorf("%w: Info of %q does not come from this store", ErrInvalidArgument, info.Key)
	}
	if idx < 0 || idx >= info.NumChunks() {
		return nil, fmt.Errorf("%w: chunk %d of %d", ErrInvalidArgument, idx, info.NumChunks())
	}
	if !info.chunked {
		_, data, err := s.readRecord(ctx, info.loc, info.Key, info.Version, 0, dst)
		if err != nil {
			return nil, err
		}
		if int64(len(data)-len(dst)) != info.Size {
			s.stats.corruptions.Add(1)
			return nil, fmt.Errorf("%w: %q is %d bytes, index says %d", ErrCorrupt, info.Key, len(data)-len(dst), info.Size)
		}
		return data, nil
	}
	m, err := s.manifestOf(ctx, info)
	if err != nil {
		return nil, err
	}
	if m.composed() {
		off, n := info.ChunkBounds(idx)
		return s.appendComposed(ctx, info, m, off, n, dst)
	}
	if idx >= len(m.chunks) {
		return nil, fmt.Errorf("%w: chunk %d of %d", ErrInvalidArgument, idx, len(m.chunks))
	}
	ref := m.chunks[idx]
	rec, data, err := s.readRecord(ctx, ref.loc, info.Key, info.Version, flagChunk, dst)
	if err != nil {
		return nil, err
	}
	if rec.chunkIndex != uint32(idx) || rec.contentCRC != ref.crc || int64(len(data)-len(dst)) != m.chunkLen(idx) {
		s.stats.corruptions.Add(1)
		return nil, fmt.Errorf("%w: %q chunk %d does not match its manifest", ErrCorrupt, info.Key, idx)
	}
	return data, nil
}

// manifestOf reads (once per Info and its copies) the manifest of a
// chunked blob.
func (s *Store) manifestOf(ctx context.Context, info Info) (*manifest, error) {
	mc := info.man
	if mc != nil {
		mc.mu.Lock()
		defer mc.mu.Unlock()
		if mc.m != nil {
			return mc.m, nil
		}
	}
	if m := s.manifests.get(&info); m != nil {
		if mc != nil {
			mc.m = m
		}
		return m, nil
	}
	rec, payload, err := s.readRecord(ctx, info.loc, info.Key, info.Version, flagManifest, nil)
	if err != nil {
		return nil, err
	}
	m, err := decodeManifest(payload)
	if err == nil && (m.totalSize != info.Size || rec.contentCRC != info.Checksum) {
		err = fmt.Errorf("%w: manifest says %d bytes crc %#08x, index %d bytes crc %#08x",
			ErrCorrupt, m.totalSize, rec.contentCRC, info.Size, info.Checksum)
	}
	if err != nil {
		s.stats.corruptions.Add(1)
		return nil, fmt.Errorf("blockstore: %q manifest: %w", info.Key, err)
	}
	if mc != nil {
		mc.m = &m
	}
	s.manifests.put(&info, &m)
	return &m, nil
}

// Reader reads one version of a blob as an io.ReadSeeker and io.ReaderAt,
// reading only the chunks a range touches and keeping one chunk in memory.
type Reader struct {
	s    *Store
	ctx  context.Context
	info Info

	mu       sync.Mutex
	pos      int64
	chunkIdx int
	chunk    []byte
}

// NewReader returns a Reader over the version info describes.
func (s *Store) NewReader(ctx context.Context, info Info) *Reader {
	return &Reader{s: s, ctx: ctx, info: info, chunkIdx: -1}
}

// Info is the version the reader reads.
func (r *Reader) Info() Info { return r.info }

// Size is the blob's length.
func (r *Reader) Size() int64 { return r.info.Size }

func (r *Reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, err := r.readAtLocked(p, r.pos)
	r.pos += int64(n)
	return n, err
}

// ReadAt reads len(p) bytes at off; io.EOF when fewer remain.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readAtLocked(p, off)
}

func (r *Reader) readAtLocked(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: negative offset", ErrInvalidArgument)
	}
	n := 0
	for n < len(p) {
		if off >= r.info.Size {
			return n, io.EOF
		}
		idx := 0
		if r.info.NumChunks() > 1 {
			idx = int(off / r.info.ChunkSize)
		}
		if idx != r.chunkIdx {
			c, err := r.s.ReadChunk(r.ctx, r.info, idx)
			if err != nil {
				return n, err
			}
			r.chunk, r.chunkIdx = c, idx
		}
		start, _ := r.info.ChunkBounds(idx)
		m := copy(p[n:], r.chunk[off-start:])
		n += m
		off += int64(m)
	}
	return n, nil
}

// Seek sets the offset of the next Read.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.info.Size
	default:
		return 0, fmt.Errorf("%w: whence %d", ErrInvalidArgument, whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("%w: negative position", ErrInvalidArgument)
	}
	r.pos = offset
	return offset, nil
}

// Close drops the cached chunk.
func (r *Reader) Close() error {
	r.mu.Lock()
	r.chunk, r.chunkIdx = nil, -1
	r.mu.Unlock()
	return nil
}
