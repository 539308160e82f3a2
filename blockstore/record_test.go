package blockstore

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

func TestRecordRoundTrip(t *testing.T) {
	cases := []struct {
		name    string
		h       recordHeader
		key, ct string
		payload []byte
	}{
		{"blob", recordHeader{version: 7, modTime: 123}, "k", "text/plain", []byte("hello")},
		{"empty payload", recordHeader{version: 1}, "k", "", nil},
		{"tombstone", recordHeader{flags: flagTombstone, version: 9}, "gone", "", nil},
		{"chunk", recordHeader{flags: flagChunk, chunkIndex: 3, version: 2}, "big", "", bytes.Repeat([]byte{1}, 5000)},
		{"manifest", recordHeader{flags: flagManifest, contentCRC: 42, version: 2}, "big", "a/b", []byte{1, 2, 3}},
		{"max key", recordHeader{version: 1}, string(bytes.Repeat([]byte("x"), MaxKeyLen)), "", []byte("v")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.h
			h.rawLen = len(c.payload)
			if h.flags&flagManifest == 0 {
				h.contentCRC = crc32c(c.payload)
			}
			b := encodeRecord(nil, h, []byte(c.key), []byte(c.ct), c.payload)
			if len(b) != recordOverhead+len(c.key)+len(c.ct)+len(c.payload) {
				t.Fatalf("length %d", len(b))
			}
			rec, st, err := decodeRecord(append(b, 0, 0, 0)) // trailing bytes ignored
			if err != nil || st != headerValid {
				t.Fatalf("decode: %v (%d)", err, st)
			}
			if string(rec.key) != c.key || string(rec.contentType) != c.ct || !bytes.Equal(rec.payload, c.payload) ||
				rec.version != h.version || rec.flags != h.flags || rec.chunkIndex != h.chunkIndex {
				t.Fatalf("decoded %+v", rec.recordHeader)
			}
			got, err := rec.content()
			if err != nil || !bytes.Equal(got, c.payload) {
				t.Fatalf("content: %v", err)
			}
			// Every single-bit flip is caught (header or body checksum).
			for i := 0; i < len(b)*8; i += 7 {
				bad := bytes.Clone(b)
				bad[i/8] ^= 1 << (i % 8)
				if _, st, err := decodeRecord(bad); err == nil || st == headerValid || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("bit %d flipped, decode accepted it", i)
				}
			}
			// Every truncation is caught.
			for n := 0; n < len(b); n += 1 + len(b)/50 {
				if _, _, err := decodeRecord(b[:n]); err == nil {
					t.Fatalf("truncated to %d accepted", n)
				}
			}
		})
	}
}

func TestHeaderStates(t *testing.T) {
	if _, st, _ := parseHeader(make([]byte, recordHeaderLen)); st != headerZero {
		t.Fatalf("zeros: state %d", st)
	}
	junk := bytes.Repeat([]byte{0xab}, recordHeaderLen)
	if _, st, _ := parseHeader(junk); st != headerBad {
		t.Fatalf("junk: state %d", st)
	}
}

func TestCompressionThreshold(t *testing.T) {
	compressible := bytes.Repeat([]byte("abcdefgh"), 4096)
	if _, ok := compressPayload(make([]byte, 2*len(compressible)), compressible); !ok {
		t.Fatal("repetitive data not compressed")
	}
	random := randBytes(newRand(5), 1<<20)
	if _, ok := compressPayload(make([]byte, 2*len(random)), random); ok {
		t.Fatal("random data kept compressed")
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := manifest{chunkSize: 1000, totalSize: 2500, chunks: []chunkRef{
		{loc: location{1, 0, 1100}, crc: 1}, {loc: location{1, 4096, 1100}, crc: 2}, {loc: location{2, 1 << 40, 600}, crc: 3},
	}}
	b := m.encode(nil)
	if len(b) > manifestLen(3) {
		t.Fatalf("encoded %d bytes > bound %d", len(b), manifestLen(3))
	}
	got, err := decodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.chunkSize != m.chunkSize || got.totalSize != m.totalSize || len(got.chunks) != 3 || got.chunks[2] != m.chunks[2] {
		t.Fatalf("decoded %+v", got)
	}
	bad := []manifest{
		{chunkSize: 1000, totalSize: 2500, chunks: m.chunks[:2]},                                 // too few chunks
		{chunkSize: 0, totalSize: 0, chunks: nil},                                                // zero chunk size
		{chunkSize: 1000, totalSize: 500, chunks: []chunkRef{{loc: location{1, 0, 10}, crc: 0}}}, // record shorter than overhead
	}
	for i, m := range bad {
		if _, err := decodeManifest(m.encode(nil)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bad manifest %d accepted: %v", i, err)
		}
	}
	if _, err := decodeManifest(append(b, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, e := range []indexEntry{
		{loc: location{3, 1 << 33, 4170}, size: 4096, version: 1700000000000 << 16, modTime: 1700000000123000000, checksum: 0xdeadbeef, chunkSize: 8 << 20, contentType: "image/jpeg"},
		{flags: entryTombstone, version: 5, modTime: -1000000},
		{flags: entryChunked, loc: location{1, 0, 300}, size: 5 << 30, version: 9, chunkSize: 8 << 20},
	} {
		got, err := decodeEntry(e.encode(nil))
		if err != nil || got != e {
			t.Fatalf("round trip %+v: got %+v, %v", e, got, err)
		}
	}
}

func TestValidateKey(t *testing.T) {
	for _, c := range []struct {
		key string
		ok  bool
	}{
		{"a", true}, {"photos/2024/ünïcødé.jpg", true}, {"with space", true},
		{"", false}, {"tab\there", false}, {"nul\x00", false}, {"del\x7f", false}, {"c1\u0085", false},
		{"\xc3", false}, {string(bytes.Repeat([]byte("a"), 1024)), true}, {string(bytes.Repeat([]byte("a"), 1025)), false},
	} {
		err := ValidateKey(c.key)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalidKey)) {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", c.key, err, c.ok)
		}
	}
}

func TestHLC(t *testing.T) {
	c := hlc{now: func() time.Time { return time.UnixMilli(1000) }}
	a := c.next()
	b := c.next()
	if b <= a || a != 1000<<16 {
		t.Fatalf("stamps %d %d", a, b)
	}
	c.observe(5000 << 16)
	if n := c.next(); n <= 5000<<16 {
		t.Fatalf("after observe: %d", n)
	}
}

// Fuzz targets: decoders must never panic, and whatever they accept must
// re-encode to the same bytes.

func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(nil, recordHeader{version: 1, rawLen: 3, contentCRC: crc32c([]byte("abc"))}, []byte("k"), []byte("t/p"), []byte("abc")))
	f.Add(encodeRecord(nil, recordHeader{flags: flagTombstone, version: 2}, []byte("key"), nil, nil))
	f.Add(make([]byte, recordHeaderLen))
	f.Add([]byte("SRB1"))
	f.Add(encodeRecordExt(nil, recordHeader{version: 3, rawLen: 2, contentCRC: crc32c([]byte("hi"))}, []byte("k"), []byte("t/p"),
		appendExt(nil, map[string]string{"X-Amz-Meta-A": "b"}, make([]byte, 16)), []byte("hi")))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, st, err := decodeRecord(b)
		if err != nil {
			if st == headerValid {
				t.Fatal("error with valid state")
			}
			return
		}
		re := encodeRecordExt(nil, rec.recordHeader, rec.key, rec.contentType, rec.ext, rec.payload)
		if !bytes.Equal(re, b[:len(re)]) {
			t.Fatal("accepted record does not re-encode to itself")
		}
		rec.content() // must not panic
	})
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add((&manifest{chunkSize: 1000, totalSize: 1500, chunks: []chunkRef{{loc: location{1, 0, 1100}, crc: 7}, {loc: location{1, 8192, 600}, crc: 8}}}).encode(nil))
	f.Add([]byte{1, 0, 0, 0})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	composed := manifest{chunkSize: 1000, totalSize: 150, parts: []partRef{{key: "p/1", version: 9}, {key: "p/2", version: 7, kind: flagChunk}}, chunks: []chunkRef{
		{loc: location{1, 0, 200}, crc: 1, part: 0, raw: 100},
		{loc: location{2, 4096, 120}, crc: 2, part: 1, raw: 30, start: 100},
		{loc: location{2, 8192, 120}, crc: 3, part: 1, raw: 20, start: 130, index: 1},
	}}
	f.Add(composed.encodeComposed(nil))
	// Format 3: sub-block CRCs of the first chunk (two full sub-blocks and
	// a short one), none for the second (stored compressed).
	raw := bytes.Repeat([]byte("sub-block "), 1000) // 10000 bytes
	subs, crc := subBlockCRCs(nil, raw[:9000], 4096)
	withSubs := manifest{chunkSize: 9000, totalSize: 10000, subSize: 4096}
	withSubs.addChunk(location{1, 0, 9100}, crc, subs)
	withSubs.addChunk(location{1, 12288, 600}, crc32c(raw[9000:]), nil)
	f.Add(withSubs.encode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeManifest(b)
		if err != nil {
			return
		}
		// Varints may be non-canonical; the decoded value must survive a
		// round trip.
		m2, err := decodeManifest(m.encodeAny(nil))
		if err != nil || m2.chunkSize != m.chunkSize || m2.totalSize != m.totalSize || !slices.Equal(m2.chunks, m.chunks) || !slices.Equal(m2.parts, m.parts) ||
			m2.subSize != m.subSize || !slices.Equal(m2.subs, m.subs) {
			t.Fatalf("re-encoded manifest differs: %v", err)
		}
	})
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add((&indexEntry{loc: location{1, 2, 3}, size: 4, version: 5, contentType: "x"}).encode(nil))
	f.Add([]byte{1, 0})
	f.Add((&indexEntry{loc: location{1, 2, 3}, size: 4, version: 5, contentType: "x", ext: string(appendExt(nil, map[string]string{"A": "b"}, nil))}).encode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		if _, err := decodeEntry(e.encode(nil)); err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
	})
}

// FuzzRepairKeyBit: a single flipped bit anywhere in a record's body or
// trailer is found only when it is in the key, and then undone exactly.
func FuzzRepairKeyBit(f *testing.F) {
	f.Add([]byte("k"), []byte("payload"), uint16(0))
	f.Add([]byte("some/longer/key"), []byte{}, uint16(100))
	f.Add([]byte("key"), bytes.Repeat([]byte{0}, 300), uint16(2000))
	f.Fuzz(func(t *testing.T, key, payload []byte, bit uint16) {
		if len(key) == 0 || len(key) > MaxKeyLen || 8*len(key)*(len(key)+len(payload)) > maxKeyRepairWork {
			return // beyond what repairKeyBit tries
		}
		h := recordHeader{rawLen: len(payload), contentCRC: crc32c(payload), version: 1}
		rec := encodeRecord(nil, h, key, nil, payload)
		h, _, err := parseHeader(rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := repairKeyBit(rec, h); ok {
			t.Fatal("repaired a record with nothing wrong")
		}
		i := recordHeaderLen*8 + int(bit)%((len(rec)-recordHeaderLen)*8)
		rec[i/8] ^= 1 << (i % 8)
		got, ok := repairKeyBit(rec, h)
		inKey := i/8 < recordHeaderLen+len(key)
		if ok != inKey || (ok && got != string(key)) {
			t.Fatalf("flip at body bit %d (in key: %v): repaired %v to %q", i-recordHeaderLen*8, inKey, ok, got)
		}
	})
}

func TestComposedManifestRoundTrip(t *testing.T) {
	m := manifest{chunkSize: 1000, totalSize: 150, parts: []partRef{{key: "p/1", version: 9}, {key: "p/2", version: 7, kind: flagChunk}}, chunks: []chunkRef{
		{loc: location{1, 0, 200}, crc: 1, part: 0, raw: 100},
		{loc: location{2, 4096, 120}, crc: 2, part: 1, raw: 30, start: 100},
		{loc: location{2, 8192, 120}, crc: 3, part: 1, raw: 20, start: 130, index: 1},
	}}
	got, err := decodeManifest(m.encodeComposed(nil))
	if err != nil || !got.composed() || !slices.Equal(got.chunks, m.chunks) || !slices.Equal(got.parts, m.parts) || got.totalSize != 150 {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	if i := got.find(129); i != 1 {
		t.Fatalf("find(129) = %d", i)
	}
	if i := got.find(150); i != 3 {
		t.Fatalf("find(150) = %d", i)
	}
	bad := m
	bad.totalSize = 151 // records hold 150
	if _, err := decodeManifest(bad.encodeComposed(nil)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a total the records do not add up to: %v", err)
	}
	bad = m
	bad.chunks = slices.Clone(m.chunks)
	bad.chunks[0].index = 3 // a blob record has index 0
	if _, err := decodeManifest(bad.encodeComposed(nil)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a blob record with a chunk index: %v", err)
	}
}

// TestFinishRecordPayloadCRC: a record finished from a known payload CRC
// is byte for byte the one finishRecord writes, for every shape of
// attribute region (no content type, a content type, an extension block)
// and payload (empty, small, large).
func TestFinishRecordPayloadCRC(t *testing.T) {
	for _, tc := range []struct {
		name, key, ct string
		ext           []byte
		payload       int
	}{
		{"empty payload", "k", "", nil, 0},
		{"small", "key/1", "", nil, 7},
		{"content type", "key/2", "image/png", nil, 1000},
		{"extension block", "key/3", "text/plain", appendExt(nil, map[string]string{"Cache-Control": "no-cache"}, nil), 4096},
		{"large", "key/4", "", nil, 1<<20 + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkFinishRecordPayloadCRC(t, tc.key, tc.ct, tc.ext, bytes.Repeat([]byte{0xa5, 0x01, 0x7f}, tc.payload/3+1)[:tc.payload])
		})
	}
}

func FuzzFinishRecordPayloadCRC(f *testing.F) {
	f.Add("k", "", []byte("payload"), false)
	f.Add("key", "text/plain", []byte{}, true)
	f.Fuzz(func(t *testing.T, key, ct string, payload []byte, withExt bool) {
		if len(key) == 0 || len(key) > MaxKeyLen || len(ct) > 255 {
			t.Skip()
		}
		var ext []byte
		if withExt {
			ext = appendExt(nil, map[string]string{"X-Amz-Meta-A": "b"}, nil)
		}
		checkFinishRecordPayloadCRC(t, key, ct, ext, payload)
	})
}

func checkFinishRecordPayloadCRC(t *testing.T, key, ct string, ext, payload []byte) {
	t.Helper()
	h := recordHeader{rawLen: len(payload), payloadLen: len(payload), contentCRC: crc32c(payload), version: 9, modTime: 1}
	room := payloadOffset(key, ct, len(ext))
	a := make([]byte, room+len(payload)+recordTrailerLen)
	b := make([]byte, len(a))
	copy(a[room:], payload)
	copy(b[room:], payload)
	want := finishRecord(a, h, key, ct, ext)
	got := finishRecordPayloadCRC(b, h, key, ct, ext, h.contentCRC)
	if !bytes.Equal(got, want) {
		t.Fatalf("record from the payload CRC differs from finishRecord's (%d and %d bytes)", len(got), len(want))
	}
}

// BenchmarkFinishRecord: the body checksum of a 1 MiB uncompressed record
// by a second CRC pass over the payload (finishRecord) and combined from
// the content CRC the Put already has (finishRecordPayloadCRC).
func BenchmarkFinishRecord(b *testing.B) {
	const size = 1 << 20
	key, ct := "bench/key", "application/octet-stream"
	room := payloadOffset(key, ct, 0)
	buf := make([]byte, room+size+recordTrailerLen)
	h := recordHeader{rawLen: size, payloadLen: size, contentCRC: crc32c(buf[room : room+size])}
	b.Run("rescan", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			finishRecord(buf, h, key, ct, nil)
		}
	})
	b.Run("payload-crc", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			finishRecordPayloadCRC(buf, h, key, ct, nil, h.contentCRC)
		}
	})
}
