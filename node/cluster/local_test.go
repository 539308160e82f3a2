package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"strata/blockstore"
	"strata/tiering"
)

// TestLocalTiered drives the adapter over a real tiered store: the
// node.Store part (put, open with a tier, delete), the index-only lookups
// with tombstones, the version clock, and Drop.
func TestLocalTiered(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bs, err := blockstore.Open(ctx, blockstore.Options{
		DataDirs: []string{filepath.Join(dir, "hdd")}, IndexDir: filepath.Join(dir, "index"),
		VolumeSize: 16 << 20, ChunkSize: 256 << 10, MaxBlobSize: 4 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tiering.Open(ctx, tiering.Options{Backend: bs, RAMCacheBytes: 1 << 20})
	if err != nil {
		bs.Close()
		t.Fatal(err)
	}
	defer ts.Close()
	local := LocalTiered(ts)

	v := local.NextVersion()
	if _, err := local.Put(ctx, "k", bytes.NewReader([]byte("value")), 5, blockstore.PutOptions{Version: v}); err != nil {
		t.Fatal(err)
	}
	obj, err := local.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || string(got) != "value" || obj.Tier() == "" {
		t.Fatalf("Open: %q, tier %q, %v", got, obj.Tier(), err)
	}
	if err := local.Delete(ctx, "k", blockstore.DeleteOptions{Version: v + 1}); err != nil {
		t.Fatal(err)
	}
	e, err := local.Lookup(ctx, "k")
	if err != nil || !e.Deleted || e.Version != v+1 {
		t.Fatalf("Lookup of the deleted key: %+v, %v; want its tombstone", e, err)
	}
	if ents, err := local.Scan(ctx, "", 10); err != nil || len(ents) != 1 || !ents[0].Deleted {
		t.Fatalf("Scan: %+v, %v; want the tombstone", ents, err)
	}
	local.ObserveVersion(v + 1<<30)
	if next := local.NextVersion(); next <= v+1<<30 {
		t.Fatalf("NextVersion %d after observing %d", next, v+1<<30)
	}
	dropper, ok := local.(interface {
		Drop(ctx context.Context, key string, version uint64) error
	})
	if !ok {
		t.Fatal("LocalTiered's Local has no Drop")
	}
	if err := dropper.Drop(ctx, "k", v); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("Drop at a stale version: %v, want ErrNotFound", err)
	}
	if err := dropper.Drop(ctx, "k", v+1); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Lookup(ctx, "k"); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("Lookup after Drop: %v, want ErrNotFound", err)
	}
	if err := local.Healthy(); err != nil {
		t.Fatalf("Healthy: %v", err)
	}
}
