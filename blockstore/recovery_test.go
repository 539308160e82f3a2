package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"strata/ioengine"
	"strata/ioengine/memfs"
)

// crashCopy returns options for a store on a possible post-crash state of
// s: the index as last committed, then the memfs as of its last syncs. The
// index snapshot is taken first so it is never ahead of the data.
func crashCopy(t testing.TB, s *Store, mfs *memfs.FS, opts Options) (Options, *memfs.FS) {
	t.Helper()
	dir := t.TempDir()
	err := s.index.db.View(func(tx *bolt.Tx) error {
		return tx.CopyFile(filepath.Join(dir, IndexFileName), 0o600)
	})
	if err != nil {
		t.Fatalf("index snapshot: %v", err)
	}
	clone := mfs.CrashClone()
	opts.FS = clone
	opts.IndexDir = dir
	return opts, clone
}

// volumeFile opens volume id of dir on fsys for direct poking.
func volumeFile(t testing.TB, fsys ioengine.FS, dir string, id uint32) ioengine.File {
	t.Helper()
	f, err := fsys.OpenFile(filepath.Join(dir, volumeFileName(id)), 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func pokeFile(t testing.TB, f ioengine.File, off int64, mutate func(block []byte) []byte) {
	t.Helper()
	start := alignDown(off, 4096)
	block := make([]byte, 2*4096)
	if _, err := f.ReadAt(block, start); err != nil {
		t.Fatal(err)
	}
	block = mutate(block)
	if _, err := f.WriteAt(block, start); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestTornTailIsTruncated(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func(rec []byte) []byte // what of the next record reached the disk
	}{
		{"half a record", func(rec []byte) []byte { return rec[:len(rec)/2] }},
		{"header only", func(rec []byte) []byte { return rec[:recordHeaderLen] }},
		{"record without its last byte", func(rec []byte) []byte { return rec[:len(rec)-1] }},
		{"garbage", func(rec []byte) []byte { return bytes.Repeat([]byte{0x5a}, 700) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			mfs := memfs.New(memfs.Options{})
			opts := testOptions(t, mfs)
			s := mustOpen(t, opts)
			data := map[string][]byte{}
			for i := range 5 {
				k := fmt.Sprintf("k%d", i)
				data[k] = randBytes(newRand(uint64(i)), 3000)
				put(t, s, k, data[k])
			}
			crashed, cfs := crashCopy(t, s, mfs, opts) // the index may be behind: the scan sees the records
			s.Close()
			v1 := int64(0)
			{
				s2 := mustOpen(t, crashed) // learn where the tail is, then crash again
				v1 = s2.volumes[1].end.Load()
				s2.Close()
			}
			// A torn write of the next group at the end.
			h := recordHeader{version: 99, rawLen: 3000}
			torn := tc.tear(encodeRecord(nil, h, []byte("torn"), nil, make([]byte, 3000)))
			f := volumeFile(t, cfs, "/data0", 1)
			pokeFile(t, f, v1, func(b []byte) []byte { copy(b[v1%4096:], torn); return b })
			f.Close()

			s3 := mustOpen(t, crashed)
			defer s3.Close()
			for k, v := range data {
				mustGet(t, s3, k, v)
			}
			if _, err := s3.Stat(ctx, "torn"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("torn record visible: %v", err)
			}
			if c := s3.Stats().Corruptions; c != 0 {
				t.Fatalf("torn tail counted as %d corruptions", c)
			}
			if tt := s3.Stats().TornTails; tt != 1 {
				t.Fatalf("torn tails counted: %d, want 1", tt)
			}
			// The torn volume takes no more writes; new ones land elsewhere.
			info := put(t, s3, "after", []byte("fresh"))
			if info.loc.volume == 1 {
				t.Fatal("appended after a torn tail in the same volume")
			}
			mustGet(t, s3, "after", []byte("fresh"))
		})
	}
}

func TestCorruptionInMiddleIsSkippedNotTruncated(t *testing.T) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	data := map[string][]byte{}
	infos := map[string]Info{}
	for i := range 10 {
		k := fmt.Sprintf("k%d", i)
		data[k] = randBytes(newRand(uint64(i)), 5000)
		infos[k] = put(t, s, k, data[k])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Flip a payload byte of k3 and k6; delete the index so the scan
	// covers everything.
	f := volumeFile(t, mfs, "/data0", 1)
	for _, k := range []string{"k3", "k6"} {
		off := infos[k].loc.offset + int64(recordHeaderLen+len(k)+30)
		pokeFile(t, f, off, func(b []byte) []byte { b[off%4096] ^= 0x40; return b })
	}
	f.Close()

	// With the index intact, reading the damaged record fails, never
	// returning its bytes.
	s = mustOpen(t, opts)
	if _, got, err := s.Get(ctx, "k3"); !errors.Is(err, ErrCorrupt) || got != nil {
		t.Fatalf("Get of corrupt record: %v, %d bytes", err, len(got))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	if c := s.Stats().Corruptions; c != 2 {
		t.Fatalf("corruptions found: %d, want 2", c)
	}
	for k, v := range data {
		if k == "k3" || k == "k6" {
			// Their headers decode: the keys answer the corruption, never
			// "not found" (which would let an older copy win elsewhere).
			if _, err := s.Stat(ctx, k); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("corrupt %s: Stat %v, want ErrCorrupt", k, err)
			}
			continue
		}
		mustGet(t, s, k, v) // everything after the damage is kept
	}
	// New writes do not land on top of the kept records.
	put(t, s, "new", []byte("n"))
	for k, v := range data {
		if k != "k3" && k != "k6" {
			mustGet(t, s, k, v)
		}
	}
	s.Close()
}

func TestIndexRebuiltFromVolumes(t *testing.T) {
	ctx := context.Background()
	// truncated: shorter than bbolt's metadata says, which made bbolt die
	// of SIGBUS inside Open before checkBoltLength refused the file.
	for _, how := range []string{"deleted", "garbage", "truncated"} {
		t.Run(how, func(t *testing.T) {
			mfs := memfs.New(memfs.Options{})
			opts := testOptions(t, mfs)
			opts.VolumeSize = 2 << 20 // several volumes, some sealed
			s := mustOpen(t, opts)
			r := newRand(9)
			for i := range 300 {
				k := fmt.Sprintf("key/%03d", i%120)
				size := 1 + r.IntN(9000)
				if i%50 == 0 {
					size = 200 << 10 // chunked
				}
				put(t, s, k, randBytes(r, size))
				if i%7 == 0 {
					if err := s.Delete(ctx, fmt.Sprintf("key/%03d", r.IntN(120)), DeleteOptions{}); err != nil && !errors.Is(err, ErrNotFound) {
						t.Fatal(err)
					}
				}
			}
			before := snapshot(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(opts.IndexDir, IndexFileName)
			switch how {
			case "deleted":
				os.Remove(path)
			case "garbage":
				os.WriteFile(path, bytes.Repeat([]byte("not a bbolt file"), 4096), 0o600)
			case "truncated":
				// Both meta pages, then nothing: the tree's pages are gone.
				if err := os.Truncate(path, 3*4096); err != nil {
					t.Fatal(err)
				}
			}
			s = mustOpen(t, opts)
			defer s.Close()
			after := snapshot(t, s)
			if before != after {
				t.Fatalf("rebuilt index differs:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if err := s.index.flush(); err != nil {
				t.Fatal(err)
			}
			put(t, s, "key/new", []byte("x")) // and it takes writes
		})
	}
}

// snapshot renders every live key with its metadata and a hash of its bytes.
func snapshot(t testing.TB, s *Store) string {
	t.Helper()
	ctx := context.Background()
	list, err := s.List(ctx, "", "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, in := range list {
		_, data, err := s.Get(ctx, in.Key)
		if err != nil {
			t.Fatalf("Get %q: %v", in.Key, err)
		}
		fmt.Fprintf(&b, "%s size=%d ver=%d crc=%08x ct=%q mod=%d chunk=%d data=%08x\n",
			in.Key, in.Size, in.Version, in.Checksum, in.ContentType, in.ModTime.UnixNano(), in.ChunkSize, crc32c(data))
	}
	return b.String()
}
