package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/replication"
)

// stubBackend holds one 10-byte blob "k" and counts calls.
type stubBackend struct{ calls atomic.Int32 }

func (s *stubBackend) ApplyPut(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	s.calls.Add(1)
	n, err := io.Copy(io.Discard, r)
	return blockstore.Info{Key: key, Size: n, Version: opts.Version}, err
}

func (s *stubBackend) ApplyCompose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	s.calls.Add(1)
	return blockstore.Info{Key: key, Version: opts.Version}, nil
}

func (s *stubBackend) ApplyDelete(ctx context.Context, key string, version uint64) error {
	s.calls.Add(1)
	return nil
}

func (s *stubBackend) Lookup(ctx context.Context, key string) (blockstore.Entry, error) {
	s.calls.Add(1)
	return blockstore.Entry{Info: blockstore.Info{Key: key, Version: 1}}, nil
}

func (s *stubBackend) OpenLocal(ctx context.Context, key string) (node.Object, error) {
	s.calls.Add(1)
	return stubObject{bytes.NewReader([]byte("0123456789")), blockstore.Info{Key: key, Size: 10, Version: 1}}, nil
}

func (s *stubBackend) Digest(ctx context.Context, forPeer string) (replication.Digest, error) {
	s.calls.Add(1)
	return replication.Digest{}, nil
}

func (s *stubBackend) Entries(ctx context.Context, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error) {
	s.calls.Add(1)
	return nil, nil
}

type stubObject struct {
	*bytes.Reader
	info blockstore.Info
}

func (o stubObject) Info() blockstore.Info { return o.info }
func (o stubObject) Tier() string          { return "ram" }
func (o stubObject) Locate() string        { return "ram" }
func (o stubObject) Close() error          { return nil }

// signed builds a request signed as the Client would, with an optional
// body sent in the given mode (bodyless requests: mode "none").
func signed(key authKey, method, target, mode string, body []byte, header http.Header) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	for k, v := range header {
		r.Header[k] = v
	}
	s := signedRequest{method: method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, date: time.Now().UnixMilli(),
		node: "n1", body: mode, ctype: r.Header.Get("Content-Type")}
	if mode == bodyMAC {
		s.size = int64(len(body))
	}
	key.setHeaders(r.Header, s)
	return r
}

// Signed requests that are malformed get a clear error and never reach
// the backend.
func TestHandlerRefusesBadRequests(t *testing.T) {
	key := newAuthKey([]byte("secret"))
	for _, tc := range []struct {
		name, method, target, mode string
		body                       []byte
		header                     http.Header
		status                     int
		code                       string
	}{
		{name: "put without version", method: "PUT", target: "/internal/v1/blobs/k", mode: bodyMAC, body: []byte("x"), status: 400, code: "bad_request"},
		{name: "put at version 0", method: "PUT", target: "/internal/v1/blobs/k?version=0", mode: bodyMAC, body: []byte("x"), status: 400, code: "bad_request"},
		{name: "put at a bad version", method: "PUT", target: "/internal/v1/blobs/k?version=x", mode: bodyMAC, body: []byte("x"), status: 400, code: "bad_request"},
		{name: "put without a MAC'd body", method: "PUT", target: "/internal/v1/blobs/k?version=1", mode: bodyNone, status: 400, code: "bad_request"},
		{name: "version twice", method: "DELETE", target: "/internal/v1/blobs/k?version=1&version=2", mode: bodyNone, status: 400, code: "bad_request"},
		{name: "unknown parameter", method: "DELETE", target: "/internal/v1/blobs/k?version=1&force=1", mode: bodyNone, status: 400, code: "bad_request"},
		{name: "get with a MAC'd body", method: "GET", target: "/internal/v1/meta/k", mode: bodyMAC, body: []byte("x"), status: 400, code: "bad_request"},
		{name: "get with an unsigned body", method: "GET", target: "/internal/v1/meta/k", mode: bodyNone, body: []byte("x"), status: 401, code: "unauthorized"},
		{name: "control character in key", method: "GET", target: "/internal/v1/meta/a%00b", mode: bodyNone, status: 400, code: "invalid_key"},
		{name: "empty key", method: "GET", target: "/internal/v1/meta/", mode: bodyNone, status: 400, code: "invalid_key"},
		{name: "unknown route", method: "GET", target: "/internal/v1/other", mode: bodyNone, status: 404, code: "no_route"},
		{name: "old route version", method: "GET", target: "/internal/v0/meta/k", mode: bodyNone, status: 404, code: "no_route"},
		{name: "wrong method", method: "POST", target: "/internal/v1/blobs/k", mode: bodyNone, status: 405, code: "method_not_allowed"},
		{name: "compose without a body", method: "POST", target: "/internal/v1/compose/k?version=5", mode: bodyNone, status: 400, code: "bad_request"},
		{name: "compose by GET", method: "GET", target: "/internal/v1/compose/k?version=5", mode: bodyNone, status: 405, code: "method_not_allowed"},
		{name: "digest without for", method: "GET", target: "/internal/v1/digest", mode: bodyNone, status: 400, code: "bad_request"},
		{name: "entries limit 0", method: "GET", target: "/internal/v1/entries?for=n1&limit=0", mode: bodyNone, status: 400, code: "bad_request"},
		{name: "entries limit too high", method: "GET", target: "/internal/v1/entries?for=n1&limit=10001", mode: bodyNone, status: 400, code: "bad_request"},
		{name: "entries bad bucket", method: "GET", target: "/internal/v1/entries?for=n1&limit=5&buckets=1,-2", mode: bodyNone, status: 400, code: "bad_request"},
		{name: "read with a bad min_version", method: "GET", target: "/internal/v1/blobs/k?min_version=-1", mode: bodyNone, status: 400, code: "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backend := &stubBackend{}
			h := NewHandler(HandlerOptions{Secret: []byte("secret"), Backend: backend})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, signed(key, tc.method, tc.target, tc.mode, tc.body, tc.header))
			var e apiError
			if w.Code != tc.status || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Code != tc.code || w.Header().Get(headerErrorCode) != tc.code {
				t.Fatalf("%d %s; want %d code %q", w.Code, w.Body.Bytes(), tc.status, tc.code)
			}
			if n := backend.calls.Load(); n != 0 {
				t.Fatalf("backend called %d times", n)
			}
		})
	}
}

// The range forms the handler takes, against the 10-byte stub blob.
func TestHandlerRanges(t *testing.T) {
	key := newAuthKey([]byte("secret"))
	h := NewHandler(HandlerOptions{Secret: []byte("secret"), Backend: &stubBackend{}})
	for _, tc := range []struct {
		rng, body, contentRange string
		status                  int
	}{
		{"", "0123456789", "", 200},
		{"bytes=0-", "0123456789", "bytes 0-9/10", 206},
		{"bytes=2-4", "234", "bytes 2-4/10", 206},
		{"bytes=8-100", "89", "bytes 8-9/10", 206},
		{"bytes=10-", "", "bytes */10", 206},
		{"bytes=11-", "", "", 416},
		{"bytes=4-2", "", "", 400},
		{"bytes=-3", "", "", 400},
		{"bytes=1-2,4-5", "", "", 400},
		{"items=1-2", "", "", 400},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signed(key, "GET", "/internal/v1/blobs/k", bodyNone, nil, http.Header{"Range": {tc.rng}}))
		if w.Code != tc.status || (tc.status < 300 && (w.Body.String() != tc.body || w.Header().Get("Content-Range") != tc.contentRange)) {
			t.Errorf("Range %q: %d %q Content-Range %q; want %d %q %q", tc.rng, w.Code, w.Body.String(), w.Header().Get("Content-Range"), tc.status, tc.body, tc.contentRange)
		}
	}
}

// A handler without a Backend (a wiring bug) answers 500 to authenticated
// requests and 401 to the rest: it neither panics nor opens up.
func TestHandlerWithoutBackend(t *testing.T) {
	key := newAuthKey([]byte("secret"))
	h := NewHandler(HandlerOptions{Secret: []byte("secret")})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed(key, "GET", "/internal/v1/meta/k", bodyNone, nil, nil))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("signed request: %d; want 500", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/internal/v1/meta/k", nil))
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), "strata-internal") {
		t.Fatalf("unsigned request: %d %v; want 401 with WWW-Authenticate", w.Code, w.Header())
	}
}

// earlyBackend answers a put without reading the body, holding version
// held: what a store does when it already has something at least as new.
type earlyBackend struct {
	stubBackend
	held uint64
}

func (b *earlyBackend) ApplyPut(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	return blockstore.Info{Key: key, Size: 3, Version: b.held}, nil
}

// A store that returns without reading the body is acknowledged (201, the
// Info it holds, the connection closed rather than drained) when it holds
// the write's version or newer; holding anything older it is a bug: 500.
func TestHandlerPutSupersededWithoutReadingTheBody(t *testing.T) {
	key := newAuthKey([]byte("secret"))
	for _, tc := range []struct {
		name   string
		held   uint64
		status int
	}{
		{"newer held", 8, http.StatusCreated},
		{"same version held", 7, http.StatusCreated},
		{"older held", 6, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHandler(HandlerOptions{Secret: []byte("secret"), Backend: &earlyBackend{held: tc.held}})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, signed(key, "PUT", "/internal/v1/blobs/k?version=7", bodyMAC, []byte("body"), nil))
			if w.Code != tc.status || w.Header().Get("Connection") != "close" {
				t.Fatalf("%d, Connection %q: %s; want %d and Connection close", w.Code, w.Header().Get("Connection"), w.Body.Bytes(), tc.status)
			}
			if tc.status != http.StatusCreated {
				return
			}
			info, err := DecodeInfo(w.Body.Bytes())
			if err != nil || info.Key != "k" || info.Version != tc.held {
				t.Fatalf("answer %+v, %v; want key k at version %d", info, err, tc.held)
			}
		})
	}
}
