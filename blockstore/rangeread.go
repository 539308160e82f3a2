package blockstore

import (
	"context"
	"fmt"
)

// ReadRange appends the verified bytes [off, off+n) of exactly the version
// info describes (info must come from this store) to dst, reading only
// what it must: a chunk whose manifest carries sub-block CRCs (format 3,
// subblock.go) costs one device read of the aligned sub-blocks covering
// the range, each verified before a byte is returned; any other chunk (an
// older manifest, a compressed chunk, a composed blob, a single-record
// blob) is read and verified whole, as ReadChunk reads it. A range past
// the end is ErrInvalidArgument; a sub-block whose CRC fails is
// ErrCorrupt and nothing is appended. On error dst's contents past
// len(dst) are undefined.
func (s *Store) ReadRange(ctx context.Context, info Info, off, n int64, dst []byte) ([]byte, error) {
	if off < 0 || n < 0 || off > info.Size || n > info.Size-off {
		return nil, fmt.Errorf("%w: range [%d,+%d) of a %d-byte blob", ErrInvalidArgument, off, n, info.Size)
	}
	if info.loc.length == 0 {
		return nil, fmt.Errorf("%w: Info of %q does not come from this store", ErrInvalidArgument, info.Key)
	}
	if n == 0 {
		return dst, nil
	}
	if !info.chunked {
		return s.appendWhole(ctx, info, 0, 0, off, n, dst)
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	m, err := s.manifestOf(ctx, info)
	if err == nil && m.composed() {
		dst, err = s.appendComposed(ctx, info, m, off, n, dst)
	}
	s.exit()
	if err != nil || m.composed() {
		return dst, err
	}
	if m.totalSize != info.Size || m.chunkSize <= 0 {
		return nil, fmt.Errorf("%w: manifest of %q: %d bytes in chunks of %d, index says %d", ErrCorrupt, info.Key, m.totalSize, m.chunkSize, info.Size)
	}
	for end := off + n; off < end; {
		idx := int(off / m.chunkSize)
		if idx >= len(m.chunks) {
			return nil, fmt.Errorf("%w: manifest of %q: offset %d past its %d chunks", ErrCorrupt, info.Key, off, len(m.chunks))
		}
		cOff := int64(idx) * m.chunkSize
		lo, hi := off-cOff, min(end-cOff, m.chunkLen(idx))
		if m.chunkSubs(idx) != nil {
			dst, err = s.appendSubBlocks(ctx, info, m, idx, lo, hi, dst)
		} else {
			dst, err = s.appendWhole(ctx, info, idx, cOff, off, hi-lo, dst)
		}
		if err != nil {
			return nil, err
		}
		off = cOff + hi
	}
	return dst, nil
}

// appendWhole appends [off, off+n) of the blob from chunk idx (which starts
// at blob offset cOff), reading and verifying the whole chunk.
func (s *Store) appendWhole(ctx context.Context, info Info, idx int, cOff, off, n int64, dst []byte) ([]byte, error) {
	buf := s.getBuf(int(min(info.ChunkSize, info.Size)))
	defer s.putBuf(buf)
	c, err := s.AppendChunk(ctx, info, idx, buf.B[:0])
	if err != nil {
		return nil, err
	}
	if off-cOff+n > int64(len(c)) {
		s.stats.corruptions.Add(1)
		return nil, fmt.Errorf("%w: %q chunk %d holds %d bytes, range needs %d", ErrCorrupt, info.Key, idx, len(c), off-cOff+n)
	}
	return append(dst, c[off-cOff:off-cOff+n]...), nil
}

// appendSubBlocks appends bytes [lo, hi) of chunk idx, read with one
// aligned device read of the sub-blocks covering them, each checked
// against its CRC in the manifest. The chunk is stored raw (only such
// chunks carry sub-block CRCs), so its payload is the raw bytes right
// before the record's trailer.
func (s *Store) appendSubBlocks(ctx context.Context, info Info, m *manifest, idx int, lo, hi int64, dst []byte) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	ref := m.chunks[idx]
	subs := m.chunkSubs(idx)
	raw := m.chunkLen(idx)
	payload := ref.loc.offset + ref.loc.length - recordTrailerLen - raw
	if payload < ref.loc.offset+recordHeaderLen+int64(len(info.Key)) {
		s.stats.corruptions.Add(1)
		return nil, fmt.Errorf("%w: %q chunk %d: a %d-byte record cannot hold %d raw bytes", ErrCorrupt, info.Key, idx, ref.loc.length, raw)
	}
	first, last := lo/m.subSize, (hi-1)/m.subSize
	from, to := first*m.subSize, min((last+1)*m.subSize, raw)
	span := location{volume: ref.loc.volume, offset: payload + from, length: to - from}
	v, buf, b, err := s.readSpan(ctx, span, info.Key)
	if err != nil {
		return nil, err
	}
	defer s.putBuf(buf)
	for j := first; j <= last; j++ {
		sb := b[(j-first)*m.subSize : min((j-first+1)*m.subSize, int64(len(b)))]
		if got := crc32c(sb); got != subs[j] {
			s.stats.corruptions.Add(1)
			err := fmt.Errorf("%w: %q chunk %d sub-block %d checksum %#08x, want %#08x", ErrCorrupt, info.Key, idx, j, got, subs[j])
			s.log.Error("blockstore: corrupt sub-block on read", "key", info.Key, "at", span, "dir", v.dir.dev.Dir(), "err", err)
			return nil, fmt.Errorf("blockstore: %q at %s: %w", info.Key, span, err)
		}
	}
	return append(dst, b[lo-from:hi-from]...), nil
}
