package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
)

// TestApplyCompactionTombstoneHook: in cluster mode the store's options
// carry the cluster's tombstone grace and a hook that answers false until
// the cluster's TombstoneDroppable is bound, then asks it. A real store
// past both graces keeps its tombstone while the hook is unbound or
// refuses, and drops it once the bound hook agrees.
func TestApplyCompactionTombstoneHook(t *testing.T) {
	for _, tc := range []struct {
		name        string
		bind        func(context.Context, blockstore.Entry) bool // nil: never bound
		wantDropped bool
	}{
		{name: "unbound"},
		{name: "bound, refuses", bind: func(context.Context, blockstore.Entry) bool { return false }},
		{name: "bound, agrees", bind: func(context.Context, blockstore.Entry) bool { return true }, wantDropped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := node.DefaultConfig(t.TempDir())
			cfg.Cluster.Join = []string{"127.0.0.1:1"} // cluster mode
			cfg.Cluster.TombstoneGrace = time.Hour
			cfg.CompactInterval = 0 // passes run by hand here
			now := time.Now()
			o := blockstore.Options{
				DataDirs:      cfg.HDDDirs,
				IndexDir:      cfg.IndexDir,
				VolumeSize:    256 << 10,
				ChunkSize:     16 << 10,
				MaxBlobSize:   128 << 10,
				MaxBatchBytes: 64 << 10,
				IndexMmapSize: 1 << 20,
				Compression:   blockstore.CodecNone,
				Now:           func() time.Time { return now },
			}
			hook := &tombstoneHook{}
			applyCompaction(cfg, &o, hook)
			if o.TombstoneGrace != time.Hour || o.TombstoneDroppable == nil {
				t.Errorf("cluster mode: grace %v, hook set %v; want the cluster's grace (1h) and a hook", o.TombstoneGrace, o.TombstoneDroppable != nil)
			}
			var mu sync.Mutex
			var asked []string
			if tc.bind != nil {
				hook.bind(func(ctx context.Context, e blockstore.Entry) bool {
					mu.Lock()
					asked = append(asked, e.Key)
					mu.Unlock()
					return tc.bind(ctx, e)
				})
			}
			s, err := blockstore.Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			r := rand.New(rand.NewPCG(3, 3))
			put := func(key string) {
				b := make([]byte, 3000)
				for i := range b {
					b[i] = byte(r.IntN(256))
				}
				if _, err := s.Put(ctx, key, bytes.NewReader(b), int64(len(b)), blockstore.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 20 {
				put(fmt.Sprint("churn", i))
			}
			put("gone")
			if err := s.Delete(ctx, "gone", blockstore.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			for range 8 { // overwrites: the tombstone's volume fills with garbage and seals
				for i := range 20 {
					put(fmt.Sprint("churn", i))
				}
			}
			now = now.Add(11 * 24 * time.Hour) // past the cluster's grace and blockstore's default
			rep, err := s.Compact(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Volumes) == 0 {
				t.Fatalf("nothing compacted: %+v", rep)
			}
			e, err := s.Lookup(ctx, "gone")
			kept := err == nil && e.Deleted
			if !kept && !errors.Is(err, blockstore.ErrNotFound) {
				t.Fatal(err)
			}
			if kept == tc.wantDropped || (rep.TombstonesDropped > 0) != tc.wantDropped {
				t.Fatalf("tombstone kept %v (report %+v), want dropped %v", kept, rep, tc.wantDropped)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.bind != nil && len(asked) == 0 {
				t.Fatal("the bound hook was never asked: it does not reach the store")
			}
		})
	}
}
