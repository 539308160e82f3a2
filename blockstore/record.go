package blockstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/klauspost/compress/s2"
)

// Record format; doc.go draws it.
const (
	recordMagic  uint32 = 0x31425253 // "SRB1" on disk
	recordFormat uint8  = 1
	// recordFormatExt is a record whose attribute region (between key and
	// payload) holds a content-type length byte, the content type and an
	// extension block (meta.go: metadata and MD5). Written only for blobs
	// and manifests that have metadata or an MD5; format 1 records are
	// unchanged, and both decode.
	recordFormatExt uint8 = 2
	// maxAttrLen bounds a format 2 attribute region: the content type,
	// its length byte and the largest extension block.
	maxAttrLen       = 1 + MaxContentTypeLen + maxExtLen
	recordHeaderLen  = 48
	recordTrailerLen = 4
	recordOverhead   = recordHeaderLen + recordTrailerLen
	// recordAlign is the alignment of record starts inside a group, so a
	// resynchronising scan after corruption only probes every 8th byte.
	recordAlign = 8
	// maxRecordPayload bounds a payload so a corrupt-but-plausible length
	// cannot make a reader allocate without limit.
	maxRecordPayload = 256 << 20
)

// Record flags. A record has at most one kind flag; none means a blob.
const (
	flagTombstone uint8 = 1 << iota // delete marker: no payload
	flagChunk                       // one chunk of a large blob: never indexed as a key
	flagManifest                    // list of chunk locations of a large blob
	knownFlags    = flagTombstone | flagChunk | flagManifest
)

// Payload codecs.
const (
	codecNone uint8 = 0
	codecS2   uint8 = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// recordHeader is the fixed part of a record.
type recordHeader struct {
	flags  uint8
	codec  uint8
	keyLen int
	ctLen  int
	// extLen is the extension block's length; 0 for a format 1 record.
	extLen     int
	payloadLen int    // stored bytes
	rawLen     int    // bytes after decompression (== payloadLen for codecNone)
	contentCRC uint32 // CRC32C of the raw payload; of the whole blob for a manifest
	version    uint64
	modTime    int64 // unix nanoseconds
	chunkIndex uint32
}

// record is a decoded record; slices alias the buffer it was decoded from.
type record struct {
	recordHeader
	key         []byte
	contentType []byte
	ext         []byte // the extension block (format 2), nil otherwise
	payload     []byte // as stored (possibly compressed)
	// payloadCRC is the CRC32C of payload when decodeRecord computed it
	// (hasPayloadCRC): a large uncompressed payload is hashed once for
	// both the body and the content checksum.
	payloadCRC    uint32
	hasPayloadCRC bool
}

// onePassMin is the payload size from which decodeRecord hashes an
// uncompressed payload once and combines (crc.go) that CRC into the body
// checksum: the combine costs about what hashing 16 KiB does.
const onePassMin = 64 << 10

// recordLen is the encoded length of a record, without alignment padding.
func (h *recordHeader) recordLen() int {
	return recordOverhead + h.keyLen + h.attrLen() + h.payloadLen
}

// attrLen is the length of the region between key and payload.
func (h *recordHeader) attrLen() int { return attrLen(h.ctLen, h.extLen) }

func attrLen(ctLen, extLen int) int {
	if extLen == 0 {
		return ctLen
	}
	return 1 + ctLen + extLen
}

func (h *recordHeader) kind() string {
	switch {
	case h.flags&flagTombstone != 0:
		return "tombstone"
	case h.flags&flagChunk != 0:
		return "chunk"
	case h.flags&flagManifest != 0:
		return "manifest"
	}
	return "blob"
}

func (h *recordHeader) modTimeValue() time.Time {
	if h.modTime == 0 {
		return time.Time{}
	}
	return time.Unix(0, h.modTime).UTC()
}

// putHeader writes the header of h (with its CRC) into b[:recordHeaderLen].
func putHeader(b []byte, h *recordHeader) {
	binary.LittleEndian.PutUint32(b[0:], recordMagic)
	b[4] = recordFormat
	if h.extLen > 0 {
		b[4] = recordFormatExt
	}
	b[5] = h.flags
	b[6] = h.codec
	b[7] = 0
	binary.LittleEndian.PutUint16(b[8:], uint16(h.keyLen))
	binary.LittleEndian.PutUint16(b[10:], uint16(h.attrLen()))
	binary.LittleEndian.PutUint32(b[12:], uint32(h.payloadLen))
	binary.LittleEndian.PutUint32(b[16:], uint32(h.rawLen))
	binary.LittleEndian.PutUint32(b[20:], h.contentCRC)
	binary.LittleEndian.PutUint64(b[24:], h.version)
	binary.LittleEndian.PutUint64(b[32:], uint64(h.modTime))
	binary.LittleEndian.PutUint32(b[40:], h.chunkIndex)
	binary.LittleEndian.PutUint32(b[44:], crc32c(b[:44]))
}

// finishRecord completes a record whose payload (h.payloadLen bytes) is
// already in place at payloadOffset(key, ct, len(ext)): it writes header,
// key, content type, extension block (none when ext is empty: a format 1
// record) and trailer, and returns b[:h.recordLen()].
func finishRecord(b []byte, h recordHeader, key, ct string, ext []byte) []byte {
	n, _ := putRecordPrefix(b, &h, key, ct, ext)
	binary.LittleEndian.PutUint32(b[n-recordTrailerLen:], crc32c(b[recordHeaderLen:n-recordTrailerLen]))
	return b[:n]
}

// finishRecordPayloadCRC is finishRecord for a payload whose CRC32C the
// caller already has (an uncompressed blob's or chunk's payload is its raw
// content, whose CRC is the header's content CRC): the body checksum is
// combined from the CRC of the key and attribute bytes and payloadCRC, so
// the payload is not read a second time. The record is byte for byte the
// one finishRecord writes when payloadCRC is right.
func finishRecordPayloadCRC(b []byte, h recordHeader, key, ct string, ext []byte, payloadCRC uint32) []byte {
	n, payloadAt := putRecordPrefix(b, &h, key, ct, ext)
	crc := crc32cCombine(crc32c(b[recordHeaderLen:payloadAt]), payloadCRC, int64(h.payloadLen))
	binary.LittleEndian.PutUint32(b[n-recordTrailerLen:], crc)
	return b[:n]
}

// putRecordPrefix writes the header, key and attribute region before the
// payload already in place; it returns the record's length and where the
// payload starts.
func putRecordPrefix(b []byte, h *recordHeader, key, ct string, ext []byte) (n, payloadAt int) {
	h.keyLen, h.ctLen, h.extLen = len(key), len(ct), len(ext)
	putHeader(b, h)
	p := recordHeaderLen + copy(b[recordHeaderLen:], key)
	if len(ext) > 0 {
		b[p] = byte(len(ct))
		p++
	}
	p += copy(b[p:], ct)
	p += copy(b[p:], ext)
	return h.recordLen(), p
}

// payloadOffset is where the payload starts in a record with this key,
// content type and extension block length.
func payloadOffset(key, ct string, extLen int) int {
	return recordHeaderLen + len(key) + attrLen(len(ct), extLen)
}

// encodeRecord appends a whole record to dst (tests and small records).
func encodeRecord(dst []byte, h recordHeader, key, ct, payload []byte) []byte {
	return encodeRecordExt(dst, h, key, ct, nil, payload)
}

// encodeRecordExt is encodeRecord with an extension block (format 2 when
// ext is not empty).
func encodeRecordExt(dst []byte, h recordHeader, key, ct, ext, payload []byte) []byte {
	h.keyLen, h.ctLen, h.extLen, h.payloadLen = len(key), len(ct), len(ext), len(payload)
	start := len(dst)
	dst = append(dst, make([]byte, h.recordLen())...)
	b := dst[start:]
	copy(b[payloadOffset(string(key), string(ct), len(ext)):], payload)
	finishRecord(b, h, string(key), string(ct), ext)
	return dst
}

// headerState classifies the bytes where a record header is expected.
type headerState int

const (
	headerValid headerState = iota
	headerZero              // all zero: padding or the unwritten tail
	headerBad               // neither: a torn write or corruption
)

// parseHeader decodes and checks a record header. b must hold at least
// recordHeaderLen bytes.
func parseHeader(b []byte) (recordHeader, headerState, error) {
	var h recordHeader
	if len(b) < recordHeaderLen {
		return h, headerBad, fmt.Errorf("%w: header needs %d bytes, have %d", ErrCorrupt, recordHeaderLen, len(b))
	}
	b = b[:recordHeaderLen]
	if isZero(b) {
		return h, headerZero, fmt.Errorf("%w: zero header", ErrCorrupt)
	}
	if m := binary.LittleEndian.Uint32(b[0:]); m != recordMagic {
		return h, headerBad, fmt.Errorf("%w: bad magic %#08x", ErrCorrupt, m)
	}
	if got, want := crc32c(b[:44]), binary.LittleEndian.Uint32(b[44:]); got != want {
		return h, headerBad, fmt.Errorf("%w: header checksum %#08x, want %#08x", ErrCorrupt, got, want)
	}
	if b[4] != recordFormat && b[4] != recordFormatExt {
		return h, headerBad, fmt.Errorf("%w: unknown record format %d", ErrCorrupt, b[4])
	}
	h.flags = b[5]
	h.codec = b[6]
	h.keyLen = int(binary.LittleEndian.Uint16(b[8:]))
	h.ctLen = int(binary.LittleEndian.Uint16(b[10:]))
	if b[4] == recordFormatExt {
		// The attribute region's length; decodeRecord splits it. Until
		// then ctLen is 0 and extLen the rest, which recordLen adds up
		// to the same total (1 + 0 + extLen).
		attr := h.ctLen
		if attr < 1+minExtLen || attr > maxAttrLen {
			return h, headerBad, fmt.Errorf("%w: attribute region of %d bytes", ErrCorrupt, attr)
		}
		h.ctLen, h.extLen = 0, attr-1
	}
	h.payloadLen = int(binary.LittleEndian.Uint32(b[12:]))
	h.rawLen = int(binary.LittleEndian.Uint32(b[16:]))
	h.contentCRC = binary.LittleEndian.Uint32(b[20:])
	h.version = binary.LittleEndian.Uint64(b[24:])
	h.modTime = int64(binary.LittleEndian.Uint64(b[32:]))
	h.chunkIndex = binary.LittleEndian.Uint32(b[40:])
	if err := h.check(b[7]); err != nil {
		return h, headerBad, err
	}
	return h, headerValid, nil
}

// check rejects headers whose checksum matched but whose fields cannot come
// from this writer.
func (h *recordHeader) check(reserved byte) error {
	switch {
	case reserved != 0:
		return fmt.Errorf("%w: reserved byte %#x", ErrCorrupt, reserved)
	case h.flags&^knownFlags != 0:
		return fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, h.flags)
	case h.flags&(h.flags-1) != 0:
		return fmt.Errorf("%w: several kind flags %#x", ErrCorrupt, h.flags)
	case h.codec > codecS2:
		return fmt.Errorf("%w: unknown codec %d", ErrCorrupt, h.codec)
	case h.keyLen == 0 || h.keyLen > MaxKeyLen:
		return fmt.Errorf("%w: key length %d", ErrCorrupt, h.keyLen)
	case h.ctLen > MaxContentTypeLen:
		return fmt.Errorf("%w: content type length %d", ErrCorrupt, h.ctLen)
	case h.payloadLen > maxRecordPayload || h.rawLen > maxRecordPayload:
		return fmt.Errorf("%w: payload length %d/%d", ErrCorrupt, h.payloadLen, h.rawLen)
	case h.codec == codecNone && h.rawLen != h.payloadLen:
		return fmt.Errorf("%w: raw length %d != stored %d without codec", ErrCorrupt, h.rawLen, h.payloadLen)
	case h.flags&flagTombstone != 0 && h.payloadLen != 0:
		return fmt.Errorf("%w: tombstone with payload", ErrCorrupt)
	case h.extLen > 0 && h.flags&(flagTombstone|flagChunk) != 0:
		return fmt.Errorf("%w: %s record with an extension block", ErrCorrupt, h.kind())
	case h.flags&flagManifest != 0 && h.codec != codecNone:
		return fmt.Errorf("%w: compressed manifest", ErrCorrupt)
	}
	return nil
}

// decodeRecord decodes the record at the start of b, verifying both
// checksums. It returns headerZero/headerBad states like parseHeader, and
// headerBad when b is too short for the record the header announces.
func decodeRecord(b []byte) (record, headerState, error) {
	h, st, err := parseHeader(b)
	if err != nil {
		return record{}, st, err
	}
	n := h.recordLen()
	if len(b) < n {
		return record{}, headerBad, fmt.Errorf("%w: record of %d bytes truncated to %d", ErrCorrupt, n, len(b))
	}
	body := b[recordHeaderLen : n-recordTrailerLen]
	r := record{recordHeader: h}
	var got uint32
	if h.codec == codecNone && h.payloadLen >= onePassMin {
		at := h.keyLen + h.attrLen()
		r.payloadCRC, r.hasPayloadCRC = crc32c(body[at:]), true
		got = crc32cCombine(crc32c(body[:at]), r.payloadCRC, int64(h.payloadLen))
	} else {
		got = crc32c(body)
	}
	if want := binary.LittleEndian.Uint32(b[n-recordTrailerLen:]); got != want {
		return record{}, headerBad, fmt.Errorf("%w: body checksum %#08x, want %#08x", ErrCorrupt, got, want)
	}
	r.key = body[:h.keyLen]
	attr := body[h.keyLen : h.keyLen+h.attrLen()]
	r.payload = body[h.keyLen+h.attrLen():]
	if h.extLen == 0 {
		r.contentType = attr
		return r, headerValid, nil
	}
	ctLen := int(attr[0])
	if 1+ctLen+minExtLen > len(attr) {
		return record{}, headerBad, fmt.Errorf("%w: content type of %d bytes in an attribute region of %d", ErrCorrupt, ctLen, len(attr))
	}
	r.ctLen, r.extLen = ctLen, len(attr)-1-ctLen
	r.contentType = attr[1 : 1+ctLen]
	r.ext = attr[1+ctLen:]
	return r, headerValid, nil
}

// maxKeyRepairWork bounds the bytes repairKeyBit checksums.
const maxKeyRepairWork = 64 << 20

// repairKeyBit looks for a single flipped bit inside the key of record b,
// whose header is valid but whose body checksum fails: the key is covered
// by the body checksum only, so a flip there would make the record name
// another key. It returns the key with that bit restored, or ok false when
// no single flip in the key explains the checksum (the damage is elsewhere
// or wider) or the record is too large to try. CRC32C tells single-bit
// errors apart at these lengths, so a match is the flip.
func repairKeyBit(b []byte, h recordHeader) (key string, ok bool) {
	n := h.recordLen()
	if len(b) < n || 8*h.keyLen*(n-recordOverhead) > maxKeyRepairWork {
		return "", false
	}
	body := b[recordHeaderLen : n-recordTrailerLen]
	want := binary.LittleEndian.Uint32(b[n-recordTrailerLen:])
	k := slices.Clone(body[:h.keyLen])
	rest := body[h.keyLen:]
	for i := range 8 * len(k) {
		k[i/8] ^= 1 << (i % 8)
		if crc32.Update(crc32c(k), castagnoli, rest) == want {
			return string(k), true
		}
		k[i/8] ^= 1 << (i % 8)
	}
	return "", false
}

// content returns the raw payload (aliasing the record's buffer when not
// compressed), verified against contentCRC (except for manifests, whose
// contentCRC describes the whole blob).
func (r *record) content() ([]byte, error) { return r.appendContent(nil, true) }

// appendContent appends the verified raw payload to dst. With alias set and
// no codec it may return the payload itself instead of copying.
func (r *record) appendContent(dst []byte, alias bool) ([]byte, error) {
	start := len(dst)
	switch {
	case r.codec == codecS2:
		n, err := s2.DecodedLen(r.payload)
		if err != nil || n != r.rawLen {
			return nil, fmt.Errorf("%w: s2 length %d (%v), want %d", ErrCorrupt, n, err, r.rawLen)
		}
		dst = slices.Grow(dst, n)
		out, err := s2.Decode(dst[start:start+n], r.payload)
		if err != nil || len(out) != n {
			return nil, fmt.Errorf("%w: s2: %v", ErrCorrupt, err)
		}
		dst = dst[:start+n]
	case alias && dst == nil:
		dst = r.payload
	default:
		dst = append(dst, r.payload...)
	}
	raw := dst[start:]
	if len(raw) != r.rawLen {
		return nil, fmt.Errorf("%w: raw length %d, want %d", ErrCorrupt, len(raw), r.rawLen)
	}
	if r.flags&flagManifest == 0 {
		got := r.payloadCRC
		if !r.hasPayloadCRC || r.codec != codecNone {
			got = crc32c(raw)
		}
		if got != r.contentCRC {
			return nil, fmt.Errorf("%w: content checksum %#08x, want %#08x", ErrCorrupt, got, r.contentCRC)
		}
	}
	return dst, nil
}

// compressMinSaving: a compressed payload is kept only when it saves at
// least 1/8 (12.5%) of the raw size.
const compressMinSaving = 8

// compressProbe is how much of a large payload is compressed first to
// decide whether the rest is worth the CPU.
const compressProbe = 64 << 10

// compressible reports whether the first probe bytes of raw compress by
// 12.5%. scratch needs s2.MaxEncodedLen(probe) bytes.
func compressible(scratch, raw []byte, probe int) bool {
	if len(raw) <= probe {
		return true
	}
	enc := s2.Encode(scratch, raw[:probe])
	return len(enc) <= probe-probe/compressMinSaving
}

// compressPayload returns the S2 encoding of raw in dst's storage when it
// saves at least 12.5%, else ok=false. dst needs s2.MaxEncodedLen(len(raw)).
func compressPayload(dst, raw []byte) (enc []byte, ok bool) {
	if len(raw) < 64 {
		return nil, false
	}
	enc = s2.Encode(dst, raw)
	if len(enc) > len(raw)-len(raw)/compressMinSaving || len(dst) == 0 || &enc[0] != &dst[0] {
		return nil, false
	}
	return enc, true
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func alignUp(n int64, a int64) int64   { return (n + a - 1) / a * a }
func alignDown(n int64, a int64) int64 { return n / a * a }
