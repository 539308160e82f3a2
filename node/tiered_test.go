package node_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"strata/blockstore"
	"strata/node"
	"strata/tiering"
)

// newTieredEnv serves the real stack: tiering (RAM + SSD cache) over
// blockstore, on the test's temp dir.
func newTieredEnv(t *testing.T, mutate func(*node.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	cfg := node.DefaultConfig(dir)
	cfg.ChunkSize, cfg.VolumeSize, cfg.MaxBlobSize = 1<<20, 32<<20, 8<<20
	cfg.RAMCacheSize, cfg.SSDCacheSize = 4<<20, 0
	if mutate != nil {
		mutate(&cfg)
	}
	ctx := context.Background()
	bs, err := blockstore.Open(ctx, blockstore.Options{
		DataDirs: cfg.HDDDirs, IndexDir: cfg.IndexDir,
		VolumeSize: int64(cfg.VolumeSize), ChunkSize: int64(cfg.ChunkSize), MaxBlobSize: int64(cfg.MaxBlobSize),
	})
	if err != nil {
		t.Fatalf("blockstore.Open: %v", err)
	}
	ts, err := tiering.Open(ctx, tiering.Options{
		Backend: bs, RAMCacheBytes: int64(cfg.RAMCacheSize), SSDCacheBytes: int64(cfg.SSDCacheSize),
		SSDPath: filepath.Join(cfg.SSDDir, "cache"),
	})
	if err != nil {
		bs.Close()
		t.Fatalf("tiering.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := ts.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	srv, err := node.New(cfg, node.Tiered(ts), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, cfg: cfg, srv: srv, tiered: ts}
}

func TestTieredStack(t *testing.T) {
	e := newTieredEnv(t, nil)
	big := make([]byte, 3<<20+12345) // four chunks
	for i := range big {
		big[i] = byte(rand.Uint32())
	}
	w := e.do(http.MethodPut, "/blobs/big", bytes.NewReader(big), "Content-Type", "application/x-test")
	wantStatus(t, w, http.StatusCreated, "")
	etag := w.Header().Get("ETag")

	validTier := map[string]bool{"ram": true, "ssd": true, "hdd": true}
	for i := 0; i < 2; i++ {
		g := e.do(http.MethodGet, "/blobs/big", nil)
		wantStatus(t, g, http.StatusOK, "")
		if !bytes.Equal(g.Body.Bytes(), big) || g.Header().Get("ETag") != etag || g.Header().Get("Content-Type") != "application/x-test" {
			t.Fatalf("GET %d: %d bytes, headers %v", i, g.Body.Len(), g.Header())
		}
		if tier := g.Header().Get("X-Strata-Tier"); !validTier[tier] {
			t.Fatalf("X-Strata-Tier %q", tier)
		}
	}
	// A range across a chunk boundary, and one in the last chunk.
	for _, r := range [][2]int{{1<<20 - 100, 1<<20 + 100}, {3<<20 + 5, len(big) - 1}} {
		g := e.do(http.MethodGet, "/blobs/big", nil, "Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		wantStatus(t, g, http.StatusPartialContent, "")
		if !bytes.Equal(g.Body.Bytes(), big[r[0]:r[1]+1]) {
			t.Fatalf("range %v: wrong bytes", r)
		}
	}
	wantStatus(t, e.do(http.MethodGet, "/blobs/big", nil, "Range", fmt.Sprintf("bytes=%d-", len(big))), 416, "range_not_satisfiable")

	// Chunked upload over the limit: refused, nothing stored.
	wantStatus(t, e.doChunked("/blobs/huge", strings.Repeat("z", 8<<20+1)), http.StatusRequestEntityTooLarge, "too_large")
	wantStatus(t, e.do(http.MethodGet, "/blobs/huge", nil), http.StatusNotFound, "not_found")

	e.put("small", "tiny")
	if p := e.list(t, ""); len(p.Keys) != 2 || p.Keys[0].Key != "big" || p.Keys[1].Key != "small" || p.Keys[0].Size != int64(len(big)) {
		t.Fatalf("list %+v", p)
	}
	wantStatus(t, e.do(http.MethodDelete, "/blobs/big", nil), http.StatusNoContent, "")
	wantStatus(t, e.do(http.MethodGet, "/blobs/big", nil), http.StatusNotFound, "not_found")
	wantStatus(t, e.do(http.MethodDelete, "/blobs/big", nil), http.StatusNotFound, "not_found")
	wantStatus(t, e.do(http.MethodGet, "/readyz", nil), http.StatusOK, "")

	m := e.do(http.MethodGet, "/metrics", nil).Body.String()
	for _, want := range []string{`strata_device_ops_total{class="write",device=`, `strata_tier_hits_total{tier="ram"}`, `strata_tier_hits_total{tier="hdd"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// HEAD carries the X-Strata-Tier of the GET it mirrors, through the real
// tiered store: hdd before the blob is cached, ram once a GET cached it;
// and HEAD itself caches nothing.
func TestTieredHeadTierMatchesGet(t *testing.T) {
	e := newTieredEnv(t, func(c *node.Config) { c.RAMCacheSize = 16 << 20 })
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB, two chunks: not written through to RAM
	wantStatus(t, e.do(http.MethodPut, "/blobs/k", bytes.NewReader(body)), http.StatusCreated, "")
	tierOf := func(method string) string {
		w := e.do(method, "/blobs/k", nil)
		wantStatus(t, w, http.StatusOK, "")
		if err := e.tiered.WaitFills(context.Background()); err != nil { // fills are applied off the request path
			t.Fatal(err)
		}
		return w.Header().Get("X-Strata-Tier")
	}
	for i := 0; i < 3; i++ {
		head, head2 := tierOf(http.MethodHead), tierOf(http.MethodHead)
		get := tierOf(http.MethodGet)
		if head != get || head2 != head {
			t.Fatalf("round %d: HEAD said %q then %q, the GET that followed %q", i, head, head2, get)
		}
		if i == 0 && get != "hdd" || i > 0 && get != "ram" {
			t.Fatalf("round %d: GET from %q", i, get)
		}
	}
	e.put("empty", "")
	for _, m := range []string{http.MethodHead, http.MethodGet} {
		if w := e.do(m, "/blobs/empty", nil); w.Header().Get("X-Strata-Tier") != "hdd" {
			t.Fatalf("%s of an empty blob: tier %q", m, w.Header().Get("X-Strata-Tier"))
		}
	}
}

// Through the real stack /readyz reports the store's writability, and so
// does strata_writable.
func TestTieredReadyzWritable(t *testing.T) {
	e := newTieredEnv(t, nil)
	w := e.do(http.MethodGet, "/readyz", nil)
	wantStatus(t, w, http.StatusOK, "")
	if !strings.Contains(w.Body.String(), `"writable":true`) {
		t.Fatalf("readyz body %s", w.Body)
	}
	if m := e.do(http.MethodGet, "/metrics", nil).Body.String(); !strings.Contains(m, "\nstrata_writable 1\n") {
		t.Fatalf("strata_writable missing or 0")
	}
}

// Through the real stack the HDD tier's disks reach /readyz and /metrics:
// none failed, and each disk's health, usage and scrub series.
func TestTieredDiskHealth(t *testing.T) {
	e := newTieredEnv(t, nil)
	e.put("k", "v")
	if w := e.do(http.MethodGet, "/readyz", nil); !strings.Contains(w.Body.String(), `"failed_disks":[]`) {
		t.Fatalf("readyz body %s", w.Body)
	}
	m := e.do(http.MethodGet, "/metrics", nil).Body.String()
	for _, want := range []string{
		"\nstrata_failed_disks 0\n",
		`strata_disk_failed{device="data0",dir=`,
		`strata_disk_io_errors_total{device="data0",dir=`,
		`strata_disk_used_bytes{device="data0",dir=`,
		`strata_scrub_corrupt_records_total{device="data0",dir=`,
		`strata_scrub_last_complete_timestamp_seconds{device="data0",dir=`,
		`strata_scrub_progress_ratio{device="data0",dir=`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestContentTypeLimitIsTheStores checks that the node and the store apply
// one Content-Type limit: every length past it answers the same class of
// error, and the longest allowed one is stored and served back.
func TestContentTypeLimitIsTheStores(t *testing.T) {
	e := newTieredEnv(t, nil)
	for _, tc := range []struct {
		n      int
		status int
		code   string
	}{
		{blockstore.MaxContentTypeLen, http.StatusCreated, ""},
		{blockstore.MaxContentTypeLen + 1, http.StatusBadRequest, "invalid_argument"},
		{blockstore.MaxContentTypeLen + 2, http.StatusBadRequest, "invalid_argument"},
		{300, http.StatusBadRequest, "invalid_argument"},
	} {
		ct := strings.Repeat("a", tc.n)
		key := fmt.Sprintf("ct-%d", tc.n)
		wantStatus(t, e.do(http.MethodPut, "/blobs/"+key, strings.NewReader("x"), "Content-Type", ct), tc.status, tc.code)
		if tc.status != http.StatusCreated {
			wantStatus(t, e.do(http.MethodGet, "/blobs/"+key, nil), http.StatusNotFound, "not_found")
			continue
		}
		if got := e.do(http.MethodGet, "/blobs/"+key, nil).Header().Get("Content-Type"); got != ct {
			t.Errorf("Content-Type of %d bytes served back as %d bytes", tc.n, len(got))
		}
	}
}
