package blockstore

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"strata/ioengine/memfs"
)

// TestFullDiskStillTakesDeletes: when a disk has no room for puts, deletes
// still get their tombstones written (from the volume's reserve), and
// Writable reports ErrNoSpace, the same before and after a restart, while
// reads go on.
func TestFullDiskStillTakesDeletes(t *testing.T) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{FreeBytes: 2*(4<<20) + 64<<10}) // one volume of blobs, one of space reserve
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	if err := s.Writable(); err != nil {
		t.Fatalf("Writable on an empty disk: %v", err)
	}
	written := fillUntilNoSpace(t, s, 200)
	if len(written) < 8 {
		t.Fatalf("only %d blobs fit", len(written))
	}
	var keys []string
	for k := range written {
		keys = append(keys, k)
	}
	check := func(when string, deleteKeys []string) {
		t.Helper()
		if err := s.Writable(); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("%s: Writable: %v, want ErrNoSpace", when, err)
		}
		if _, err := s.Put(ctx, "more", bytes.NewReader([]byte("x")), 1, PutOptions{}); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("%s: Put on a full disk: %v, want ErrNoSpace", when, err)
		}
		for _, k := range deleteKeys {
			if err := s.Delete(ctx, k, DeleteOptions{}); err != nil {
				t.Fatalf("%s: Delete %s on a full disk: %v", when, k, err)
			}
			if _, err := s.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: %s still there after Delete: %v", when, k, err)
			}
			delete(written, k)
		}
		for k, v := range written {
			mustGet(t, s, k, v)
		}
	}
	check("before restart", keys[:4])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	check("after restart", keys[4:8])
	for _, k := range keys[:8] {
		if _, err := s.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted %s back after restart: %v", k, err)
		}
	}
	mfs.SetFreeBytes(64 << 20)
	if err := s.Writable(); err != nil {
		t.Fatalf("Writable after freeing space: %v", err)
	}
	put(t, s, "resumed", []byte("after space was freed"))
}

func TestMinVolumeSize(t *testing.T) {
	for _, o := range []Options{{}, testOptions(t, nil), {ChunkSize: 64 << 10, MaxBatchBytes: 64 << 10, TombstoneReserve: 8192}} {
		o.FS = memfs.New(memfs.Options{})
		o.DataDirs = []string{"/d"}
		o.IndexDir = t.TempDir()
		min, err := MinVolumeSize(o)
		if err != nil {
			t.Fatal(err)
		}
		o.VolumeSize = min
		s, err := Open(context.Background(), o)
		if err != nil {
			t.Fatalf("Open at MinVolumeSize %d: %v", min, err)
		}
		s.Close()
		o.VolumeSize = min - formatAlign
		if err := o.normalize(); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("volume size %d below the minimum %d accepted: %v", o.VolumeSize, min, err)
		}
	}
}
