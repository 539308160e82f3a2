package tiering

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"strata/blockstore"
	"strata/ioengine"
)

// realEnv is a Store over a real blockstore, both under one temp dir.
type realEnv struct {
	dir string
	bs  blockstore.Options
	o   Options
	s   *Store
}

func openReal(t *testing.T, dir string) *realEnv {
	t.Helper()
	e := &realEnv{dir: dir}
	e.bs = blockstore.Options{
		DataDirs:    []string{filepath.Join(dir, "hdd")},
		IndexDir:    filepath.Join(dir, "index"),
		VolumeSize:  64 << 20,
		ChunkSize:   256 << 10,
		MaxBlobSize: 16 << 20,
	}
	bs, err := blockstore.Open(context.Background(), e.bs)
	if err != nil {
		t.Fatalf("blockstore.Open: %v", err)
	}
	e.o = Options{
		Backend:         bs,
		RAMCacheBytes:   1 << 20,
		SSDCacheBytes:   8 << 20,
		SSDPath:         filepath.Join(dir, "ssd", "cache"),
		FS:              ioengine.OSFS(),
		RegionSize:      1 << 20,
		RAMMaxItemBytes: 64 << 10,
		SSDMaxItemBytes: 512 << 10,
	}
	e.s, err = Open(context.Background(), e.o)
	if err != nil {
		bs.Close()
		t.Fatalf("Open: %v", err)
	}
	return e
}

func (e *realEnv) get(t *testing.T, key string, want []byte) string {
	t.Helper()
	o, err := e.s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open %q: %v", key, err)
	}
	defer o.Close()
	got, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %q: %v (%d bytes, want %d, equal=%v)", key, err, len(got), len(want), bytes.Equal(got, want))
	}
	e.s.waitFilled(t)
	return o.Tier()
}

// TestWithRealBlockstore runs the tiers over the real HDD tier: every
// read path, chunked blobs, overwrite, delete, and a warm restart.
func TestWithRealBlockstore(t *testing.T) {
	dir := t.TempDir()
	e := openReal(t, dir)
	defer func() { e.s.Close() }()
	ctx := context.Background()
	want := map[string][]byte{}
	sizes := []int{0, 1, 4 << 10, 60 << 10, 200 << 10, 700 << 10} // 700 KiB: 3 backend chunks
	for i, n := range sizes {
		k := fmt.Sprintf("blob/%d", i)
		want[k] = randBytes(uint64(i), n)
		if _, err := e.s.Put(ctx, k, bytes.NewReader(want[k]), int64(n), blockstore.PutOptions{}); err != nil {
			t.Fatalf("Put %q: %v", k, err)
		}
	}
	for k, v := range want {
		e.get(t, k, v)
	}
	for k, v := range want {
		if tier := e.get(t, k, v); len(v) > 0 && tier != "ram" && tier != "ssd" {
			t.Errorf("%s (%d bytes) second read from %q", k, len(v), tier)
		}
	}

	// A range in the middle of the chunked blob.
	o, err := e.s.Open(ctx, "blob/5")
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 1000)
	if _, err := o.ReadAt(p, 300<<10); err != nil || !bytes.Equal(p, want["blob/5"][300<<10:300<<10+1000]) {
		t.Fatalf("range read: %v", err)
	}
	o.Close()

	// Overwrite and delete through the store.
	want["blob/3"] = randBytes(77, 61<<10)
	if _, err := e.s.Put(ctx, "blob/3", bytes.NewReader(want["blob/3"]), int64(len(want["blob/3"])), blockstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	e.get(t, "blob/3", want["blob/3"])
	if err := e.s.Delete(ctx, "blob/2", blockstore.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	delete(want, "blob/2")
	if _, err := e.s.Open(ctx, "blob/2"); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("deleted blob: %v", err)
	}

	// Push items through RAM eviction into the SSD: many blobs read twice.
	for i := range 40 {
		k := fmt.Sprintf("fill/%d", i)
		want[k] = randBytes(uint64(1000+i), 48<<10)
		if _, err := e.s.Put(ctx, k, bytes.NewReader(want[k]), int64(len(want[k])), blockstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		e.get(t, k, want[k])
		e.get(t, k, want[k])
	}
	e.s.ssd.waitIdle(t)
	st := e.s.Stats()
	if st.RAM.Evictions == 0 || st.SSD.Admissions == 0 {
		t.Fatalf("no RAM evictions (%d) or SSD admissions (%d)", st.RAM.Evictions, st.SSD.Admissions)
	}
	if len(e.s.Devices()) < 2 {
		t.Errorf("devices: %+v", e.s.Devices())
	}
	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Warm restart: same bytes, SSD index loaded.
	e = openReal(t, dir)
	if st := e.s.Stats(); st.SSDCache.Start[:4] != "warm" || st.SSD.Items == 0 {
		t.Fatalf("restart: %q with %d items", st.SSDCache.Start, st.SSD.Items)
	}
	ssdHits := 0
	for k, v := range want {
		if e.get(t, k, v) == "ssd" {
			ssdHits++
		}
	}
	if ssdHits == 0 {
		t.Errorf("no SSD hit after warm restart")
	}
}
