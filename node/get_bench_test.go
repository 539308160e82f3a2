package node_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/tiering"
)

// BenchmarkHandlerGetRAM measures the HTTP layer's cost per GET of a blob
// served from the real tiered store's RAM cache (blockstore and bbolt
// underneath, auth off, no network), at the sizes of the hot GET rows.
// Compare with benchstat across commits: ns/op, B/op and allocs/op.
func BenchmarkHandlerGetRAM(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			h := benchTieredHandler(b)
			put := newRequest(http.MethodPut, "/blobs/bench/key", bytes.NewReader(make([]byte, size)))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, put)
			if rec.Code != http.StatusCreated {
				b.Fatalf("PUT: %d %s", rec.Code, rec.Body)
			}
			r := newRequest(http.MethodGet, "/blobs/bench/key", nil)
			r.Host = "localhost:7070"
			w := &connWriter{discardWriter{h: http.Header{}}}
			h.ServeHTTP(w, r) // fills the RAM cache if the PUT did not
			if got := w.h.Get("X-Strata-Tier"); got != "ram" {
				b.Fatalf("X-Strata-Tier %q, want ram", got)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}

// connWriter is a discardWriter that takes deadlines as a connection
// does, so http.ResponseController calls cost what they cost in serving.
type connWriter struct{ discardWriter }

func (c *connWriter) SetReadDeadline(time.Time) error  { return nil }
func (c *connWriter) SetWriteDeadline(time.Time) error { return nil }

// benchTieredHandler is a node over tiering (64 MiB RAM cache, no SSD)
// over blockstore on the benchmark's temp dir.
func benchTieredHandler(b *testing.B) http.Handler {
	b.Helper()
	dir := b.TempDir()
	cfg := node.DefaultConfig(dir)
	cfg.VolumeSize = 64 << 20
	cfg.RAMCacheSize, cfg.SSDCacheSize = 64<<20, 0
	ctx := context.Background()
	bs, err := blockstore.Open(ctx, blockstore.Options{
		DataDirs: cfg.HDDDirs, IndexDir: cfg.IndexDir,
		VolumeSize: int64(cfg.VolumeSize), ChunkSize: int64(cfg.ChunkSize), MaxBlobSize: int64(cfg.MaxBlobSize),
	})
	if err != nil {
		b.Fatalf("blockstore.Open: %v", err)
	}
	ts, err := tiering.Open(ctx, tiering.Options{
		Backend: bs, RAMCacheBytes: int64(cfg.RAMCacheSize), SSDPath: filepath.Join(cfg.SSDDir, "cache"),
	})
	if err != nil {
		bs.Close()
		b.Fatalf("tiering.Open: %v", err)
	}
	b.Cleanup(func() { _ = ts.Close() })
	srv, err := node.New(cfg, node.Tiered(ts), nil)
	if err != nil {
		b.Fatal(err)
	}
	return srv.Handler()
}
