package tiering

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"strata/blockstore"
)

// cachedSegments counts the segments of one blob version held in RAM and
// on the SSD.
func (e *testEnv) cachedSegments(info blockstore.Info) (ram, ssd int) {
	for seg := range e.s.layout(info).nseg {
		k := ramKey{key: info.Key, version: info.Version, sum: info.Checksum, seg: uint32(seg)}
		if e.s.ram.containsQuietly(k) {
			ram++
		}
		if e.s.ssd.contains(k.hash()) {
			ssd++
		}
	}
	return ram, ssd
}

// TestDropInvalidatesCaches: Drop at the current version forgets the
// backend's copy and drops its cached items from RAM and from the SSD; a
// Drop at another version fails with ErrNotFound and leaves the backend
// and the caches as they were.
func TestDropInvalidatesCaches(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		offset  uint64 // added to the current version for the Drop
		wantErr error
	}{
		{"current version", 0, nil},
		{"older version", ^uint64(0), blockstore.ErrNotFound}, // -1
		{"newer version", 1, blockstore.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openEnv(t, smallOpts(t, newFakeBackend(64<<10)))
			ramBlob, ssdBlob := randBytes(1, 8<<10), randBytes(2, 40<<10)
			ramInfo := e.put("ram", ramBlob) // written through to RAM
			ssdInfo := e.put("ssd", ssdBlob) // 3 segments
			e.mustGet("ssd", ssdBlob)
			e.mustGet("ssd", ssdBlob)
			// Evict it from RAM into the SSD (read twice: admitted).
			for seg := range 3 {
				k := ramKey{key: "ssd", version: ssdInfo.Version, sum: ssdInfo.Checksum, seg: uint32(seg)}
				v, _ := e.s.ram.get(k)
				e.s.onRAMEvict(k, v)
				e.s.ram.invalidate(k)
			}
			e.s.ssd.waitIdle(t)
			if r, _ := e.cachedSegments(ramInfo); r != 1 {
				t.Fatalf("setup: %d RAM segments of the small blob, want 1", r)
			}
			if _, s := e.cachedSegments(ssdInfo); s != 3 {
				t.Fatalf("setup: %d SSD segments of the large blob, want 3", s)
			}
			for _, info := range []blockstore.Info{ramInfo, ssdInfo} {
				err := e.s.Drop(ctx, info.Key, info.Version+tc.offset)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Fatalf("Drop %q: %v, want %v", info.Key, err, tc.wantErr)
				}
			}
			ramR, _ := e.cachedSegments(ramInfo)
			_, ssdS := e.cachedSegments(ssdInfo)
			if tc.wantErr != nil {
				if ramR != 1 || ssdS != 3 {
					t.Fatalf("a refused Drop changed the caches: %d RAM, %d SSD segments left", ramR, ssdS)
				}
				e.mustGet("ram", ramBlob)
				e.mustGet("ssd", ssdBlob)
				return
			}
			if ramR != 0 || ssdS != 0 {
				t.Fatalf("after Drop: %d RAM segments of the small blob, %d SSD segments of the large one, want none", ramR, ssdS)
			}
			for _, k := range []string{"ram", "ssd"} {
				if _, err := e.s.Open(ctx, k); !errors.Is(err, blockstore.ErrNotFound) {
					t.Fatalf("Open %q after Drop: %v, want ErrNotFound", k, err)
				}
			}
		})
	}
}

// TestReplicaMethodsPassThrough runs Lookup, Scan, NextVersion,
// ObserveVersion and Drop over a real blockstore: tombstones are seen,
// versions come from the backend's clock, a dropped key is gone.
func TestReplicaMethodsPassThrough(t *testing.T) {
	ctx := context.Background()
	e := openReal(t, t.TempDir())
	defer e.s.Close()
	put := func(key, value string, version uint64) blockstore.Info {
		t.Helper()
		info, err := e.s.Put(ctx, key, bytes.NewReader([]byte(value)), int64(len(value)), blockstore.PutOptions{Version: version})
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	put("a", "live", 100)
	put("b", "deleted", 200)
	if err := e.s.Delete(ctx, "b", blockstore.DeleteOptions{Version: 300}); err != nil {
		t.Fatal(err)
	}
	put("c", "dropped", 400)

	if got, err := e.s.Lookup(ctx, "b"); err != nil || !got.Deleted || got.Version != 300 {
		t.Fatalf("Lookup of a deleted key: %+v, %v; want a tombstone at 300", got, err)
	}
	ents, err := e.s.Scan(ctx, "", 10)
	if err != nil || len(ents) != 3 || ents[0].Key != "a" || !ents[1].Deleted || ents[2].Key != "c" {
		t.Fatalf("Scan: %+v, %v", ents, err)
	}
	if err := e.s.Drop(ctx, "c", 400); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Lookup(ctx, "c"); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("Lookup after Drop: %v, want ErrNotFound", err)
	}
	if ents, err := e.s.Scan(ctx, "a", 10); err != nil || len(ents) != 1 || ents[0].Key != "b" {
		t.Fatalf("Scan after a and the drop of c: %+v, %v", ents, err)
	}

	v1 := e.s.NextVersion()
	e.s.ObserveVersion(v1 + 1<<40)
	v2 := e.s.NextVersion()
	if v2 <= v1+1<<40 {
		t.Fatalf("NextVersion %d after observing %d", v2, v1+1<<40)
	}
	if info, err := e.s.Put(ctx, "d", bytes.NewReader(nil), 0, blockstore.PutOptions{}); err != nil || info.Version <= v2 {
		t.Fatalf("a store-stamped Put after NextVersion %d: version %d, %v", v2, info.Version, err)
	}
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Lookup(ctx, "a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Lookup after Close: %v, want ErrClosed", err)
	}
	if err := e.s.Drop(ctx, "a", 100); !errors.Is(err, ErrClosed) {
		t.Fatalf("Drop after Close: %v, want ErrClosed", err)
	}
}
