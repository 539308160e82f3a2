package blockstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// metaCase is a blob with metadata for the tests below.
type metaCase struct {
	name    string
	key     string
	data    []byte
	meta    map[string]string
	wantMD5 bool
}

func metaCases() []metaCase {
	r := rand.New(rand.NewPCG(3, 3))
	return []metaCase{
		{name: "empty blob, md5", key: "m/empty", data: []byte{}, wantMD5: true},
		{name: "small, meta and md5", key: "m/small", data: []byte("hello"), meta: map[string]string{"X-Amz-Meta-Color": "blue", "Content-Encoding": "gzip"}, wantMD5: true},
		{name: "compressible, meta only", key: "m/text", data: bytes.Repeat([]byte("text "), 2000), meta: map[string]string{"Cache-Control": "max-age=60", "X-Amz-Meta-Empty": ""}},
		{name: "one chunk exactly, md5", key: "m/chunk", data: randBytes(r, 64<<10), wantMD5: true},
		{name: "chunked, meta and md5", key: "m/big", data: randBytes(r, 200<<10+17), meta: map[string]string{"Content-Disposition": `attachment; filename="a b.txt"`, "X-Amz-Meta-Unicode": "välue ✓"}, wantMD5: true},
		{name: "chunked, no meta", key: "m/plain", data: randBytes(r, 130<<10)},
	}
}

func putMeta(t testing.TB, s *Store, c metaCase) Info {
	t.Helper()
	info, err := s.Put(context.Background(), c.key, bytes.NewReader(c.data), int64(len(c.data)), PutOptions{ContentType: "x/y", Meta: c.meta, WantMD5: c.wantMD5})
	if err != nil {
		t.Fatalf("%s: Put: %v", c.name, err)
	}
	return info
}

// checkMeta verifies that info carries c's metadata and MD5.
func checkMeta(t testing.TB, when string, c metaCase, info Info) {
	t.Helper()
	want := cloneMeta(c.meta)
	if !maps.Equal(info.Meta, want) || (info.Meta == nil) != (want == nil) {
		t.Errorf("%s: %s: Meta %v, want %v", when, c.name, info.Meta, want)
	}
	var wantSum []byte
	if c.wantMD5 {
		sum := md5.Sum(c.data)
		wantSum = sum[:]
	}
	if !bytes.Equal(info.MD5, wantSum) || (info.MD5 == nil) != (wantSum == nil) {
		t.Errorf("%s: %s: MD5 %x, want %x", when, c.name, info.MD5, wantSum)
	}
	if info.ContentType != "x/y" {
		t.Errorf("%s: %s: content type %q", when, c.name, info.ContentType)
	}
}

// checkAllMeta checks every case through Stat, List, Lookup and Get.
func checkAllMeta(t *testing.T, s *Store, cases []metaCase, when string) {
	t.Helper()
	ctx := context.Background()
	list, err := s.List(ctx, "m/", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]Info{}
	for _, i := range list {
		listed[i.Key] = i
	}
	for _, c := range cases {
		st, err := s.Stat(ctx, c.key)
		if err != nil {
			t.Fatalf("%s: Stat %q: %v", when, c.key, err)
		}
		checkMeta(t, when+" (Stat)", c, st)
		checkMeta(t, when+" (List)", c, listed[c.key])
		e, err := s.Lookup(ctx, c.key)
		if err != nil {
			t.Fatal(err)
		}
		checkMeta(t, when+" (Lookup)", c, e.Info)
		mustGet(t, s, c.key, c.data)
	}
}

// TestPutMetaMD5: metadata and MD5 come back from the Put, Stat, List and
// Lookup, for single-record and chunked blobs, and survive a reopen, a
// rebuild of the index from the volumes and fsck.
func TestPutMetaMD5(t *testing.T) {
	ctx := context.Background()
	opts := testOptions(t, nil)
	s := mustOpen(t, opts)
	cases := metaCases()
	for _, c := range cases {
		checkMeta(t, "Put", c, putMeta(t, s, c))
	}
	checkAllMeta(t, s, cases, "pending")
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	checkAllMeta(t, s, cases, "committed")
	// A caller's edit of a returned map does not reach the store.
	st, _ := s.Stat(ctx, "m/small")
	st.Meta["X-Amz-Meta-Color"] = "red"
	st.MD5[0] ^= 1
	checkAllMeta(t, s, cases, "after editing an Info")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if cr, err := Check(ctx, opts, CheckOptions{}); err != nil || !cr.Clean() {
		t.Fatalf("fsck: %v %+v", err, cr.Problems)
	}
	s = mustOpen(t, opts)
	checkAllMeta(t, s, cases, "reopened")
	s.Close()
	if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	checkAllMeta(t, s, cases, "rebuilt")
}

// TestMetaSurvivesCompaction: compaction copies a blob's record as it is
// and rewrites a manifest with its extension block.
func TestMetaSurvivesCompaction(t *testing.T) {
	ctx := context.Background()
	opts := compactOptions(t)
	s := mustOpen(t, opts)
	cases := metaCases()
	// Each case sits among overwritten fillers, so the volumes holding
	// them are mostly garbage once sealed.
	filler := bytes.Repeat([]byte("f"), 8<<10)
	for i := range cases {
		cases[i].data = cases[i].data[:min(len(cases[i].data), 100<<10)] // under MaxBlobSize
		putMeta(t, s, cases[i])
		for range 40 {
			put(t, s, "filler", filler)
		}
	}
	before := map[string]location{}
	for _, c := range cases {
		e, _, _ := s.index.lookup(c.key)
		before[c.key] = e.loc
	}
	rep, err := s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Volumes) == 0 || rep.ManifestsRewritten == 0 {
		t.Fatalf("report %+v: want volumes compacted and manifests rewritten", rep)
	}
	for _, c := range cases[:len(cases)-1] { // the last may be in the active volume
		if e, _, _ := s.index.lookup(c.key); e.loc == before[c.key] {
			t.Errorf("%s was not moved by compaction", c.name)
		}
	}
	checkAllMeta(t, s, cases, "compacted")
	checkGarbage(t, s, "compacted")
	s.Close()
	if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	checkAllMeta(t, s, cases, "compacted and rebuilt")
}

func TestPutMetaRefused(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, testOptions(t, nil))
	defer s.Close()
	many := map[string]string{}
	for i := range MaxMetaPairs + 1 {
		many["X-Amz-Meta-N"+strings.Repeat("a", i)] = ""
	}
	for name, meta := range map[string]map[string]string{
		"lower-case name":   {"x-amz-meta-a": "v"},
		"space in name":     {"X-Amz Meta": "v"},
		"empty name":        {"": "v"},
		"newline in value":  {"X-Amz-Meta-A": "a\r\nInjected: yes"},
		"invalid utf-8":     {"X-Amz-Meta-A": "\xff"},
		"too many bytes":    {"X-Amz-Meta-A": strings.Repeat("v", MaxMetaBytes)},
		"too many names":    many,
		"control character": {"X-Amz-Meta-A": "a\x00b"},
	} {
		_, err := s.Put(ctx, "k", strings.NewReader("x"), 1, PutOptions{Meta: meta})
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: err %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, err := s.Stat(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused Put stored something: %v", err)
	}
}

// TestFormat1RecordsDecode: records laid out by hand in format 1 (the
// format before extension blocks, which blobs without metadata still use)
// decode, and a format 1 record of the current encoder is byte for byte
// that layout.
func TestFormat1RecordsDecode(t *testing.T) {
	key, ct, payload := []byte("old/key"), []byte("text/plain"), []byte("old bytes")
	b := make([]byte, recordHeaderLen)
	binary.LittleEndian.PutUint32(b[0:], recordMagic)
	b[4] = 1 // format
	binary.LittleEndian.PutUint16(b[8:], uint16(len(key)))
	binary.LittleEndian.PutUint16(b[10:], uint16(len(ct)))
	binary.LittleEndian.PutUint32(b[12:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[16:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[20:], crc32c(payload))
	binary.LittleEndian.PutUint64(b[24:], 42)
	binary.LittleEndian.PutUint64(b[32:], 1e18)
	binary.LittleEndian.PutUint32(b[44:], crc32c(b[:44]))
	b = append(append(append(b, key...), ct...), payload...)
	b = binary.LittleEndian.AppendUint32(b, crc32c(b[recordHeaderLen:]))
	rec, st, err := decodeRecord(b)
	if err != nil || st != headerValid {
		t.Fatalf("decode: %v", err)
	}
	if string(rec.key) != "old/key" || string(rec.contentType) != "text/plain" || rec.ext != nil || rec.version != 42 {
		t.Fatalf("decoded %+v", rec)
	}
	if got, err := rec.content(); err != nil || string(got) != "old bytes" {
		t.Fatalf("content %q, %v", got, err)
	}
	h := recordHeader{version: 42, modTime: 1e18, rawLen: len(payload), contentCRC: crc32c(payload)}
	if enc := encodeRecord(nil, h, key, ct, payload); !bytes.Equal(enc, b) {
		t.Fatalf("the encoder's format 1 record differs from the hand-made one")
	}
	// An old index entry (format 1) decodes with no metadata.
	e := indexEntry{loc: location{1, 2, 3}, size: 4, version: 5, contentType: "x"}
	old := e.encode(nil)
	if old[0] != entryFormat {
		t.Fatalf("an entry without tail or extension is written in format %d", old[0])
	}
	if d, err := decodeEntry(old); err != nil || d.ext != "" || d.info("k").Meta != nil {
		t.Fatalf("decoded %+v, %v", d, err)
	}
}

func TestExtRoundTrip(t *testing.T) {
	sum := md5.Sum([]byte("x"))
	for _, tc := range []struct {
		meta map[string]string
		md5  []byte
	}{
		{nil, sum[:]},
		{map[string]string{"A": "1"}, nil},
		{map[string]string{"X-Amz-Meta-B": "2", "A": "", "Content-Kind": "é"}, sum[:]},
	} {
		b := appendExt(nil, tc.meta, tc.md5)
		if len(b) != extLen(tc.meta, tc.md5) {
			t.Errorf("length %d, extLen %d", len(b), extLen(tc.meta, tc.md5))
		}
		meta, md5, rest, err := decodeExt(b)
		if err != nil || len(rest) != 0 || !maps.Equal(meta, tc.meta) || !bytes.Equal(md5, tc.md5) {
			t.Errorf("%v %x: decoded %v %x rest %d: %v", tc.meta, tc.md5, meta, md5, len(rest), err)
		}
	}
}

func FuzzDecodeExt(f *testing.F) {
	sum := md5.Sum([]byte("x"))
	f.Add(appendExt(nil, map[string]string{"X-Amz-Meta-A": "b", "C": ""}, sum[:]))
	f.Add(appendExt(nil, nil, nil))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		meta, md5, rest, err := decodeExt(b)
		if err != nil {
			return
		}
		if ValidateMeta(meta) != nil {
			t.Fatal("decoded metadata that does not validate")
		}
		re := appendExt(nil, meta, md5)
		if !bytes.Equal(re, b[:len(b)-len(rest)]) {
			t.Fatal("accepted block does not re-encode to itself")
		}
	})
}
