package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// The metadata a node gossips about itself, in memberlist's Node.Meta
// (at most memberlist.MetaMaxSize = 512 bytes):
//
//	offset  size  field
//	0       1     version (1)
//	1       1     flags: bit 0 draining, bit 1 leaving; others zero in version 1
//	2       8     weight, IEEE 754 float64, little endian
//	10      8     boot: random per process start, little endian
//	18      var   uvarint length, then HTTPAddr (UTF-8)
//	...     var   uvarint length, then Zone (UTF-8)
//
// Version 1 has no bytes after Zone. A later version keeps this prefix and
// appends fields, so a version-1 decoder reads the prefix of a newer
// node's metadata and ignores the rest (and the flag bits it does not
// know): a rolling upgrade never splits the cluster.
const (
	metaVersion    = 1
	metaFlagDrain  = 1 << 0
	metaFlagLeave  = 1 << 1
	metaFlagsV1    = metaFlagDrain | metaFlagLeave
	metaFixedSize  = 18
	maxHTTPAddrLen = 255
	maxZoneLen     = 128
)

// nodeMeta is the gossiped part of a Member.
type nodeMeta struct {
	HTTPAddr string
	Zone     string
	Weight   float64
	// Boot names one run of the node's process (random at New): a record
	// that a node left names the run that left, so it never removes the
	// same node restarted later.
	Boot     uint64
	Draining bool
	// Leaving is set by Leave just before memberlist's leave message:
	// memberlist reports a dead and a left node through the same event
	// (NotifyLeave) and never fills in Node.State, so this flag is what
	// tells the others the node is gone for good.
	Leaving bool
}

// validate checks what both sides of the codec promise.
func (m nodeMeta) validate() error {
	if len(m.HTTPAddr) > maxHTTPAddrLen {
		return fmt.Errorf("http address is %d bytes, at most %d", len(m.HTTPAddr), maxHTTPAddrLen)
	}
	if len(m.Zone) > maxZoneLen {
		return fmt.Errorf("zone is %d bytes, at most %d", len(m.Zone), maxZoneLen)
	}
	if !printable(m.HTTPAddr) {
		return fmt.Errorf("http address %q is not printable UTF-8", m.HTTPAddr)
	}
	if !printable(m.Zone) {
		return fmt.Errorf("zone %q is not printable UTF-8", m.Zone)
	}
	if math.IsNaN(m.Weight) || math.IsInf(m.Weight, 0) || m.Weight <= 0 {
		return fmt.Errorf("weight %v: must be finite and greater than zero", m.Weight)
	}
	return nil
}

// encodeMeta returns m in the version-1 layout.
func encodeMeta(m nodeMeta) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMeta, err)
	}
	b := make([]byte, metaFixedSize, metaFixedSize+2*binary.MaxVarintLen16+len(m.HTTPAddr)+len(m.Zone))
	b[0] = metaVersion
	if m.Draining {
		b[1] |= metaFlagDrain
	}
	if m.Leaving {
		b[1] |= metaFlagLeave
	}
	binary.LittleEndian.PutUint64(b[2:], math.Float64bits(m.Weight))
	binary.LittleEndian.PutUint64(b[10:], m.Boot)
	b = binary.AppendUvarint(b, uint64(len(m.HTTPAddr)))
	b = append(b, m.HTTPAddr...)
	b = binary.AppendUvarint(b, uint64(len(m.Zone)))
	b = append(b, m.Zone...)
	return b, nil
}

// decodeMeta parses gossiped metadata; every failure wraps ErrBadMeta.
func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if len(b) < metaFixedSize {
		return m, fmt.Errorf("%w: %d bytes, want at least %d", ErrBadMeta, len(b), metaFixedSize)
	}
	version, flags := b[0], b[1]
	if version < metaVersion {
		return m, fmt.Errorf("%w: version %d", ErrBadMeta, version)
	}
	if version == metaVersion && flags&^metaFlagsV1 != 0 {
		return m, fmt.Errorf("%w: unknown flags %#x", ErrBadMeta, flags)
	}
	m.Draining = flags&metaFlagDrain != 0
	m.Leaving = flags&metaFlagLeave != 0
	m.Weight = math.Float64frombits(binary.LittleEndian.Uint64(b[2:]))
	m.Boot = binary.LittleEndian.Uint64(b[10:])
	rest := b[metaFixedSize:]
	var err error
	if m.HTTPAddr, rest, err = readString(rest, maxHTTPAddrLen); err != nil {
		return nodeMeta{}, fmt.Errorf("%w: http address: %w", ErrBadMeta, err)
	}
	if m.Zone, rest, err = readString(rest, maxZoneLen); err != nil {
		return nodeMeta{}, fmt.Errorf("%w: zone: %w", ErrBadMeta, err)
	}
	if version == metaVersion && len(rest) != 0 {
		return nodeMeta{}, fmt.Errorf("%w: %d trailing bytes", ErrBadMeta, len(rest))
	}
	if err := m.validate(); err != nil {
		return nodeMeta{}, fmt.Errorf("%w: %w", ErrBadMeta, err)
	}
	return m, nil
}

// readString reads a uvarint length and that many bytes, at most limit.
func readString(b []byte, limit int) (string, []byte, error) {
	n, used := binary.Uvarint(b)
	if used <= 0 {
		return "", nil, errors.New("bad length")
	}
	b = b[used:]
	if n > uint64(limit) || n > uint64(len(b)) {
		return "", nil, fmt.Errorf("length %d: at most %d, %d bytes left", n, limit, len(b))
	}
	return string(b[:n]), b[n:], nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}
