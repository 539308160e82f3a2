package peer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"strata/blockstore"
	"strata/ioengine/memfs"
	"strata/node"
	"strata/node/replication"
	"strata/tiering"
)

// tieredBackend is a peer.Backend over a real tiering store (a blockstore
// on memfs): its versioned Put returns without reading the body when it
// already holds something at least as new, as the node's does.
type tieredBackend struct {
	ts    *tiering.Store
	store node.Store
}

func newTieredBackend(t *testing.T) *tieredBackend {
	t.Helper()
	ctx := context.Background()
	bs, err := blockstore.Open(ctx, blockstore.Options{
		FS: memfs.New(memfs.Options{}), DataDirs: []string{"/data"}, IndexDir: t.TempDir(),
		VolumeSize: 32 << 20, ChunkSize: 64 << 10, MaxBlobSize: 16 << 20, MaxBatchBytes: 256 << 10,
	})
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
			t.Errorf("closing the store: %v", err)
		}
	})
	return &tieredBackend{ts: ts, store: node.Tiered(ts)}
}

func (b *tieredBackend) ApplyPut(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	return b.ts.Put(ctx, key, r, size, opts)
}

func (b *tieredBackend) ApplyCompose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	return b.ts.Compose(ctx, key, parts, opts)
}

func (b *tieredBackend) ApplyDelete(ctx context.Context, key string, version uint64) error {
	return b.ts.Delete(ctx, key, blockstore.DeleteOptions{Version: version})
}

func (b *tieredBackend) Lookup(ctx context.Context, key string) (blockstore.Entry, error) {
	return b.ts.Lookup(ctx, key)
}

func (b *tieredBackend) OpenLocal(ctx context.Context, key string) (node.Object, error) {
	return b.store.Open(ctx, key)
}

var errUnused = errors.New("not used by this test")

func (b *tieredBackend) Digest(ctx context.Context, forPeer string) (replication.Digest, error) {
	return replication.Digest{}, errUnused
}

func (b *tieredBackend) Entries(ctx context.Context, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error) {
	return nil, errUnused
}

// A replica that already holds something newer (or a tombstone at the
// same version) acknowledges a replica write with what it holds, although
// its store never read the body: the write is superseded there, which is
// as durable as the write itself. Before the fix the handler took the
// unread body for a store bug and answered 500.
func TestPutReplicaOverNewerIsAcknowledged(t *testing.T) {
	backend := newTieredBackend(t)
	e := newEnv(t, withBackend(backend))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v := version(time.Now().UnixMilli(), 5)
	big := bytes.Repeat([]byte("older bytes "), 400<<10) // 4.7 MiB: more than the sockets buffer
	for _, tc := range []struct {
		name, key string
		data      []byte
		size      int64
	}{
		{"small", "small", []byte("old"), 3},
		{"unknown size", "unsized", []byte("old"), -1},
		{"empty", "empty", nil, 0},
		{"large", "large", big, int64(len(big))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held, err := e.client.PutReplica(ctx, e.addr, tc.key, strings.NewReader("new"), 3, blockstore.PutOptions{Version: v, ContentType: "text/plain"})
			if err != nil || held.Version != v {
				t.Fatalf("PutReplica at %d = %+v, %v", v, held, err)
			}
			check := func(what string, at uint64, want blockstore.Info) {
				t.Helper()
				info, err := e.client.PutReplica(ctx, e.addr, tc.key, bytes.NewReader(tc.data), tc.size, blockstore.PutOptions{Version: at})
				if err != nil {
					t.Fatalf("%s: PutReplica at %d: %v; want it acknowledged", what, at, err)
				}
				if info.Key != tc.key || info.Version != want.Version || info.Size != want.Size || info.Checksum != want.Checksum {
					t.Fatalf("%s: PutReplica at %d = %+v; want what the replica holds, %+v", what, at, info, want)
				}
			}
			check("over a newer blob", v-1, held)
			r, _, err := e.client.OpenRange(ctx, e.addr, tc.key, v, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(got) != "new" {
				t.Fatalf("the replica holds %q, %v; want the newer write's bytes", got, err)
			}

			if err := e.client.DeleteReplica(ctx, e.addr, tc.key, v); err != nil {
				t.Fatal(err)
			}
			check("over a newer tombstone", v-1, blockstore.Info{Key: tc.key, Version: v})
			check("over a tombstone at the same version", v, blockstore.Info{Key: tc.key, Version: v})
			if ent, err := e.client.Lookup(ctx, e.addr, tc.key); err != nil || !ent.Deleted || ent.Version != v {
				t.Fatalf("Lookup = %+v, %v; want the tombstone at %d", ent, err, v)
			}
		})
	}
	// The connection an early answer closed is not reused: a fresh
	// request after it still works.
	if _, err := e.client.Lookup(ctx, e.addr, "small"); err != nil {
		t.Fatalf("Lookup after the early answers: %v", err)
	}
}
