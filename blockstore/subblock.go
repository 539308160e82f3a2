package blockstore

import "hash/crc32"

// Sub-block checksums: a chunk of more than one sub-block carries, in its
// manifest (format 3, manifest.go), a CRC32C of each subBlockSize bytes of
// its raw content, so a ranged read (rangeread.go) verifies the sub-blocks
// it reads instead of the whole chunk.
const (
	// subBlockSize is what Put writes: 64 KiB, so a small range costs at
	// most two sub-blocks and their alignment (one sub-block when it does
	// not cross a boundary).
	subBlockSize = 64 << 10
	// minSubBlockSize is the smallest sub-block a manifest may name: the
	// device alignment, below which a ranged read saves nothing.
	minSubBlockSize = 4 << 10
)

// subBlockSizeFor is the sub-block size for chunks of chunkSize bytes: 0
// (no sub-block CRCs, a format 1 manifest) when a chunk is at most one
// sub-block.
func subBlockSizeFor(chunkSize int64) int64 {
	if chunkSize <= subBlockSize {
		return 0
	}
	return subBlockSize
}

// subBlockCRCs appends to dst the CRC32C of each subSize bytes of raw (the
// last sub-block may be shorter) and returns them with the CRC32C of all of
// raw, combined from them (so the bytes are hashed once). subSize 0 appends
// nothing and returns crc32c(raw).
func subBlockCRCs(dst []uint32, raw []byte, subSize int64) ([]uint32, uint32) {
	if subSize <= 0 {
		return dst, crc32c(raw)
	}
	shift := xPow8n(subSize) // combines a full sub-block: one multiply each
	var whole uint32
	for off := int64(0); off < int64(len(raw)); off += subSize {
		part := raw[off:min(off+subSize, int64(len(raw)))]
		sc := crc32.Checksum(part, castagnoli)
		dst = append(dst, sc)
		if int64(len(part)) == subSize {
			whole = gfMul(shift, whole) ^ sc
		} else {
			whole = crc32cCombine(whole, sc, int64(len(part)))
		}
	}
	return dst, whole
}

// subBlockBound is the largest number of sub-block CRCs a chunk of
// chunkSize bytes has.
func subBlockBound(chunkSize int64) int64 {
	ss := subBlockSizeFor(chunkSize)
	if ss == 0 {
		return 0
	}
	return (chunkSize + ss - 1) / ss
}
