package node_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"strata/blockstore"
)

// TestNativeGetStoredHeaders: a blob stored with metadata (as the S3 API
// writes it) answers its representation headers on the native GET and
// HEAD, and nothing else of its metadata; an error answer carries none.
func TestNativeGetStoredHeaders(t *testing.T) {
	e := newEnv(t, nil)
	meta := map[string]string{
		"Content-Encoding":    "gzip",
		"Cache-Control":       "max-age=60",
		"Content-Disposition": `attachment; filename="a.txt"`,
		"X-Amz-Meta-Secret":   "user metadata",
		"X-Strata-S3-Etag":    "abc-2",
	}
	if _, err := e.store.Put(context.Background(), "b/k", strings.NewReader("body"), 4, blockstore.PutOptions{Meta: meta}); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		w := e.do(method, "/blobs/b/k", nil)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d", method, w.Code)
		}
		for _, name := range []string{"Content-Encoding", "Cache-Control", "Content-Disposition"} {
			if got := w.Header().Get(name); got != meta[name] {
				t.Errorf("%s: %s %q, want %q", method, name, got, meta[name])
			}
		}
		for _, name := range []string{"X-Amz-Meta-Secret", "X-Strata-S3-Etag", "Content-Language", "Expires"} {
			if got := w.Header().Get(name); got != "" {
				t.Errorf("%s: %s %q, want none", method, name, got)
			}
		}
	}
	w := e.do(http.MethodGet, "/blobs/b/k", nil, "Range", "bytes=10-20")
	if w.Code != http.StatusRequestedRangeNotSatisfiable || w.Header().Get("Content-Encoding") != "" {
		t.Fatalf("416: %d, Content-Encoding %q", w.Code, w.Header().Get("Content-Encoding"))
	}
	e.store.SetReadFault(errors.New("boom"), 0)
	w = e.do(http.MethodGet, "/blobs/b/k", nil)
	if w.Code == http.StatusOK || w.Header().Get("Content-Encoding") != "" {
		t.Fatalf("failed read: %d, Content-Encoding %q", w.Code, w.Header().Get("Content-Encoding"))
	}
	// A blob without metadata answers none of them.
	e.store.SetReadFault(nil, 0)
	e.put("plain", "x")
	if w := e.do(http.MethodGet, "/blobs/plain", nil); w.Header().Get("Content-Encoding") != "" || w.Header().Get("Cache-Control") != "" {
		t.Fatalf("plain blob: %v", w.Header())
	}
}
