package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"strata/ioengine"
	"strata/ioengine/memfs"
)

// testOptions returns small-volume options on a fresh memfs.
func testOptions(t testing.TB, fsys ioengine.FS) Options {
	t.Helper()
	if fsys == nil {
		fsys = memfs.New(memfs.Options{})
	}
	return Options{
		FS:            fsys,
		DataDirs:      []string{"/data0"},
		IndexDir:      t.TempDir(),
		VolumeSize:    4 << 20,
		ChunkSize:     64 << 10,
		MaxBlobSize:   8 << 20,
		MaxBatchBytes: 256 << 10,
	}
}

func mustOpen(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t testing.TB, s *Store, key string, data []byte) Info {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), PutOptions{ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatalf("Put %q: %v", key, err)
	}
	return info
}

func mustGet(t testing.TB, s *Store, key string, want []byte) {
	t.Helper()
	_, got, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get %q: %d bytes differ from the %d put", key, len(got), len(want))
	}
}

func TestPutGetDeleteListReopen(t *testing.T) {
	ctx := context.Background()
	opts := testOptions(t, nil)
	s := mustOpen(t, opts)
	r := rand.New(rand.NewPCG(1, 2))
	compressible := bytes.Repeat([]byte("strata "), 3000)
	blobs := map[string][]byte{
		"empty":        {},
		"small":        randBytes(r, 100),
		"4k":           randBytes(r, 4096),
		"compressible": compressible,
		"exact-chunk":  randBytes(r, 64<<10),
		"chunk+1":      randBytes(r, 64<<10+1),
		"big":          randBytes(r, 1<<20+12345),
		"big/zip":      bytes.Repeat(compressible, 40),
	}
	for k, v := range blobs {
		info := put(t, s, k, v)
		if info.Size != int64(len(v)) {
			t.Fatalf("%s: Info.Size %d", k, info.Size)
		}
	}
	// Unknown size.
	unk := randBytes(r, 200<<10)
	if _, err := s.Put(ctx, "unknown", io.MultiReader(bytes.NewReader(unk[:1000]), bytes.NewReader(unk[1000:])), -1, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	blobs["unknown"] = unk
	unkSmall := randBytes(r, 10)
	if _, err := s.Put(ctx, "unknown-small", bytes.NewReader(unkSmall), -1, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	blobs["unknown-small"] = unkSmall
	check := func(s *Store) {
		t.Helper()
		for k, v := range blobs {
			mustGet(t, s, k, v)
		}
		list, err := s.List(ctx, "", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(blobs) {
			t.Fatalf("List: %d keys, want %d", len(list), len(blobs))
		}
		for i := 1; i < len(list); i++ {
			if list[i-1].Key >= list[i].Key {
				t.Fatalf("List out of order: %q then %q", list[i-1].Key, list[i].Key)
			}
		}
	}
	check(s)
	if _, got, err := s.Get(ctx, "empty"); err != nil || got == nil {
		t.Fatalf("Get of an empty blob: %v, nil=%v (want a non-nil empty slice)", err, got == nil)
	}
	if st := s.Stats(); st.RecordsWritten == 0 || st.Groups == 0 {
		t.Fatalf("stats: %+v", st)
	}
	if err := s.Delete(ctx, "small", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	delete(blobs, "small")
	if err := s.Delete(ctx, "small", DeleteOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, _, err := s.Get(ctx, "small"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	check(s)
	if _, _, err := s.Get(ctx, "small"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted after reopen: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "4k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestReaderRanges(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, testOptions(t, nil))
	defer s.Close()
	r := rand.New(rand.NewPCG(3, 4))
	data := randBytes(r, 5*(64<<10)+777)
	info := put(t, s, "ranged", data)
	if info.NumChunks() != 6 {
		t.Fatalf("NumChunks %d", info.NumChunks())
	}
	info, err := s.Stat(ctx, "ranged") // fresh Info: manifest not read yet
	if err != nil {
		t.Fatal(err)
	}
	before := s.Devices()[0].Classes[ioengine.ClassRead].ReadOps
	rd := s.NewReader(ctx, info)
	buf := make([]byte, 1000)
	off := int64(3*(64<<10) + 500)
	if _, err := rd.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, data[off:off+1000]) {
		t.Fatal("range bytes differ")
	}
	// Manifest (first use) + one chunk.
	if got := s.Devices()[0].Classes[ioengine.ClassRead].ReadOps - before; got != 2 {
		t.Fatalf("range read took %d device reads, want 2", got)
	}
	if _, err := rd.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(rd)
	if err != nil || !bytes.Equal(all, data) {
		t.Fatalf("ReadAll: %v, equal=%v", err, bytes.Equal(all, data))
	}
	// AppendChunk appends to the caller's buffer.
	got, err := s.AppendChunk(ctx, info, 2, []byte("prefix"))
	if err != nil || string(got[:6]) != "prefix" || !bytes.Equal(got[6:], data[2*(64<<10):3*(64<<10)]) {
		t.Fatalf("AppendChunk: %v", err)
	}
	// The old version stays readable through its Info after an overwrite.
	put(t, s, "ranged", []byte("new"))
	c, err := s.ReadChunk(ctx, info, 5)
	if err != nil || !bytes.Equal(c, data[5*(64<<10):]) {
		t.Fatalf("old version chunk: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, testOptions(t, nil))
	defer s.Close()
	cases := []struct {
		name string
		key  string
		body []byte
		size int64
		ct   string
		want error
	}{
		{"empty key", "", nil, 0, "", ErrInvalidKey},
		{"control", "a\x01b", nil, 0, "", ErrInvalidKey},
		{"bad utf8", "a\xffb", nil, 0, "", ErrInvalidKey},
		{"long key", string(bytes.Repeat([]byte("k"), 1025)), nil, 0, "", ErrInvalidKey},
		{"short body", "k", []byte("abc"), 4, "", ErrSizeMismatch},
		{"long body", "k", []byte("abcde"), 4, "", ErrSizeMismatch},
		{"long chunked body", "k", make([]byte, 200<<10), 100 << 10, "", ErrSizeMismatch},
		{"short chunked body", "k", make([]byte, 100<<10), 200 << 10, "", ErrSizeMismatch},
		{"too large", "k", nil, 9 << 20, "", ErrTooLarge},
		{"too large unknown", "k", make([]byte, 9<<20), -1, "", ErrTooLarge},
		{"negative size", "k", nil, -2, "", ErrInvalidArgument},
		{"bad content type", "k", nil, 0, "a\nb", ErrInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Put(ctx, c.key, bytes.NewReader(c.body), c.size, PutOptions{ContentType: c.ct})
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
	if _, err := s.Stat(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a failed put left %q visible: %v", "k", err)
	}
}

func TestLastWriterWins(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, testOptions(t, nil))
	defer s.Close()
	if _, err := s.Put(ctx, "k", bytes.NewReader([]byte("v10")), 3, PutOptions{Version: 10}); err != nil {
		t.Fatal(err)
	}
	info, err := s.Put(ctx, "k", bytes.NewReader([]byte("v5")), 2, PutOptions{Version: 5})
	if err != nil || info.Version != 10 {
		t.Fatalf("older put: %v, version %d", err, info.Version)
	}
	mustGet(t, s, "k", []byte("v10"))
	if err := s.Delete(ctx, "k", DeleteOptions{Version: 7}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "k", []byte("v10"))
	// A store-assigned version is above every version seen.
	info = put(t, s, "k", []byte("auto"))
	if info.Version <= 10 {
		t.Fatalf("assigned version %d", info.Version)
	}
	if err := s.Delete(ctx, "k", DeleteOptions{Version: info.Version + 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "k", bytes.NewReader([]byte("late")), 4, PutOptions{Version: info.Version}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("late older put resurrected a deleted key: %v", err)
	}
}

func ExampleStore() {
	ctx := context.Background()
	// The volumes live in memory here; the bbolt index is a real file, so it
	// goes to a fresh temporary directory that is removed afterwards.
	indexDir, err := os.MkdirTemp("", "strata-example-index-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(indexDir)
	s, err := Open(ctx, Options{FS: memfs.New(memfs.Options{}), DataDirs: []string{"/hdd0"}, IndexDir: indexDir, VolumeSize: 64 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	if _, err := s.Put(ctx, "hello", bytes.NewReader([]byte("world")), 5, PutOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	info, data, err := s.Get(ctx, "hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Size, string(data))
	// Output: 5 world
}
