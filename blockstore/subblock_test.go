package blockstore

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSubBlockCRCs(t *testing.T) {
	raw := randBytes(rand.New(rand.NewPCG(1, 1)), 3*subBlockSize+777)
	subs, whole := subBlockCRCs(nil, raw, subBlockSize)
	if whole != crc32c(raw) {
		t.Fatalf("combined CRC %#x, want %#x", whole, crc32c(raw))
	}
	if len(subs) != 4 {
		t.Fatalf("%d sub-blocks, want 4", len(subs))
	}
	for i, sc := range subs {
		part := raw[i*subBlockSize : min((i+1)*subBlockSize, len(raw))]
		if sc != crc32.Checksum(part, castagnoli) {
			t.Fatalf("sub-block %d CRC wrong", i)
		}
	}
	if subs, whole := subBlockCRCs(nil, raw, 0); subs != nil || whole != crc32c(raw) {
		t.Fatal("no sub-blocks: want only the whole CRC")
	}
	if subBlockSizeFor(subBlockSize) != 0 || subBlockSizeFor(8<<20) != subBlockSize {
		t.Fatal("subBlockSizeFor")
	}
}

// TestManifestSubBlocks: format 3 round trips, and the decoder refuses
// sub-block CRCs that do not combine to the chunk's CRC, bad sub-block
// sizes and truncations.
func TestManifestSubBlocks(t *testing.T) {
	const chunk, sub = 64 << 10, 16 << 10
	raw := randBytes(rand.New(rand.NewPCG(2, 2)), chunk+5000)
	good := func() manifest {
		m := manifest{chunkSize: chunk, totalSize: int64(len(raw)), subSize: sub}
		subs, crc := subBlockCRCs(nil, raw[:chunk], sub)
		m.addChunk(location{1, 0, chunk + 100}, crc, subs)
		subs, crc = subBlockCRCs(nil, raw[chunk:], sub)
		m.addChunk(location{1, 1 << 20, 5100}, crc, subs)
		return m
	}
	m := good()
	b := m.encode(nil)
	if b[0] != manifestFormatSubs || len(b) > m.encodedLen() {
		t.Fatalf("format %d, %d bytes (bound %d)", b[0], len(b), m.encodedLen())
	}
	got, err := decodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.chunks, m.chunks) || !slices.Equal(got.subs, m.subs) || got.subSize != sub {
		t.Fatalf("decoded %+v", got)
	}
	if len(got.chunkSubs(0)) != 4 || len(got.chunkSubs(1)) != 1 {
		t.Fatalf("chunk sub-blocks %d, %d", len(got.chunkSubs(0)), len(got.chunkSubs(1)))
	}
	cases := []struct {
		name string
		edit func(m *manifest)
	}{
		{"a sub-block CRC changed", func(m *manifest) { m.subs[2] ^= 1 }},
		{"a chunk CRC changed", func(m *manifest) { m.chunks[1].crc ^= 1 }},
		{"sub-block size not a power of two", func(m *manifest) { m.subSize = 12 << 10 }},
		{"sub-block size below 4 KiB", func(m *manifest) { m.subSize = 2 << 10 }},
		{"sub-block size of a whole chunk", func(m *manifest) { m.subSize = chunk }},
		{"too few sub-block CRCs", func(m *manifest) {
			m.subs = m.subs[:4]
			m.chunks[1].subN = 0
			m.chunks[1].subFirst = 0
			m.chunks[0].subN = 3
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.edit(&m)
			if _, err := decodeManifest(m.encode(nil)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("accepted: %v", err)
			}
		})
	}
	for n := 1; n < len(b); n++ {
		if _, err := decodeManifest(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	if _, err := decodeManifest(append(bytes.Clone(b), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatal("trailing byte accepted")
	}
	// A chunk without sub-block CRCs (stored compressed) in a format 3 manifest.
	m = good()
	m.chunks[1].subN = 0
	m.subs = m.subs[:4]
	if got, err := decodeManifest(m.encode(nil)); err != nil || got.chunkSubs(1) != nil {
		t.Fatalf("chunk without sub-blocks: %v", err)
	}
}
