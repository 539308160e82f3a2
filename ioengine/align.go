package ioengine

import "unsafe"

// DefaultAlignment is the smallest alignment ioengine ever uses: one 4 KiB
// page. Callers align every direct and buffered request to at least this.
const DefaultAlignment = 4096

// AlignUp rounds n up to a multiple of align. align must be positive.
func AlignUp(n int64, align int) int64 {
	a := int64(align)
	return (n + a - 1) / a * a
}

// AlignDown rounds n down to a multiple of align. align must be positive.
func AlignDown(n int64, align int) int64 {
	a := int64(align)
	return n / a * a
}

// IsAligned reports whether p starts at an address that is a multiple of
// align. Direct I/O needs this for the buffer as well as the offset.
func IsAligned(p []byte, align int) bool {
	if len(p) == 0 {
		return true
	}
	return uintptr(unsafe.Pointer(&p[0]))%uintptr(align) == 0
}

// AlignedBytes returns a zeroed slice of length n whose first byte sits at an
// address that is a multiple of align. It over-allocates by align bytes and
// slices at the first aligned address; the GC keeps the whole backing array
// alive as long as the returned slice is referenced.
func AlignedBytes(n, align int) []byte {
	if align <= 0 {
		align = DefaultAlignment
	}
	raw := make([]byte, n+align)
	shift := 0
	if rem := int(uintptr(unsafe.Pointer(&raw[0])) % uintptr(align)); rem != 0 {
		shift = align - rem
	}
	return raw[shift : shift+n : shift+n]
}
