package blockstore

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestOnePassChecksums: a large uncompressed payload is hashed once, and
// still both checksums hold: a flipped payload bit fails the body
// checksum, a content CRC that does not match the payload fails content().
func TestOnePassChecksums(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{onePassMin - 1, onePassMin, 300 << 10} {
		payload := randBytes(r, n)
		h := recordHeader{rawLen: n, contentCRC: crc32c(payload), version: 9}
		good := encodeRecord(nil, h, []byte("key"), []byte("text/plain"), payload)
		rec, _, err := decodeRecord(good)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if rec.hasPayloadCRC != (n >= onePassMin) {
			t.Fatalf("%d bytes: one pass = %v", n, rec.hasPayloadCRC)
		}
		if got, err := rec.content(); err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%d bytes: content %v", n, err)
		}
		flipped := bytes.Clone(good)
		flipped[recordHeaderLen+3+10+n/2] ^= 1
		if _, _, err := decodeRecord(flipped); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%d bytes: a flipped payload bit passed: %v", n, err)
		}
		h.contentCRC ^= 1 // header and body checksums are right, the content CRC is not
		wrong := encodeRecord(nil, h, []byte("key"), []byte("text/plain"), payload)
		rec, _, err = decodeRecord(wrong)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if _, err := rec.content(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%d bytes: a wrong content CRC passed: %v", n, err)
		}
	}
}
