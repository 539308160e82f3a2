package blockstore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"strata/ioengine"
	"strata/ioengine/memfs"
)

// rangeOptions: chunks of 1 MiB, so a chunk has 16 sub-blocks of 64 KiB.
func rangeOptions(t *testing.T) (Options, *memfs.FS) {
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	opts.ChunkSize = 1 << 20
	opts.VolumeSize = 16 << 20
	opts.MaxBatchBytes = 2 << 20
	return opts, mfs
}

// rangeStore opens a store with rangeOptions holding "big", n random bytes
// from seed; it is closed when the test ends.
func rangeStore(t *testing.T, seed uint64, n int) (*Store, Options, *memfs.FS, []byte, Info) {
	opts, mfs := rangeOptions(t)
	s := mustOpen(t, opts)
	t.Cleanup(func() { s.Close() })
	data := randBytes(rand.New(rand.NewPCG(seed, seed+1)), n)
	return s, opts, mfs, data, put(t, s, "big", data)
}

// readCounts is the data disk's foreground reads so far: operations and bytes.
func readCounts(s *Store) (ops, bytes uint64) {
	c := s.Devices()[0].Classes[ioengine.ClassRead]
	return c.ReadOps, c.ReadBytes
}

func TestReadRange(t *testing.T) {
	s, opts, _, data, info := rangeStore(t, 1, 3<<20+5000) // 4 chunks, the last short
	ctx := context.Background()
	sub := int64(subBlockSize)
	chunk := opts.ChunkSize
	cases := []struct {
		name     string
		off, n   int64
		maxReads uint64 // device reads once the manifest is cached
	}{
		{"4k in a sub-block", chunk + 5*sub + 100, 4096, 1},
		{"4k at a chunk start", 2 * chunk, 4096, 1},
		{"across a sub-block boundary", chunk + sub - 10, 20, 1},
		{"one byte", 7, 1, 1},
		{"a whole sub-block", 3 * sub, sub, 1},
		{"across a chunk boundary", chunk - 100, 200, 2},
		{"the short last chunk", 3*chunk + 4000, 1000, 1},
		{"the last byte", int64(len(data)) - 1, 1, 1},
		{"two chunks and more", 100, 2*chunk + 100, 3},
		{"everything", 0, int64(len(data)), 4},
		{"empty", 12345, 0, 0},
	}
	info, err := s.Stat(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadRange(ctx, info, 0, 1, nil); err != nil { // caches the manifest
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := s.Stat(ctx, "big") // a new Info each time, as a handler has
			if err != nil {
				t.Fatal(err)
			}
			ops0, bytes0 := readCounts(s)
			got, err := s.ReadRange(ctx, info, tc.off, tc.n, []byte("prefix"))
			if err != nil {
				t.Fatal(err)
			}
			ops, nbytes := readCounts(s)
			if !bytes.Equal(got[:6], []byte("prefix")) || !bytes.Equal(got[6:], data[tc.off:tc.off+tc.n]) {
				t.Fatalf("ReadRange(%d, %d): wrong bytes", tc.off, tc.n)
			}
			if ops-ops0 != tc.maxReads {
				t.Errorf("ReadRange(%d, %d): %d device reads, want %d", tc.off, tc.n, ops-ops0, tc.maxReads)
			}
			// Each read covers the sub-blocks of its range and their
			// alignment: at most two sub-blocks (and 8 KiB) for a range
			// that fits in one.
			if tc.n > 0 && tc.n <= sub {
				if max := uint64(2*sub + 8192); nbytes-bytes0 > max {
					t.Errorf("ReadRange(%d, %d) read %d bytes, want at most %d", tc.off, tc.n, nbytes-bytes0, max)
				}
			}
		})
	}
	// The 4 KiB range that does not cross a sub-block: one read of at most
	// 128 KiB (one sub-block and its alignment).
	info, _ = s.Stat(ctx, "big")
	ops0, bytes0 := readCounts(s)
	if _, err := s.ReadRange(ctx, info, chunk+5*sub+100, 4096, nil); err != nil {
		t.Fatal(err)
	}
	if ops, nbytes := readCounts(s); ops-ops0 != 1 || nbytes-bytes0 > 128<<10 {
		t.Fatalf("4 KiB range: %d reads of %d bytes, want 1 of at most 128 KiB", ops-ops0, nbytes-bytes0)
	}
	for _, bad := range [][2]int64{{-1, 1}, {0, -1}, {int64(len(data)), 1}, {int64(len(data)) - 1, 2}} {
		if _, err := s.ReadRange(ctx, info, bad[0], bad[1], nil); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ReadRange(%d, %d) = %v, want ErrInvalidArgument", bad[0], bad[1], err)
		}
	}
	if _, err := s.ReadRange(ctx, Info{Key: "big", Size: 10}, 0, 1, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("ReadRange of a made-up Info = %v, want ErrInvalidArgument", err)
	}
}

// TestReadRangeFallbacks: blobs whose chunks have no sub-block CRCs (a
// single record, compressible chunks stored compressed, chunks of one
// sub-block) still read any range correctly, whole chunks at a time.
func TestReadRangeFallbacks(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		name  string
		chunk int64
		data  []byte
	}{
		{"single record", 1 << 20, randBytes(r, 300<<10)},
		{"compressed chunks", 1 << 20, bytes.Repeat([]byte("squeeze me "), 300000)},
		{"chunks of one sub-block", 64 << 10, randBytes(r, 300<<10)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts, _ := rangeOptions(t)
			opts.ChunkSize = tc.chunk
			s := mustOpen(t, opts)
			defer s.Close()
			info := put(t, s, "k", tc.data)
			if info.chunked {
				m, err := s.manifestOf(ctx, info)
				if err != nil {
					t.Fatal(err)
				}
				for i := range m.chunks {
					if m.chunkSubs(i) != nil {
						t.Fatalf("chunk %d has sub-block CRCs", i)
					}
				}
			}
			for _, rg := range [][2]int64{{0, 10}, {int64(len(tc.data)) / 2, 4096}, {1, int64(len(tc.data)) - 2}} {
				got, err := s.ReadRange(ctx, info, rg[0], rg[1], nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tc.data[rg[0]:rg[0]+rg[1]]) {
					t.Fatalf("range %v: wrong bytes", rg)
				}
			}
		})
	}
}

// TestReadRangeCorruptSubBlock: a flipped bit in one sub-block fails the
// ranges that read it with ErrCorrupt (no bytes), while ranges of the other
// sub-blocks still verify; whole-chunk reads verify everything.
func TestReadRangeCorruptSubBlock(t *testing.T) {
	s, opts, mfs, data, info := rangeStore(t, 5, 2<<20)
	ctx := context.Background()
	m, err := s.manifestOf(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	ref := m.chunks[1]
	payload := ref.loc.offset + ref.loc.length - recordTrailerLen - m.chunkLen(1)
	const badSub = 7
	corruptAt(t, mfs, ref.loc.volume, payload+badSub*subBlockSize+1234)

	bad := opts.ChunkSize + badSub*subBlockSize
	for _, rg := range [][2]int64{{bad + 1000, 4096}, {bad - 10, 20}, {bad + subBlockSize - 1, 1}, {0, int64(len(data))}} {
		got, err := s.ReadRange(ctx, info, rg[0], rg[1], nil)
		if !errors.Is(err, ErrCorrupt) || got != nil {
			t.Errorf("ReadRange%v over the damaged sub-block = %d bytes, %v; want ErrCorrupt", rg, len(got), err)
		}
	}
	for _, rg := range [][2]int64{{bad + subBlockSize, 4096}, {bad - 4096, 4096}, {0, opts.ChunkSize}} {
		got, err := s.ReadRange(ctx, info, rg[0], rg[1], nil)
		if err != nil || !bytes.Equal(got, data[rg[0]:rg[0]+rg[1]]) {
			t.Errorf("ReadRange%v beside the damaged sub-block: %v", rg, err)
		}
	}
	if _, err := s.ReadChunk(ctx, info, 1); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadChunk of the damaged chunk = %v, want ErrCorrupt", err)
	}
	if _, _, err := s.Get(ctx, "big"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get = %v, want ErrCorrupt", err)
	}
}

// TestManifestCache: a chunked blob's manifest is read once for many
// Stat+read rounds, and an overwrite, delete or compaction's move drops
// the cached one.
func TestManifestCache(t *testing.T) {
	s, _, _, data, _ := rangeStore(t, 7, 3<<20)
	ctx := context.Background()
	read := func() uint64 {
		t.Helper()
		info, err := s.Stat(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		ops0, _ := readCounts(s)
		got, err := s.ReadRange(ctx, info, 1<<20, 100, nil)
		if err != nil || !bytes.Equal(got, data[1<<20:1<<20+100]) {
			t.Fatalf("ReadRange: %v", err)
		}
		ops, _ := readCounts(s)
		return ops - ops0
	}
	if n := read(); n != 2 {
		t.Fatalf("first read: %d device reads, want 2 (manifest, sub-block)", n)
	}
	for range 5 {
		if n := read(); n != 1 {
			t.Fatalf("cached manifest: %d device reads, want 1", n)
		}
	}
	if st := s.Stats().ManifestCache; st.Items != 1 || st.Hits != 5 || st.Bytes <= 0 {
		t.Fatalf("cache stats %+v", st)
	}
	data = randBytes(rand.New(rand.NewPCG(9, 10)), 2<<20)
	put(t, s, "big", data)
	if st := s.Stats().ManifestCache; st.Items != 0 {
		t.Fatalf("after an overwrite the cache holds %d items", st.Items)
	}
	if n := read(); n != 2 {
		t.Fatalf("after an overwrite: %d device reads, want 2", n)
	}
	if err := s.Delete(ctx, "big", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats().ManifestCache; st.Items != 0 {
		t.Fatalf("after a delete the cache holds %d items", st.Items)
	}
}

func TestManifestLRU(t *testing.T) {
	m := &manifest{chunks: make([]chunkRef, 10)}
	cost := manifestCost("k0", m)
	info := func(key string, i int) Info {
		return Info{Key: key, Version: uint64(i + 1), Checksum: 7, loc: location{1, int64(i) * 4096, 100}}
	}
	// An item above an eighth of the limit is not cached.
	c := newManifestLRU(8*cost - 1)
	big := info("k0", 0)
	c.put(&big, m)
	if c.get(&big) != nil {
		t.Fatal("an item above an eighth of the limit was cached")
	}
	c = newManifestLRU(24 * cost) // 24 items
	for i := range 30 {
		inf := info("k"+string(rune('A'+i)), i)
		c.put(&inf, m)
		if c.used > c.limit {
			t.Fatalf("cache holds %d bytes, limit %d", c.used, c.limit)
		}
		if i == 20 {
			first := info("kA", 0)
			c.get(&first) // kA is now more recent than kB..kU
		}
	}
	if items, _, _, _ := c.state(); items != 24 {
		t.Fatalf("%d items kept, want 24", items)
	}
	for i, wantKept := range map[int]bool{0: true, 1: false, 6: false, 7: true, 29: true} {
		inf := info("k"+string(rune('A'+i)), i)
		if got := c.get(&inf) != nil; got != wantKept {
			t.Errorf("item %d kept = %v, want %v (least recently used goes first)", i, got, wantKept)
		}
	}
	kept := info("k"+string(rune('A'+20)), 20)
	for _, change := range []func(*Info){
		func(i *Info) { i.Version++ },
		func(i *Info) { i.Checksum++ },
		func(i *Info) { i.loc.offset += 4096 },
	} {
		other := kept
		change(&other)
		if c.get(&other) != nil {
			t.Fatalf("an Info that differs got the cached manifest: %+v", other)
		}
	}
	if c.get(&kept) == nil {
		t.Fatal("item 20 missing")
	}
	c.drop(kept.Key)
	if c.get(&kept) != nil {
		t.Fatal("a dropped item is still served")
	}
	var none *manifestLRU // a store without a cache
	none.put(&kept, m)
	none.drop("x")
	if none.get(&kept) != nil {
		t.Fatal("a nil cache served")
	}
}

// TestOldFormatVolume opens a data directory written by the store before
// sub-block CRCs (commit 8bed8bc: format 1 manifests, a format 2 record
// with metadata and MD5, compressed chunks) and reads every blob, whole
// and in ranges.
func TestOldFormatVolume(t *testing.T) {
	dir := t.TempDir()
	untarGz(t, filepath.Join("testdata", "oldformat", "v2-volume.tar.gz"), filepath.Join(dir, "data"))
	s := mustOpen(t, Options{DataDirs: []string{filepath.Join(dir, "data")}, IndexDir: filepath.Join(dir, "index"), ChunkSize: 64 << 10, VolumeSize: 9527296, MaxBlobSize: 64 << 20})
	defer s.Close()
	ctx := context.Background()
	want := map[string][]byte{
		"old/chunked":      oldContent(1, 150<<10+123),
		"old/chunked-meta": bytes.Repeat([]byte("compressible old content "), 6000),
		"old/small":        oldContent(3, 5000),
	}
	for key, data := range want {
		info, got, err := s.Get(ctx, key)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get %q: %v (%d bytes, want %d)", key, err, len(got), len(data))
		}
		for _, rg := range [][2]int64{{0, 1}, {int64(len(data)) / 2, 2000}, {int64(len(data)) - 100, 100}} {
			got, err := s.ReadRange(ctx, info, rg[0], rg[1], nil)
			if err != nil || !bytes.Equal(got, data[rg[0]:rg[0]+rg[1]]) {
				t.Fatalf("ReadRange %q %v: %v", key, rg, err)
			}
		}
	}
	info, err := s.Stat(ctx, "old/chunked-meta")
	if err != nil || info.Meta["X-Amz-Meta-Color"] != "blue" || len(info.MD5) != 16 {
		t.Fatalf("Stat of the format 2 blob: %+v %v", info, err)
	}
}

// oldContent is the content the old store was given (see TestOldFormatVolume).
func oldContent(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 10))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func untarGz(t *testing.T, src, dst string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(filepath.Join(dst, filepath.Base(h.Name)), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadRangeAfterCompaction: compaction rewrites a format 3 manifest
// with its sub-block CRCs and new chunk locations, and drops the cached
// manifest, so ranged reads after it read the moved chunks.
func TestReadRangeAfterCompaction(t *testing.T) {
	s, _, _, data, _ := rangeStore(t, 13, 5<<19) // 2.5 chunks
	ctx := context.Background()
	filler := randBytes(rand.New(rand.NewPCG(15, 16)), 256<<10)
	for range 100 { // overwritten: the volumes are garbage but for "big"
		put(t, s, "filler", filler)
	}
	old, err := s.Stat(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadRange(ctx, old, 1<<20, 10, nil); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats().ManifestCache; st.Items != 1 {
		t.Fatalf("cache holds %d items, want the blob's manifest", st.Items)
	}
	rep, err := s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ManifestsRewritten == 0 {
		t.Fatalf("report %+v: the manifest was not rewritten", rep)
	}
	if st := s.Stats().ManifestCache; st.Items != 0 {
		t.Fatalf("after the move the cache holds %d items", st.Items)
	}
	info, err := s.Stat(ctx, "big")
	if err != nil || info.loc == old.loc {
		t.Fatalf("Stat after compaction: %v (location %v, was %v)", err, info.loc, old.loc)
	}
	m, err := s.manifestOf(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.chunks {
		if m.chunkSubs(i) == nil {
			t.Fatalf("rewritten manifest lost chunk %d's sub-block CRCs", i)
		}
	}
	for _, in := range []Info{info, old} { // an Info from before the move still reads its copy
		ops0, _ := readCounts(s)
		got, err := s.ReadRange(ctx, in, 2<<20+7, 4096, nil)
		if err != nil || !bytes.Equal(got, data[2<<20+7:2<<20+7+4096]) {
			t.Fatalf("ReadRange after compaction: %v", err)
		}
		if ops, _ := readCounts(s); ops-ops0 != 1 {
			t.Fatalf("ReadRange after compaction: %d device reads, want 1", ops-ops0)
		}
	}
}
