package blockstore

import (
	"encoding/binary"
	"fmt"
)

// A manifest is the payload of the record that names a chunked blob: the
// chunk size, the total size and, per chunk, where its record lies and what
// its raw bytes hash to.
//
//	byte     format (1)
//	uvarint  chunk size
//	uvarint  total size
//	uvarint  number of chunks
//	per chunk:
//	  uvarint volume id
//	  uvarint record offset in the volume
//	  uvarint record length
//	  uint32  CRC32C of the chunk's raw bytes (little endian)
//
// Each chunk's raw length follows from chunk size and total size.
//
// Format 2 is a composed blob's manifest (compose.go): the stored records
// of other blobs (the parts), in content order, each named with the key
// and version it was written under, since those records keep them:
//
//	byte     format (2)
//	uvarint  chunk size: the size of the chunks readers address
//	         (ReadChunk idx covers [idx*size, (idx+1)*size) of the content,
//	         whatever records that spans)
//	uvarint  total size
//	uvarint  number of parts
//	per part:
//	  byte     kind: 0 a single-record blob, 1 chunk records
//	  uvarint  key length, key
//	  uvarint  version
//	  uvarint  number of records
//	  per record:
//	    uvarint volume id, record offset, record length
//	    uvarint raw length
//	    uvarint chunk index (the record's; 0 for a blob record)
//	    uint32  CRC32C of the record's raw bytes (little endian)
//
// Format 3 is format 1 with a CRC32C per sub-block of each chunk
// (subblock.go), so a ranged read can verify the sub-blocks it reads
// without reading the whole chunk:
//
//	byte     format (3)
//	uvarint  chunk size
//	uvarint  total size
//	uvarint  number of chunks
//	uvarint  sub-block size (a power of two, 4 KiB up to the chunk size)
//	per chunk:
//	  uvarint volume id
//	  uvarint record offset in the volume
//	  uvarint record length
//	  uint32  CRC32C of the chunk's raw bytes (little endian)
//	  byte    0: no sub-block CRCs (the chunk is stored compressed),
//	          1: ceil(chunk length / sub-block size) CRC32Cs follow
//	  uint32  CRC32C of each sub-block's raw bytes, in order
//
// The sub-block CRCs of a chunk combine (crc.go) to its CRC; the decoder
// checks that, so they describe the same bytes the chunk record's own
// checksum does. Put writes format 3 when the chunk size exceeds one
// sub-block; formats 1 and 2 stay readable and are still written (chunks
// of at most one sub-block, composed blobs).
const (
	manifestFormat         = 1
	manifestFormatComposed = 2
	manifestFormatSubs     = 3
)

// minManifestEntry is the smallest encoding of one chunk entry.
const minManifestEntry = 1 + 1 + 1 + 4

// maxManifestEntry bounds one entry: three uvarints of up to 10 bytes and a CRC.
const maxManifestEntry = 3*binary.MaxVarintLen64 + 4

type manifest struct {
	chunkSize int64
	totalSize int64
	chunks    []chunkRef
	// parts is set for a composed manifest (format 2): the blobs whose
	// records chunks names; each chunkRef's part indexes it.
	parts []partRef
	// subSize is the sub-block size of a format 3 manifest (0 otherwise);
	// subs holds the sub-block CRCs of every chunk that has them, each
	// chunk's at subs[c.subFirst:c.subFirst+c.subN].
	subSize int64
	subs    []uint32
}

type chunkRef struct {
	loc location
	crc uint32
	// Composed manifests only (zero otherwise): the part the record was
	// written for, its raw length, where its bytes start in the content,
	// and the record's chunk index.
	part  int32
	raw   int64
	start int64
	index uint32
	// Format 3 only: where the chunk's sub-block CRCs are in the
	// manifest's subs (subN 0: none, the chunk is stored compressed).
	subFirst int32
	subN     int32
}

// chunkSubs returns the sub-block CRCs of chunk i (nil: none).
func (m *manifest) chunkSubs(i int) []uint32 {
	c := &m.chunks[i]
	if m.subSize == 0 || c.subN == 0 {
		return nil
	}
	return m.subs[c.subFirst : c.subFirst+c.subN]
}

// addChunk appends a chunk of a format 1 or 3 manifest; subs are its
// sub-block CRCs (nil: none).
func (m *manifest) addChunk(loc location, crc uint32, subs []uint32) {
	c := chunkRef{loc: loc, crc: crc}
	if len(subs) > 0 {
		c.subFirst, c.subN = int32(len(m.subs)), int32(len(subs))
		m.subs = append(m.subs, subs...)
	}
	m.chunks = append(m.chunks, c)
}

// partRef is a blob a composed manifest takes records from: the key and
// version its records carry, and their kind (0 or flagChunk).
type partRef struct {
	key     string
	version uint64
	kind    uint8
}

func (m *manifest) composed() bool { return m.parts != nil }

// record names what ReadChunk must find at chunks[i]: the key, version,
// kind flag and chunk index the record was written with, and its raw
// length. owner is the manifest's own key and version (the writer of a
// format 1 manifest's chunks).
func (m *manifest) record(i int, ownerKey string, ownerVersion uint64) (key string, version uint64, kind uint8, index uint32, raw int64) {
	if !m.composed() {
		return ownerKey, ownerVersion, flagChunk, uint32(i), m.chunkLen(i)
	}
	c := &m.chunks[i]
	p := &m.parts[c.part]
	return p.key, p.version, p.kind, c.index, c.raw
}

// encodeComposed encodes a format 2 manifest.
func (m *manifest) encodeComposed(dst []byte) []byte {
	dst = append(dst, manifestFormatComposed)
	dst = binary.AppendUvarint(dst, uint64(m.chunkSize))
	dst = binary.AppendUvarint(dst, uint64(m.totalSize))
	dst = binary.AppendUvarint(dst, uint64(len(m.parts)))
	i := 0
	for pi, p := range m.parts {
		kind := byte(0)
		if p.kind == flagChunk {
			kind = 1
		}
		dst = append(dst, kind)
		dst = binary.AppendUvarint(dst, uint64(len(p.key)))
		dst = append(dst, p.key...)
		dst = binary.AppendUvarint(dst, p.version)
		n := 0
		for j := i; j < len(m.chunks) && m.chunks[j].part == int32(pi); j++ {
			n++
		}
		dst = binary.AppendUvarint(dst, uint64(n))
		for ; n > 0; n-- {
			c := &m.chunks[i]
			dst = binary.AppendUvarint(dst, uint64(c.loc.volume))
			dst = binary.AppendUvarint(dst, uint64(c.loc.offset))
			dst = binary.AppendUvarint(dst, uint64(c.loc.length))
			dst = binary.AppendUvarint(dst, uint64(c.raw))
			dst = binary.AppendUvarint(dst, uint64(c.index))
			dst = binary.LittleEndian.AppendUint32(dst, c.crc)
			i++
		}
	}
	return dst
}

// encodeAny encodes m in its own format.
func (m *manifest) encodeAny(dst []byte) []byte {
	if m.composed() {
		return m.encodeComposed(dst)
	}
	return m.encode(dst)
}

// encodedLen bounds the encoding of m.
func (m *manifest) encodedLen() int {
	n := manifestLen(len(m.chunks)) + binary.MaxVarintLen64 + len(m.chunks) + 4*len(m.subs)
	for _, p := range m.parts {
		n += 2 + 2*binary.MaxVarintLen64 + len(p.key) + 2*binary.MaxVarintLen64
	}
	return n
}

// find returns the index of the record holding content offset off of a
// composed manifest (len(chunks) when off is at or past the end).
func (m *manifest) find(off int64) int {
	lo, hi := 0, len(m.chunks)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if c := &m.chunks[h]; c.start+c.raw <= off {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

// manifestLen bounds the encoded size of a manifest with n chunks.
func manifestLen(n int) int { return 1 + 3*binary.MaxVarintLen64 + n*maxManifestEntry }

// encode encodes a chunked blob's manifest: format 3 when it has a
// sub-block size, else format 1.
func (m *manifest) encode(dst []byte) []byte {
	format := byte(manifestFormat)
	if m.subSize > 0 {
		format = manifestFormatSubs
	}
	dst = append(dst, format)
	dst = binary.AppendUvarint(dst, uint64(m.chunkSize))
	dst = binary.AppendUvarint(dst, uint64(m.totalSize))
	dst = binary.AppendUvarint(dst, uint64(len(m.chunks)))
	if m.subSize > 0 {
		dst = binary.AppendUvarint(dst, uint64(m.subSize))
	}
	for i, c := range m.chunks {
		dst = binary.AppendUvarint(dst, uint64(c.loc.volume))
		dst = binary.AppendUvarint(dst, uint64(c.loc.offset))
		dst = binary.AppendUvarint(dst, uint64(c.loc.length))
		dst = binary.LittleEndian.AppendUint32(dst, c.crc)
		if m.subSize == 0 {
			continue
		}
		subs := m.chunkSubs(i)
		if len(subs) == 0 {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, 1)
		for _, sc := range subs {
			dst = binary.LittleEndian.AppendUint32(dst, sc)
		}
	}
	return dst
}

// chunkLen is the raw length of chunk idx.
func (m *manifest) chunkLen(idx int) int64 {
	off := int64(idx) * m.chunkSize
	return min(m.chunkSize, m.totalSize-off)
}

// decodeManifest parses and validates a manifest payload. Errors wrap ErrCorrupt.
func decodeManifest(b []byte) (manifest, error) {
	var m manifest
	if len(b) >= 1 && b[0] == manifestFormatComposed {
		return decodeComposed(b)
	}
	if len(b) < 1 || (b[0] != manifestFormat && b[0] != manifestFormatSubs) {
		return m, fmt.Errorf("%w: manifest format", ErrCorrupt)
	}
	withSubs := b[0] == manifestFormatSubs
	p := b[1:]
	next := func(what string) (uint64, error) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, fmt.Errorf("%w: manifest %s", ErrCorrupt, what)
		}
		p = p[n:]
		return v, nil
	}
	cs, err := next("chunk size")
	if err != nil {
		return m, err
	}
	ts, err := next("total size")
	if err != nil {
		return m, err
	}
	n, err := next("chunk count")
	if err != nil {
		return m, err
	}
	if cs == 0 || cs > maxRecordPayload || ts > 1<<50 {
		return m, fmt.Errorf("%w: manifest chunk size %d total %d", ErrCorrupt, cs, ts)
	}
	if want := (ts + cs - 1) / cs; n != want || n < 1 {
		return m, fmt.Errorf("%w: manifest has %d chunks, size %d/%d needs %d", ErrCorrupt, n, ts, cs, want)
	}
	if n > uint64(len(p)/minManifestEntry) {
		return m, fmt.Errorf("%w: manifest of %d chunks in %d bytes", ErrCorrupt, n, len(p))
	}
	m.chunkSize, m.totalSize = int64(cs), int64(ts)
	var shift uint32 // x^(8*subSize): combines one full sub-block's CRC
	if withSubs {
		ss, err := next("sub-block size")
		if err != nil {
			return m, err
		}
		if ss < minSubBlockSize || ss >= cs || ss&(ss-1) != 0 {
			return m, fmt.Errorf("%w: manifest sub-block size %d for chunks of %d", ErrCorrupt, ss, cs)
		}
		m.subSize = int64(ss)
		shift = xPow8n(m.subSize)
	}
	m.chunks = make([]chunkRef, n)
	for i := range m.chunks {
		vol, err := next("volume")
		if err != nil {
			return m, err
		}
		off, err := next("offset")
		if err != nil {
			return m, err
		}
		ln, err := next("length")
		if err != nil {
			return m, err
		}
		if len(p) < 4 {
			return m, fmt.Errorf("%w: manifest chunk %d checksum", ErrCorrupt, i)
		}
		raw := m.chunkLen(i)
		if vol > 1<<32-1 || off > 1<<62 || ln < uint64(recordOverhead+1) || ln > uint64(recordOverhead+MaxKeyLen+MaxContentTypeLen)+uint64(raw) {
			return m, fmt.Errorf("%w: manifest chunk %d location %d/%d/%d", ErrCorrupt, i, vol, off, ln)
		}
		m.chunks[i] = chunkRef{
			loc: location{volume: uint32(vol), offset: int64(off), length: int64(ln)},
			crc: binary.LittleEndian.Uint32(p),
		}
		p = p[4:]
		if withSubs {
			if err := m.decodeSubs(i, &p, shift); err != nil {
				return m, err
			}
		}
	}
	if len(p) != 0 {
		return m, fmt.Errorf("%w: %d trailing manifest bytes", ErrCorrupt, len(p))
	}
	return m, nil
}

// decodeSubs reads chunk i's sub-block flag and CRCs from *p and checks
// that they combine to the chunk's CRC. shift is xPow8n(m.subSize).
func (m *manifest) decodeSubs(i int, p *[]byte, shift uint32) error {
	b := *p
	if len(b) < 1 || b[0] > 1 {
		return fmt.Errorf("%w: manifest chunk %d sub-block flag", ErrCorrupt, i)
	}
	has := b[0] == 1
	b = b[1:]
	if !has {
		*p = b
		return nil
	}
	raw := m.chunkLen(i)
	ns := int((raw + m.subSize - 1) / m.subSize)
	if len(b) < 4*ns {
		return fmt.Errorf("%w: manifest chunk %d has %d bytes for %d sub-block CRCs", ErrCorrupt, i, len(b), ns)
	}
	first := len(m.subs)
	var crc uint32
	for j := range ns {
		sc := binary.LittleEndian.Uint32(b[4*j:])
		m.subs = append(m.subs, sc)
		if n := min(m.subSize, raw-int64(j)*m.subSize); n == m.subSize {
			crc = gfMul(shift, crc) ^ sc
		} else {
			crc = crc32cCombine(crc, sc, n)
		}
	}
	if crc != m.chunks[i].crc {
		return fmt.Errorf("%w: manifest chunk %d sub-block CRCs combine to %#08x, chunk CRC %#08x", ErrCorrupt, i, crc, m.chunks[i].crc)
	}
	m.chunks[i].subFirst, m.chunks[i].subN = int32(first), int32(ns)
	*p = b[4*ns:]
	return nil
}

// minComposedRecord is the smallest encoding of one record of a composed
// manifest; minComposedPart that of a part with no records.
const (
	minComposedRecord = 5 + 4
	minComposedPart   = 1 + 1 + 1 + 1 + 1
)

// decodeComposed parses and validates a format 2 manifest. Errors wrap
// ErrCorrupt.
func decodeComposed(b []byte) (manifest, error) {
	var m manifest
	p := b[1:]
	next := func(what string) (uint64, error) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, fmt.Errorf("%w: composed manifest %s", ErrCorrupt, what)
		}
		p = p[n:]
		return v, nil
	}
	var hdr [3]uint64
	for i, what := range []string{"chunk size", "total size", "part count"} {
		v, err := next(what)
		if err != nil {
			return m, err
		}
		hdr[i] = v
	}
	cs, ts, np := hdr[0], hdr[1], hdr[2]
	if cs == 0 || cs > maxRecordPayload || ts > 1<<50 {
		return m, fmt.Errorf("%w: composed manifest chunk size %d total %d", ErrCorrupt, cs, ts)
	}
	if np == 0 || np > uint64(len(p)/minComposedPart) {
		return m, fmt.Errorf("%w: composed manifest of %d parts in %d bytes", ErrCorrupt, np, len(p))
	}
	m.chunkSize, m.totalSize = int64(cs), int64(ts)
	m.parts = make([]partRef, 0, np)
	var at int64
	for pi := range int(np) {
		if len(p) < 1 || p[0] > 1 {
			return m, fmt.Errorf("%w: composed manifest part %d kind", ErrCorrupt, pi)
		}
		var part partRef
		if p[0] == 1 {
			part.kind = flagChunk
		}
		p = p[1:]
		kl, err := next("key length")
		if err != nil {
			return m, err
		}
		if kl == 0 || kl > MaxKeyLen || kl > uint64(len(p)) {
			return m, fmt.Errorf("%w: composed manifest part %d key length %d", ErrCorrupt, pi, kl)
		}
		part.key = string(p[:kl])
		p = p[kl:]
		if part.version, err = next("version"); err != nil {
			return m, err
		}
		nr, err := next("record count")
		if err != nil {
			return m, err
		}
		if nr == 0 || nr > uint64(len(p)/minComposedRecord) || (part.kind == 0 && nr != 1) {
			return m, fmt.Errorf("%w: composed manifest part %d has %d records", ErrCorrupt, pi, nr)
		}
		for range int(nr) {
			var v [5]uint64
			for i, what := range []string{"volume", "offset", "length", "raw length", "chunk index"} {
				if v[i], err = next(what); err != nil {
					return m, err
				}
			}
			if len(p) < 4 {
				return m, fmt.Errorf("%w: composed manifest record checksum", ErrCorrupt)
			}
			vol, off, ln, raw, idx := v[0], v[1], v[2], v[3], v[4]
			if vol > 1<<32-1 || off > 1<<62 || raw > maxRecordPayload || idx > 1<<32-1 ||
				ln < uint64(recordOverhead)+kl || ln > uint64(recordOverhead)+kl+maxAttrLen+raw ||
				(part.kind == 0 && idx != 0) {
				return m, fmt.Errorf("%w: composed manifest record %d/%d/%d raw %d index %d", ErrCorrupt, vol, off, ln, raw, idx)
			}
			m.chunks = append(m.chunks, chunkRef{
				loc:   location{volume: uint32(vol), offset: int64(off), length: int64(ln)},
				crc:   binary.LittleEndian.Uint32(p),
				part:  int32(pi),
				raw:   int64(raw),
				start: at,
				index: uint32(idx),
			})
			p = p[4:]
			at += int64(raw)
			if at > int64(ts) {
				return m, fmt.Errorf("%w: composed manifest records exceed its %d bytes", ErrCorrupt, ts)
			}
		}
		m.parts = append(m.parts, part)
	}
	if at != int64(ts) {
		return m, fmt.Errorf("%w: composed manifest records hold %d bytes, total says %d", ErrCorrupt, at, ts)
	}
	if len(p) != 0 {
		return m, fmt.Errorf("%w: %d trailing composed manifest bytes", ErrCorrupt, len(p))
	}
	return m, nil
}
