package blockstore

// crc32cCombine returns the CRC32C of a followed by b, given crcA of a,
// crcB of b and b's length, without the bytes: a composed blob's checksum
// from its parts'. CRCs are polynomials over GF(2): the CRC of a||b is
// crcA shifted by 8*lenB zero bits (multiplied by x^(8*lenB) modulo the
// polynomial) xor crcB; the pre- and post-conditioning of the standard
// CRC cancel in that sum.
func crc32cCombine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	return gfMul(xPow8n(lenB), crcA) ^ crcB
}

// castagnoliReversed is the Castagnoli polynomial in the bit order of
// hash/crc32 (bit 31 is x^0).
const castagnoliReversed = 0x82f63b78

// gfMul multiplies a and b modulo the polynomial, both in reflected order.
func gfMul(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ castagnoliReversed
		} else {
			b >>= 1
		}
	}
	return p
}

// xPow8n is x^(8n) modulo the polynomial, by square and multiply.
func xPow8n(n int64) uint32 {
	result := uint32(1) << 31 // x^0
	base := uint32(1) << 23   // x^8
	for n > 0 {
		if n&1 != 0 {
			result = gfMul(result, base)
		}
		base = gfMul(base, base)
		n >>= 1
	}
	return result
}
