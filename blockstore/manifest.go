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
const manifestFormat = 1

// minManifestEntry is the smallest encoding of one chunk entry.
const minManifestEntry = 1 + 1 + 1 + 4

// maxManifestEntry bounds one entry: three uvarints of up to 10 bytes and a CRC.
const maxManifestEntry = 3*binary.MaxVarintLen64 + 4

type manifest struct {
	chunkSize int64
	totalSize int64
	chunks    []chunkRef
}

type chunkRef struct {
	loc location
	crc uint32
}

// manifestLen bounds the encoded size of a manifest with n chunks.
func manifestLen(n int) int { return 1 + 3*binary.MaxVarintLen64 + n*maxManifestEntry }

func (m *manifest) encode(dst []byte) []byte {
	dst = append(dst, manifestFormat)
	dst = binary.AppendUvarint(dst, uint64(m.chunkSize))
	dst = binary.AppendUvarint(dst, uint64(m.totalSize))
	dst = binary.AppendUvarint(dst, uint64(len(m.chunks)))
	for _, c := range m.chunks {
		dst = binary.AppendUvarint(dst, uint64(c.loc.volume))
		dst = binary.AppendUvarint(dst, uint64(c.loc.offset))
		dst = binary.AppendUvarint(dst, uint64(c.loc.length))
		dst = binary.LittleEndian.AppendUint32(dst, c.crc)
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
	if len(b) < 1 || b[0] != manifestFormat {
		return m, fmt.Errorf("%w: manifest format", ErrCorrupt)
	}
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
	}
	if len(p) != 0 {
		return m, fmt.Errorf("%w: %d trailing manifest bytes", ErrCorrupt, len(p))
	}
	return m, nil
}
