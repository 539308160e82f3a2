package tiering

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"strata/blockstore"
	"strata/ioengine"
	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

// volumeReads counts the reads of volume files and their bytes: the
// device work of the HDD tier.
type volumeReads struct{ ops, bytes atomic.Int64 }

func (c *volumeReads) Inject(op errorfs.Op) errorfs.Fault {
	if op.Kind == errorfs.OpRead && strings.HasSuffix(op.Path, ".vol") {
		c.ops.Add(1)
		c.bytes.Add(int64(op.Len))
	}
	return errorfs.Fault{}
}

func (c *volumeReads) take() (ops, bytes int64) { return c.ops.Swap(0), c.bytes.Swap(0) }

// rangeEnv is a Store over a real blockstore on a counting memfs, with
// production chunk (8 MiB) and segment (1 MiB) sizes and no SSD cache.
func rangeEnv(t *testing.T) (*Store, *blockstore.Store, *memfs.FS, *volumeReads) {
	t.Helper()
	mfs := memfs.New(memfs.Options{})
	reads := &volumeReads{}
	bs, err := blockstore.Open(context.Background(), blockstore.Options{
		FS:          errorfs.Wrap(mfs, reads),
		DataDirs:    []string{"/hdd"},
		IndexDir:    t.TempDir(),
		VolumeSize:  64 << 20,
		MaxBlobSize: 64 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Options{Backend: bs, RAMCacheBytes: 64 << 20, FS: ioengine.OSFS()})
	if err != nil {
		bs.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); bs.Close() })
	return s, bs, mfs, reads
}

// readAt opens key and reads n bytes at off as an HTTP Range does (Seek,
// then one Read of the range's length), returning the bytes and the tier.
func readAt(t *testing.T, s *Store, key string, off, n int64) ([]byte, string, error) {
	t.Helper()
	o, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, n)
	m, err := io.ReadFull(o, got)
	return got[:m], o.Tier(), err
}

// TestRangeMissReadsSubBlocks: a 4 KiB range from the middle of a large
// blob that no cache holds costs one volume read of at most 128 KiB once
// the manifest is cached (the first read also reads the manifest), and
// fills no cache; a stream still reads and caches whole segments.
func TestRangeMissReadsSubBlocks(t *testing.T) {
	s, _, _, reads := rangeEnv(t)
	data := randBytes(11, 40<<20+333) // five 8 MiB chunks and a bit
	if _, err := s.backend.Put(context.Background(), "big", bytes.NewReader(data), int64(len(data)), blockstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	reads.take()
	mid := int64(len(data)/2) + 12345
	for i, wantOps := range []int64{2, 1, 1} {
		got, tier, err := readAt(t, s, "big", mid, 4096)
		if err != nil || !bytes.Equal(got, data[mid:mid+4096]) {
			t.Fatalf("round %d: %v (%d bytes)", i, err, len(got))
		}
		ops, n := reads.take()
		if ops != wantOps || tier != "hdd" {
			t.Fatalf("round %d: %d volume reads (tier %q), want %d from hdd", i, ops, tier, wantOps)
		}
		if i > 0 && n > 128<<10 {
			t.Fatalf("round %d: read %d bytes, want at most 128 KiB", i, n)
		}
	}
	if st := s.Stats(); st.RAM.Items != 0 {
		t.Fatalf("a ranged miss filled %d RAM items", st.RAM.Items)
	}
	// A range that ends in the next sub-block, and one across a chunk.
	for _, rg := range [][2]int64{{mid + 60<<10, 8 << 10}, {8<<20 - 100, 200}} {
		got, _, err := readAt(t, s, "big", rg[0], rg[1])
		if err != nil || !bytes.Equal(got, data[rg[0]:rg[0]+rg[1]]) {
			t.Fatalf("range %v: %v", rg, err)
		}
	}
	// A stream reads whole segments (and caches them), then a range of a
	// cached segment reads nothing.
	o, err := s.Open(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := io.CopyBuffer(&out, struct{ io.Reader }{o}, make([]byte, 64<<10)); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("stream: %v", err)
	}
	o.Close()
	// Whole chunks (a ranged read per 64 KiB would be 640 reads); a chunk
	// may be read again when RAM's admission turned a segment away.
	if ops, _ := reads.take(); ops > 12 {
		t.Fatalf("a stream of 6 chunks took %d volume reads", ops)
	}
	got, tier, err := readAt(t, s, "big", 1<<20+10, 4096) // segment 1 stayed in RAM
	if err != nil || !bytes.Equal(got, data[1<<20+10:1<<20+10+4096]) {
		t.Fatal(err)
	}
	if ops, _ := reads.take(); ops != 0 || tier != "ram" {
		t.Fatalf("range of a cached segment: %d volume reads, tier %q", ops, tier)
	}
}

// TestRangeMissCorrupt: a range over a damaged sub-block fails with
// ErrCorrupt and returns no bytes.
func TestRangeMissCorrupt(t *testing.T) {
	s, bs, mfs, _ := rangeEnv(t)
	data := randBytes(12, 17<<20)
	_, err := bs.Put(context.Background(), "big", bytes.NewReader(data), int64(len(data)), blockstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Find the bytes of content offset 9 MiB in the volume: the chunk
	// records are the only copy of the content.
	needle := data[9<<20 : 9<<20+64]
	f, err := mfs.OpenFile(filepath.Join("/hdd", "00000001.vol"), 0)
	if err != nil {
		t.Fatal(err)
	}
	vol := make([]byte, 64<<20)
	n, _ := f.ReadAt(vol, 0)
	at := bytes.Index(vol[:n], needle)
	if at < 0 {
		t.Fatal("content not found in the volume")
	}
	vol[at+10] ^= 0x40
	if _, err := f.WriteAt(vol[at+10:at+11], int64(at+10)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, _, err := readAt(t, s, "big", 9<<20, 4096)
	if !errors.Is(err, blockstore.ErrCorrupt) || len(got) != 0 {
		t.Fatalf("range over a damaged sub-block: %d bytes, %v; want ErrCorrupt", len(got), err)
	}
	got, _, err = readAt(t, s, "big", 9<<20+128<<10, 4096)
	if err != nil || !bytes.Equal(got, data[9<<20+128<<10:9<<20+128<<10+4096]) {
		t.Fatalf("range of an intact sub-block: %v", err)
	}
}
