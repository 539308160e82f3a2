package node_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
)

// copyOnlyStore hides the objects' WriteRange, so GETs take the path of
// objects that can only be read (copied through the pooled buffer).
type copyOnlyStore struct{ *nodetest.MemStore }

func (s copyOnlyStore) Open(ctx context.Context, key string) (node.Object, error) {
	o, err := s.MemStore.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return copyOnlyObject{o}, nil
}

type copyOnlyObject struct{ node.Object }

// getPathStores are the two ways a blob's bytes reach the client: handed
// over by the object (WriteRange), or read and copied.
func getPathStores() map[string]func(*nodetest.MemStore) node.Store {
	return map[string]func(*nodetest.MemStore) node.Store{
		"write-range": func(m *nodetest.MemStore) node.Store { return m },
		"copy":        func(m *nodetest.MemStore) node.Store { return copyOnlyStore{m} },
	}
}

func getPathEnv(t *testing.T, wrap func(*nodetest.MemStore) node.Store) (*nodetest.MemStore, http.Handler) {
	t.Helper()
	cfg := node.DefaultConfig(t.TempDir())
	cfg.MaxBlobSize = 4 << 20
	m := nodetest.NewMemStore(0)
	srv, err := node.New(cfg, wrap(m), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, srv.Handler()
}

func serveOne(h http.Handler, method, target string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	r := newRequest(method, target, body)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// A plain GET (no Range, no precondition) is answered without
// http.ServeContent; its answer must be the one ServeContent gives: the
// same headers as a GET whose If-None-Match does not match, and as HEAD.
func TestPlainGetAnswersAsServeContent(t *testing.T) {
	for name, wrap := range getPathStores() {
		for _, size := range []int{0, 1, 4096, 300 << 10} {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				m, h := getPathEnv(t, wrap)
				m.SetTier("ram")
				data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
				if w := serveOne(h, http.MethodPut, "/blobs/k", bytes.NewReader(data), "Content-Type", "image/png"); w.Code != http.StatusCreated {
					t.Fatalf("PUT: %d %s", w.Code, w.Body)
				}
				plain := serveOne(h, http.MethodGet, "/blobs/k", nil)
				served := serveOne(h, http.MethodGet, "/blobs/k", nil, "If-None-Match", `"not-this-one"`)
				head := serveOne(h, http.MethodHead, "/blobs/k", nil)
				for _, w := range []*httptest.ResponseRecorder{plain, served, head} {
					if w.Code != http.StatusOK {
						t.Fatalf("status %d, want 200: %s", w.Code, w.Body)
					}
				}
				if !bytes.Equal(plain.Body.Bytes(), data) || !bytes.Equal(served.Body.Bytes(), data) {
					t.Fatalf("bodies of %d and %d bytes, want the %d stored", plain.Body.Len(), served.Body.Len(), size)
				}
				want := headerLines(served.Header())
				if got := headerLines(plain.Header()); got != want {
					t.Fatalf("plain GET headers\n%s\nServeContent's\n%s", got, want)
				}
				wantHead := want
				if size == 0 {
					// A read of an empty blob touches no tier: HEAD's Locate says so.
					wantHead = strings.Replace(want, "X-Strata-Tier: ram", "X-Strata-Tier: hdd", 1)
				}
				if got := headerLines(head.Header()); got != wantHead {
					t.Fatalf("HEAD headers\n%s\nGET's\n%s", got, wantHead)
				}
				for _, k := range []string{"Etag", "Last-Modified", "Content-Length", "X-Strata-Tier", "Accept-Ranges"} {
					if plain.Header().Get(k) == "" {
						t.Fatalf("plain GET without %s", k)
					}
				}
			})
		}
	}
}

func headerLines(h http.Header) string {
	var b strings.Builder
	c := h.Clone()
	c.Del("Date")
	_ = c.Write(&b)
	return b.String()
}

// Ranges go through ServeContent; the bytes still come from the object
// the same way, single range or several.
func TestGetRangeBothPaths(t *testing.T) {
	for name, wrap := range getPathStores() {
		t.Run(name, func(t *testing.T) {
			_, h := getPathEnv(t, wrap)
			data := make([]byte, 200<<10)
			for i := range data {
				data[i] = byte(i * 31)
			}
			serveOne(h, http.MethodPut, "/blobs/k", bytes.NewReader(data))
			w := serveOne(h, http.MethodGet, "/blobs/k", nil, "Range", "bytes=70000-140000")
			if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), data[70000:140001]) {
				t.Fatalf("single range: %d, %d bytes", w.Code, w.Body.Len())
			}
			w = serveOne(h, http.MethodGet, "/blobs/k", nil, "Range", "bytes=0-9,100000-100009")
			if w.Code != http.StatusPartialContent || !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges") {
				t.Fatalf("two ranges: %d %s", w.Code, w.Header().Get("Content-Type"))
			}
			if !bytes.Contains(w.Body.Bytes(), data[100000:100010]) || !bytes.Contains(w.Body.Bytes(), data[:10]) {
				t.Fatal("multipart answer lacks the ranges' bytes")
			}
		})
	}
}

// A read failure before the first byte is an error answer, on both paths,
// without the blob's headers.
func TestGetReadFailureBeforeFirstByte(t *testing.T) {
	for name, wrap := range getPathStores() {
		t.Run(name, func(t *testing.T) {
			m, h := getPathEnv(t, wrap)
			serveOne(h, http.MethodPut, "/blobs/k", strings.NewReader(strings.Repeat("z", 10000)))
			m.SetReadFault(fmt.Errorf("%w: test", blockstore.ErrCorrupt), 0)
			w := serveOne(h, http.MethodGet, "/blobs/k", nil)
			if w.Code < 500 || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("answer %d %q, want a JSON 5xx", w.Code, w.Header().Get("Content-Type"))
			}
			for _, k := range []string{"Etag", "Last-Modified", "Content-Length"} {
				if v := w.Header().Get(k); v != "" && k != "Content-Length" {
					t.Fatalf("error answer carries %s: %s", k, v)
				}
			}
			if strings.Contains(w.Body.String(), "zzz") {
				t.Fatal("error answer carries blob bytes")
			}
		})
	}
}

// A read failure after bytes went out aborts the connection on both paths:
// the client sees a truncated body, never one passed off as complete.
func TestGetReadFailureMidStreamBothPaths(t *testing.T) {
	const size = 256 << 10
	for name, wrap := range getPathStores() {
		t.Run(name, func(t *testing.T) {
			m, h := getPathEnv(t, wrap)
			serveOne(h, http.MethodPut, "/blobs/k", strings.NewReader(strings.Repeat("y", size)))
			m.SetReadFault(fmt.Errorf("%w: test", blockstore.ErrCorrupt), 64<<10)
			ts := httptest.NewServer(h)
			defer ts.Close()
			req, err := http.NewRequest(http.MethodGet, ts.URL+"/blobs/k", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "localhost"
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err == nil || len(body) >= size {
				t.Fatalf("read %d of %d bytes, err %v: want a truncated body and an error", len(body), size, err)
			}
		})
	}
}
