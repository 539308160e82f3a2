package blockstore

import (
	"encoding/binary"
	"fmt"
	"maps"
	"net/textproto"
	"slices"
	"unicode"
	"unicode/utf8"
)

// md5Len is the length of an MD5 digest.
const md5Len = 16

// MaxMetaPairs bounds the number of metadata names of a blob.
const MaxMetaPairs = 128

// ValidateMeta reports whether meta may be stored with a blob: at most
// MaxMetaPairs names, every name a canonical header name
// (textproto.CanonicalMIMEHeaderKey of itself, made of HTTP token
// characters), every value valid UTF-8 without control characters, names
// and values together at most MaxMetaBytes. The error wraps
// ErrInvalidArgument. A nil or empty map is valid (no metadata).
func ValidateMeta(meta map[string]string) error {
	if len(meta) > MaxMetaPairs {
		return fmt.Errorf("%w: %d metadata names, limit %d", ErrInvalidArgument, len(meta), MaxMetaPairs)
	}
	total := 0
	for name, value := range meta {
		if name == "" {
			return fmt.Errorf("%w: empty metadata name", ErrInvalidArgument)
		}
		for i := 0; i < len(name); i++ {
			if !isTokenByte(name[i]) {
				return fmt.Errorf("%w: metadata name %q has byte %#x at %d", ErrInvalidArgument, name, name[i], i)
			}
		}
		if textproto.CanonicalMIMEHeaderKey(name) != name {
			return fmt.Errorf("%w: metadata name %q is not canonical (%q)", ErrInvalidArgument, name, textproto.CanonicalMIMEHeaderKey(name))
		}
		if !utf8.ValidString(value) {
			return fmt.Errorf("%w: metadata %q: value is not UTF-8", ErrInvalidArgument, name)
		}
		for _, r := range value {
			if unicode.IsControl(r) {
				return fmt.Errorf("%w: metadata %q: control character %U in value", ErrInvalidArgument, name, r)
			}
		}
		total += len(name) + len(value)
		if total > MaxMetaBytes {
			return fmt.Errorf("%w: metadata is more than %d bytes", ErrInvalidArgument, MaxMetaBytes)
		}
	}
	return nil
}

// isTokenByte is RFC 9110's tchar.
func isTokenByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// cloneMeta copies meta; nil and empty both become nil, so a blob without
// metadata has Info.Meta == nil wherever it came from.
func cloneMeta(meta map[string]string) map[string]string {
	if len(meta) == 0 {
		return nil
	}
	return maps.Clone(meta)
}

// CloneMeta is cloneMeta for the packages above (tiering, node): a copy
// that a caller may keep while the original changes; nil for no metadata.
func CloneMeta(meta map[string]string) map[string]string { return cloneMeta(meta) }

// The extension block that carries a blob's metadata and MD5 in its
// record (a single-record blob's record or a chunked blob's manifest):
//
//	flags   uint8    bit 0: md5 present
//	md5     [16]byte when flagged
//	count   uint16   metadata pairs, in name order
//	pairs   count x (nameLen uint16, name, valueLen uint16, value)
//
// All integers little-endian. The block is covered by the record's payload
// checksum like the rest of the payload.
const (
	extHasMD5     = 1 << 0
	extKnownFlags = extHasMD5
)

// minExtLen is the shortest block (no md5, no pairs); maxExtLen the
// longest: an md5, MaxMetaPairs pairs and MaxMetaBytes of names and values.
const (
	minExtLen = 1 + 2
	maxExtLen = minExtLen + md5Len + MaxMetaPairs*4 + MaxMetaBytes
)

// extLen is the encoded length of the block for meta and md5.
func extLen(meta map[string]string, md5 []byte) int {
	n := 1 + 2
	if md5 != nil {
		n += md5Len
	}
	for k, v := range meta {
		n += 4 + len(k) + len(v)
	}
	return n
}

// appendExt appends the block; meta must have passed ValidateMeta and md5
// be nil or 16 bytes.
func appendExt(b []byte, meta map[string]string, md5 []byte) []byte {
	var flags byte
	if md5 != nil {
		flags |= extHasMD5
	}
	b = append(b, flags)
	if md5 != nil {
		b = append(b, md5...)
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(meta)))
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(meta[k])))
		b = append(b, meta[k]...)
	}
	return b
}

// decodeExt parses a block from the front of b and returns what follows it.
// Every failure wraps ErrCorrupt: the block was written by appendExt and
// its record's checksum passed, so a bad block is damage or a bug.
func decodeExt(b []byte) (meta map[string]string, md5 []byte, rest []byte, err error) {
	if len(b) < 3 {
		return nil, nil, nil, fmt.Errorf("%w: metadata block of %d bytes", ErrCorrupt, len(b))
	}
	flags := b[0]
	b = b[1:]
	if flags&^extKnownFlags != 0 {
		return nil, nil, nil, fmt.Errorf("%w: metadata block flags %#x", ErrCorrupt, flags)
	}
	if flags&extHasMD5 != 0 {
		if len(b) < md5Len+2 {
			return nil, nil, nil, fmt.Errorf("%w: metadata block cut in its md5", ErrCorrupt)
		}
		md5 = slices.Clone(b[:md5Len])
		b = b[md5Len:]
	}
	if len(b) < 2 {
		return nil, nil, nil, fmt.Errorf("%w: metadata block cut in its count", ErrCorrupt)
	}
	count := int(binary.LittleEndian.Uint16(b))
	b = b[2:]
	if count > MaxMetaPairs {
		return nil, nil, nil, fmt.Errorf("%w: metadata block of %d pairs", ErrCorrupt, count)
	}
	total := 0
	prev := ""
	for i := 0; i < count; i++ {
		var name, value string
		for j, dst := range []*string{&name, &value} {
			if len(b) < 2 {
				return nil, nil, nil, fmt.Errorf("%w: metadata pair %d cut", ErrCorrupt, i)
			}
			n := int(binary.LittleEndian.Uint16(b))
			if len(b) < 2+n {
				return nil, nil, nil, fmt.Errorf("%w: metadata pair %d (%d) cut", ErrCorrupt, i, j)
			}
			*dst = string(b[2 : 2+n])
			b = b[2+n:]
		}
		if i > 0 && name <= prev {
			return nil, nil, nil, fmt.Errorf("%w: metadata names out of order at %d", ErrCorrupt, i)
		}
		prev = name
		total += len(name) + len(value)
		if meta == nil {
			meta = make(map[string]string, count)
		}
		meta[name] = value
	}
	if total > MaxMetaBytes {
		return nil, nil, nil, fmt.Errorf("%w: metadata block holds %d bytes", ErrCorrupt, total)
	}
	if err := ValidateMeta(meta); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: stored metadata: %v", ErrCorrupt, err)
	}
	return meta, md5, b, nil
}
