package tiering

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Item format on flash. Every item carries its full identity and a CRC32C,
// so a read verifies both and a mismatch is a miss, never bad bytes:
//
//	off  size  field
//	  0     4  magic "STC1"
//	  4     2  key length
//	  6     2  flags (0)
//	  8     4  payload length
//	 12     4  segment number
//	 16     8  blob version
//	 24     4  blob checksum (CRC32C of the whole blob, part of the identity)
//	 28     4  CRC32C of bytes 0..27, the key and the payload
//	 32     .  key, then payload; the item is padded to the cache unit
const (
	itemMagic      = 0x31435453 // "STC1" little-endian
	itemHeaderSize = 32
	maxItemKeyLen  = 1<<16 - 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ssdItem is a decoded item; key and payload alias the decoded buffer.
type ssdItem struct {
	key     string
	seg     uint32
	version uint64
	sum     uint32
	payload []byte
	raw     []byte // the encoded item (without padding)
	n       int    // encoded length (without padding)
}

func encodedItemLen(keyLen, payloadLen int) int64 {
	return int64(itemHeaderSize + keyLen + payloadLen)
}

// encodeItem writes the item into dst, which must hold encodedItemLen bytes.
func encodeItem(dst []byte, key string, version uint64, sum, seg uint32, payload []byte) int {
	n := itemHeaderSize + len(key) + len(payload)
	_ = dst[n-1]
	binary.LittleEndian.PutUint32(dst[0:], itemMagic)
	binary.LittleEndian.PutUint16(dst[4:], uint16(len(key)))
	binary.LittleEndian.PutUint16(dst[6:], 0)
	binary.LittleEndian.PutUint32(dst[8:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[12:], seg)
	binary.LittleEndian.PutUint64(dst[16:], version)
	binary.LittleEndian.PutUint32(dst[24:], sum)
	copy(dst[itemHeaderSize:], key)
	copy(dst[itemHeaderSize+len(key):], payload)
	crc := crc32.Update(0, castagnoli, dst[:28])
	crc = crc32.Update(crc, castagnoli, dst[itemHeaderSize:n])
	binary.LittleEndian.PutUint32(dst[28:], crc)
	return n
}

// itemLen is the encoded length the item header at the start of b claims
// (unverified: decodeItem checks the CRC).
func itemLen(b []byte) (int64, error) {
	if len(b) < itemHeaderSize {
		return 0, fmt.Errorf("%w: %d bytes, short header", errBadItem, len(b))
	}
	if binary.LittleEndian.Uint32(b[0:]) != itemMagic {
		return 0, fmt.Errorf("%w: bad magic", errBadItem)
	}
	keyLen := int64(binary.LittleEndian.Uint16(b[4:]))
	return itemHeaderSize + keyLen + int64(binary.LittleEndian.Uint32(b[8:])), nil
}

// decodeItem parses and verifies the item at the start of b.
func decodeItem(b []byte) (ssdItem, error) {
	n, err := itemLen(b)
	if err != nil {
		return ssdItem{}, err
	}
	keyLen := int(binary.LittleEndian.Uint16(b[4:]))
	if n > int64(len(b)) {
		return ssdItem{}, fmt.Errorf("%w: length %d beyond %d bytes", errBadItem, n, len(b))
	}
	crc := crc32.Update(0, castagnoli, b[:28])
	crc = crc32.Update(crc, castagnoli, b[itemHeaderSize:n])
	if crc != binary.LittleEndian.Uint32(b[28:]) {
		return ssdItem{}, fmt.Errorf("%w: checksum mismatch", errBadItem)
	}
	return ssdItem{
		key:     string(b[itemHeaderSize : itemHeaderSize+keyLen]),
		seg:     binary.LittleEndian.Uint32(b[12:]),
		version: binary.LittleEndian.Uint64(b[16:]),
		sum:     binary.LittleEndian.Uint32(b[24:]),
		payload: b[itemHeaderSize+keyLen : n],
		raw:     b[:n],
		n:       int(n),
	}, nil
}

func (it ssdItem) hash() uint64 { return itemHash(it.key, it.version, it.sum, it.seg) }

// Region header, at the start of every region written since format 2 (one
// cache unit; the items follow it):
//
//	off  size  field
//	  0     4  magic "STRG"
//	  4     4  region number
//	  8     8  fill sequence (regions are reclaimed in this order)
//	 16     8  region size
//	 24     4  CRC32C of bytes 0..23
//
// After a crash the cache is rebuilt from these and the items' own headers
// (ssdrebuild.go); a region's items end at the first bytes that do not
// decode as an item (flushRegion zeroes the bytes after the last item).
const (
	regionMagic      = 0x47525453 // "STRG" little-endian
	regionHeaderSize = 28
)

func encodeRegionHeader(dst []byte, region uint32, seq uint64, regionSize int64) {
	_ = dst[regionHeaderSize-1]
	binary.LittleEndian.PutUint32(dst[0:], regionMagic)
	binary.LittleEndian.PutUint32(dst[4:], region)
	binary.LittleEndian.PutUint64(dst[8:], seq)
	binary.LittleEndian.PutUint64(dst[16:], uint64(regionSize))
	binary.LittleEndian.PutUint32(dst[24:], crc32.Checksum(dst[:24], castagnoli))
}

// decodeRegionHeader returns the fill sequence of the region header at the
// start of b, which must name region and regionSize.
func decodeRegionHeader(b []byte, region uint32, regionSize int64) (uint64, error) {
	if len(b) < regionHeaderSize {
		return 0, fmt.Errorf("%w: region header: %d bytes", errBadItem, len(b))
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != regionMagic || crc32.Checksum(b[:24], castagnoli) != le.Uint32(b[24:]) {
		return 0, fmt.Errorf("%w: region %d: no valid header", errBadItem, region)
	}
	if le.Uint32(b[4:]) != region || int64(le.Uint64(b[16:])) != regionSize {
		return 0, fmt.Errorf("%w: region %d: header names region %d of %d bytes", errBadItem, region, le.Uint32(b[4:]), le.Uint64(b[16:]))
	}
	seq := le.Uint64(b[8:])
	if seq == 0 {
		return 0, fmt.Errorf("%w: region %d: sequence 0", errBadItem, region)
	}
	return seq, nil
}
