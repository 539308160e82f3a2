package node_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"strata/node"
	"strata/node/nodetest"
)

// discardWriter is a ResponseWriter that keeps nothing, so benchmarks
// measure the handler rather than a recorder's buffer.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func benchServer(b *testing.B) (*node.Server, *nodetest.MemStore) {
	store := nodetest.NewMemStore(0)
	srv, err := node.New(node.DefaultConfig(b.TempDir()), store, nil)
	if err != nil {
		b.Fatal(err)
	}
	return srv, store
}

// BenchmarkHandlerGet measures the HTTP layer's cost per GET of a small
// blob (auth off, in-memory store, no network).
func BenchmarkHandlerGet(b *testing.B) {
	srv, _ := benchServer(b)
	h := srv.Handler()
	put := newRequest(http.MethodPut, "/blobs/bench/key", bytes.NewReader(make([]byte, 4096)))
	h.ServeHTTP(httptest.NewRecorder(), put)
	r := newRequest(http.MethodGet, "/blobs/bench/key", nil)
	w := &discardWriter{h: http.Header{}}
	b.SetBytes(4096)
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkHandlerPut measures the HTTP layer's cost per PUT of a small blob.
func BenchmarkHandlerPut(b *testing.B) {
	srv, _ := benchServer(b)
	h := srv.Handler()
	body := strings.Repeat("x", 4096)
	w := &discardWriter{h: http.Header{}}
	b.SetBytes(4096)
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		r := newRequest(http.MethodPut, "/blobs/bench/key", io.NopCloser(strings.NewReader(body)))
		r.ContentLength = int64(len(body))
		h.ServeHTTP(w, r)
	}
}
