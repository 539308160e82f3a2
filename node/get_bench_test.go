package node_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
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

// BenchmarkLeanGetRAM measures a keep-alive GET on the lean path (lean_get)
// over loopback TCP, served from the real tiered store's RAM cache, one
// request at a time on one connection: ns/op is a round trip (client and
// kernel included), allocs/op the node's allocations per request (the
// client allocates nothing).
func BenchmarkLeanGetRAM(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			srv := benchTieredServer(b, func(c *node.Config) { c.HTTP.LeanGet = true })
			h := srv.Handler()
			put := newRequest(http.MethodPut, "/blobs/bench/key", bytes.NewReader(make([]byte, size)))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, put)
			if rec.Code != http.StatusCreated {
				b.Fatalf("PUT: %d %s", rec.Code, rec.Body)
			}
			c, err := net.Dial("tcp", serveLoopback(b, srv))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /blobs/bench%2Fkey HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
			// The first answer fills the RAM cache if the PUT did not and
			// gives the answer's length: the head's is the same every time
			// (Date is of fixed width).
			var answer int
			for range 2 {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n != int64(size) || br.Buffered() != 0 {
					b.Fatalf("GET: %d, %d bytes, %d left over", resp.StatusCode, n, br.Buffered())
				}
				var head bytes.Buffer
				_ = resp.Header.Write(&head)
				answer = len("HTTP/1.1 200 OK\r\n") + head.Len() + len("\r\n") + size
				if tier := resp.Header.Get("X-Strata-Tier"); tier != "ram" {
					b.Logf("X-Strata-Tier %q", tier)
				}
			}
			buf := make([]byte, answer)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchTieredHandler is a node over tiering (64 MiB RAM cache, no SSD)
// over blockstore on the benchmark's temp dir.
func benchTieredHandler(b *testing.B) http.Handler {
	return benchTieredServer(b, nil).Handler()
}

// benchTieredServer is benchTieredHandler's Server, with mutate applied
// to its config.
func benchTieredServer(b *testing.B, mutate func(*node.Config)) *node.Server {
	b.Helper()
	dir := b.TempDir()
	cfg := node.DefaultConfig(dir)
	if mutate != nil {
		mutate(&cfg)
	}
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
	return srv
}
