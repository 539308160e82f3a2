package tiering

import (
	"bytes"
	"errors"
	"strata/internal/mix"
	"testing"
)

func TestItemRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		key     string
		payload []byte
	}{
		{"k", nil},
		{"photos/2024/a.jpg", []byte("hello")},
		{string(make([]byte, 1024)), randBytes(1, 70000)},
	} {
		buf := make([]byte, encodedItemLen(len(tc.key), len(tc.payload))+100)
		n := encodeItem(buf, tc.key, 42, 7, 3, tc.payload)
		it, err := decodeItem(buf)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if it.n != n || it.key != tc.key || it.version != 42 || it.sum != 7 || it.seg != 3 || !bytes.Equal(it.payload, tc.payload) {
			t.Fatalf("round trip mismatch: %+v", it)
		}
		for _, flip := range []int{0, 5, 20, 29, n - 1} {
			bad := bytes.Clone(buf)
			bad[flip] ^= 0x10
			if _, err := decodeItem(bad); !errors.Is(err, errBadItem) {
				t.Fatalf("flipped byte %d: err %v, want errBadItem", flip, err)
			}
		}
		if _, err := decodeItem(buf[:n-1]); !errors.Is(err, errBadItem) {
			t.Fatalf("truncated: err %v", err)
		}
	}
}

func FuzzDecodeItem(f *testing.F) {
	buf := make([]byte, 200)
	n := encodeItem(buf, "key", 1, 2, 3, []byte("payload"))
	f.Add(buf[:n])
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := decodeItem(b)
		if err != nil {
			return
		}
		again := make([]byte, it.n)
		encodeItem(again, it.key, it.version, it.sum, it.seg, it.payload)
		if !bytes.Equal(again, b[:it.n]) {
			t.Fatalf("decoded item does not re-encode to the same bytes")
		}
	})
}

func snapshotSeed() []byte {
	c := newSSDCore(4, 256<<10)
	c.openFill()
	for i := range 20 {
		c.place(mix.Mix64(uint64(i)), 1024)
	}
	r, _ := c.sealFill()
	c.markSealed(r)
	return encodeSnapshot(c)
}

func TestSnapshotRoundTrip(t *testing.T) {
	b := snapshotSeed()
	c, err := decodeSnapshot(b, 4, 256<<10)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if c.liveItems != 20 || len(c.fifo) != 1 || len(c.free) != 3 {
		t.Fatalf("decoded %d items, fifo %v, free %v", c.liveItems, c.fifo, c.free)
	}
	for i := range 20 {
		if !c.contains(mix.Mix64(uint64(i))) {
			t.Fatalf("item %d missing", i)
		}
	}
	for _, tc := range []struct {
		name       string
		regions    int
		regionSize int64
		mutate     func([]byte) []byte
	}{
		{"other geometry", 8, 256 << 10, nil},
		{"other region size", 4, 512 << 10, nil},
		{"flipped bit", 4, 256 << 10, func(b []byte) []byte { b[100] ^= 1; return b }},
		{"truncated", 4, 256 << 10, func(b []byte) []byte { return b[:len(b)-5] }},
		{"empty", 4, 256 << 10, func(b []byte) []byte { return nil }},
	} {
		bb := bytes.Clone(b)
		if tc.mutate != nil {
			bb = tc.mutate(bb)
		}
		if _, err := decodeSnapshot(bb, tc.regions, tc.regionSize); !errors.Is(err, errBadSnapshot) {
			t.Errorf("%s: err %v, want errBadSnapshot", tc.name, err)
		}
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(snapshotSeed())
	f.Add([]byte("STRTSSDX"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeSnapshot(b, 4, 256<<10)
		if err != nil {
			return
		}
		// A snapshot that decodes must describe a consistent core.
		if !bytes.Equal(encodeSnapshot(c), b) {
			t.Fatalf("accepted snapshot does not re-encode identically")
		}
	})
}

func TestRegionHeaderRoundTrip(t *testing.T) {
	b := make([]byte, regionHeaderSize)
	encodeRegionHeader(b, 7, 42, 256<<10)
	if seq, err := decodeRegionHeader(b, 7, 256<<10); err != nil || seq != 42 {
		t.Fatalf("decode: %d %v", seq, err)
	}
	for _, tc := range []struct {
		name       string
		region     uint32
		regionSize int64
		mutate     func([]byte)
	}{
		{"other region", 8, 256 << 10, nil},
		{"other region size", 7, 512 << 10, nil},
		{"flipped bit", 7, 256 << 10, func(b []byte) { b[10] ^= 1 }},
		{"zeroes", 7, 256 << 10, func(b []byte) { clear(b) }},
	} {
		bb := bytes.Clone(b)
		if tc.mutate != nil {
			tc.mutate(bb)
		}
		if _, err := decodeRegionHeader(bb, tc.region, tc.regionSize); !errors.Is(err, errBadItem) {
			t.Errorf("%s: err %v, want errBadItem", tc.name, err)
		}
	}
	if _, err := decodeRegionHeader(b[:regionHeaderSize-1], 7, 256<<10); !errors.Is(err, errBadItem) {
		t.Errorf("short: err %v", err)
	}
}

func FuzzDecodeRegionHeader(f *testing.F) {
	b := make([]byte, regionHeaderSize)
	encodeRegionHeader(b, 3, 9, 256<<10)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, err := decodeRegionHeader(b, 3, 256<<10)
		if err != nil {
			return
		}
		again := make([]byte, regionHeaderSize)
		encodeRegionHeader(again, 3, seq, 256<<10)
		if !bytes.Equal(again, b[:regionHeaderSize]) {
			t.Fatalf("decoded header does not re-encode to the same bytes")
		}
	})
}

// TestSmallItemFootprint wants a block-sized object packed within one
// 128-byte unit of its encoded length at every supported region size up to
// the default (it took 5 KiB with 16 MiB regions and a 1 KiB unit), and a
// location that still addresses every unit of the largest region.
func TestSmallItemFootprint(t *testing.T) {
	for _, region := range []int64{64 << 10, 1 << 20, 16 << 20} {
		c := newSSDCore(2, region)
		n := encodedItemLen(40, 4096) // a 4 KiB object with a 40-byte key
		if fp := c.footprint(n); fp != 4224 {
			t.Errorf("region %d: 4 KiB object takes %d bytes on flash, want 4224", region, fp)
		}
		last := makeLoc(maxRegions-1, uint32(region/c.unit-1), uint32(region/c.unit))
		if last.region() != maxRegions-1 || int64(last.offUnits()) != region/c.unit-1 || int64(last.sizeUnits()) != region/c.unit {
			t.Errorf("region %d: location fields overflow: %+v", region, c.unpack(last))
		}
	}
}
