package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"strata/blockstore"
	"strata/ioengine/memfs"
	"strata/node"
	"strata/tiering"
)

// tieredLocalOnMemfs opens a tiered store over a blockstore on memfs (the index in
// a temp dir), small chunks so a few hundred KiB is a chunked blob.
func tieredLocalOnMemfs(t testing.TB, id string) Local {
	t.Helper()
	return openTieredLocal(t, id, blockstore.Options{
		FS: memfs.New(memfs.Options{}), DataDirs: []string{"/data-" + id}, IndexDir: t.TempDir(),
		VolumeSize: 8 << 20, ChunkSize: 64 << 10, MaxBlobSize: 4 << 20, MaxBatchBytes: 256 << 10,
	})
}

// openTieredLocal opens a blockstore with o and a tiered store (1 MiB of
// RAM cache) over it, as name's Local, closed when the test ends.
func openTieredLocal(t testing.TB, name string, o blockstore.Options) Local {
	t.Helper()
	ctx := context.Background()
	bs, err := blockstore.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tiering.Open(ctx, tiering.Options{Backend: bs, RAMCacheBytes: 1 << 20})
	if err != nil {
		bs.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ts.Close(); err != nil {
			t.Errorf("close %s's store: %v", name, err)
		}
	})
	return LocalTiered(ts)
}

// The coordinator over real stores (blockstore's versioned last-writer-wins
// Put and Delete, its hlc, its index view with tombstones): quorum writes
// with a dead home, chunked blobs, concurrent coordinators, reads from
// every node, proxy reads, deletes, listing.
func TestOverRealStores(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := newTestClusterOn(t, 4, nil, tieredLocalOnMemfs)
	key := tc.keyWithHomes("real", true, "n1", "n2", "n3")
	body := pattern(9, 300<<10+5) // chunked: 64 KiB chunks

	info, err := tc.put(ctx, "n2", key, body)
	if err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	if got := tc.holding(key, info.Version); len(got) != 3 {
		t.Fatalf("held by %v, want its three homes", got)
	}
	for _, n := range tc.nodes {
		data, tier, err := tc.readAll(ctx, n.id, key)
		if err != nil || !bytes.Equal(data, body) {
			t.Fatalf("read via %s: %d bytes, %v", n.id, len(data), err)
		}
		if (n.id == "n4") != (tier == "peer") {
			t.Errorf("read via %s: tier %q", n.id, tier)
		}
	}

	// Concurrent coordinators overwrite it; every home ends on the newest.
	var wg sync.WaitGroup
	var mu sync.Mutex
	bodies := map[uint64][]byte{}
	for i, n := range tc.nodes {
		b := pattern(byte(20+i), 200<<10+i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := tc.put(ctx, n.id, key, b)
			if err != nil {
				t.Errorf("Put via %s: %v", n.id, err)
				return
			}
			mu.Lock()
			bodies[info.Version] = b
			mu.Unlock()
		}()
	}
	wg.Wait()
	waitStragglers(t, tc)
	var newest uint64
	for v := range bodies {
		newest = max(newest, v)
	}
	if got := tc.holding(key, newest); len(got) != 3 {
		t.Fatalf("newest version %x held by %v, want all three homes", newest, got)
	}
	for _, id := range []string{"n1", "n3", "n4"} {
		data, _, err := tc.readAll(ctx, id, key)
		if err != nil || !bytes.Equal(data, bodies[newest]) {
			t.Fatalf("read via %s after the race: %d bytes, %v", id, len(data), err)
		}
	}

	// A dead home: acked by the other two, hinted.
	tc.setDead("n3")
	if _, err := tc.put(ctx, "n1", key, []byte("while n3 is down")); err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	if h := tc.node("n1").hinted(); len(h) != 1 || h[0].target != "n3" {
		t.Errorf("hints %+v, want one for n3", h)
	}
	obj, err := tc.node("n4").c.Open(node.WithConsistencyOne(ctx), key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(obj)
	obj.Close()
	if string(got) != "while n3 is down" && !bytes.Equal(got, bodies[newest]) {
		t.Errorf("consistency=one read %d unexpected bytes", len(got))
	}

	// List, then delete: gone everywhere, a second delete is not found.
	for i := range 5 {
		if _, err := tc.put(ctx, "n4", fmt.Sprintf("list/%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	waitStragglers(t, tc)
	if infos, err := tc.node("n2").c.List(ctx, "list/", "", 100); err != nil || len(infos) != 5 {
		t.Errorf("List = %d keys, %v; want 5", len(infos), err)
	}
	if err := tc.node("n4").c.Delete(ctx, key, blockstore.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	for _, id := range []string{"n1", "n2", "n4"} {
		if _, err := tc.node(id).c.Stat(ctx, key); !errors.Is(err, blockstore.ErrNotFound) {
			t.Errorf("Stat via %s after delete: %v, want ErrNotFound", id, err)
		}
	}
	if err := tc.node("n1").c.Delete(ctx, key, blockstore.DeleteOptions{}); !errors.Is(err, blockstore.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if infos, err := tc.node("n1").c.List(ctx, "", "", 100); err != nil || len(infos) != 5 {
		t.Errorf("List after the delete = %d keys, %v; want the 5 others", len(infos), err)
	}
}
