package node_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
	"strata/node/replication"
)

func TestPutGetHeaders(t *testing.T) {
	e := newEnv(t, nil)
	w := e.put("photos/cat.jpg", "hello world", "Content-Type", "image/jpeg")
	etag := w.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) {
		t.Fatalf("ETag %q is not a strong quoted tag", etag)
	}
	var created struct {
		Key  string
		Size int64
		ETag string
	}
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.Key != "photos/cat.jpg" || created.Size != 11 || created.ETag != etag {
		t.Fatalf("PUT body %s (%v)", w.Body, err)
	}

	g := e.do(http.MethodGet, "/blobs/photos/cat.jpg", nil)
	wantStatus(t, g, http.StatusOK, "")
	for h, want := range map[string]string{
		"Content-Length": "11",
		"ETag":           etag,
		"Content-Type":   "image/jpeg",
		"Accept-Ranges":  "bytes",
		"X-Strata-Tier":  "ram",
	} {
		if got := g.Header().Get(h); got != want {
			t.Errorf("GET %s = %q, want %q", h, got, want)
		}
	}
	if g.Header().Get("Last-Modified") == "" {
		t.Error("GET without Last-Modified")
	}
	if g.Body.String() != "hello world" {
		t.Errorf("GET body %q", g.Body)
	}

	h := e.do(http.MethodHead, "/blobs/photos/cat.jpg", nil)
	wantStatus(t, h, http.StatusOK, "")
	if h.Header().Get("Content-Length") != "11" || h.Header().Get("ETag") != etag || h.Body.Len() != 0 {
		t.Errorf("HEAD: headers %v body %q", h.Header(), h.Body)
	}
	if tier := h.Header().Get("X-Strata-Tier"); tier == "" {
		t.Error("HEAD without X-Strata-Tier")
	}

	// Every write changes the ETag.
	w2 := e.put("photos/cat.jpg", "hello world")
	if w2.Header().Get("ETag") == etag {
		t.Error("overwrite kept the ETag")
	}
	// Stored without a type: served as octet-stream.
	if ct := e.do(http.MethodGet, "/blobs/photos/cat.jpg", nil).Header().Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q for a blob stored without one", ct)
	}
}

func TestTierHeaderFollowsStore(t *testing.T) {
	e := newEnv(t, nil)
	e.put("k", "0123456789")
	e.store.SetTier("ssd")
	for _, tc := range []struct {
		name, method string
		headers      []string
		want         string
	}{
		{"full GET", http.MethodGet, nil, "ssd"},
		{"range GET", http.MethodGet, []string{"Range", "bytes=2-3"}, "ssd"},
		{"multipart GET", http.MethodGet, []string{"Range", "bytes=0-1,5-6"}, "ssd"},
		{"HEAD mirrors GET", http.MethodHead, nil, "ssd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(tc.method, "/blobs/k", nil, tc.headers...)
			if got := w.Header().Get("X-Strata-Tier"); got != tc.want {
				t.Fatalf("X-Strata-Tier %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBadKeys(t *testing.T) {
	e := newEnv(t, nil)
	long := strings.Repeat("k", blockstore.MaxKeyLen+1)
	for _, target := range []string{
		"/blobs/",
		"/blobs/a%00b",
		"/blobs/a%0Ab",
		"/blobs/a%7Fb",
		"/blobs/%C2%85", // U+0085, a C1 control
		"/blobs/%FF%FE",
		"/blobs/" + long,
	} {
		for _, method := range []string{http.MethodPut, http.MethodGet, http.MethodHead, http.MethodDelete} {
			w := e.do(method, target, strings.NewReader("x"))
			wantStatus(t, w, http.StatusBadRequest, "invalid_key")
		}
	}
	if e.store.Len() != 0 {
		t.Fatalf("bad keys stored %d blobs", e.store.Len())
	}
}

func TestKeysAreOpaque(t *testing.T) {
	e := newEnv(t, nil)
	for target, key := range map[string]string{
		"/blobs/a%2Fb":                        "a/b",
		"/blobs/a/../b":                       "a/../b",
		"/blobs/..":                           "..",
		"/blobs//etc/passwd":                  "/etc/passwd",
		"/blobs/x%252F":                       "x%2F", // unescaped once only
		"/blobs/" + strings.Repeat("k", 1024): strings.Repeat("k", 1024),
		"/blobs/%E2%98%83 snow":               "\u2603 snow",
	} {
		w := e.do(http.MethodPut, strings.ReplaceAll(target, " ", "%20"), strings.NewReader(key))
		wantStatus(t, w, http.StatusCreated, "")
		if got, ok := e.store.Bytes(key); !ok || string(got) != key {
			t.Errorf("PUT %s: key %q not stored as is", target, key)
		}
	}
}

func TestRanges(t *testing.T) {
	e := newEnv(t, nil)
	e.put("r", "0123456789")
	etag := e.do(http.MethodHead, "/blobs/r", nil).Header().Get("ETag")
	for _, tc := range []struct {
		name         string
		headers      []string
		status       int
		contentRange string
		body         string
	}{
		{"a-b", []string{"Range", "bytes=2-4"}, 206, "bytes 2-4/10", "234"},
		{"a-", []string{"Range", "bytes=7-"}, 206, "bytes 7-9/10", "789"},
		{"-n", []string{"Range", "bytes=-3"}, 206, "bytes 7-9/10", "789"},
		{"b past end is clipped", []string{"Range", "bytes=8-100"}, 206, "bytes 8-9/10", "89"},
		{"start past end", []string{"Range", "bytes=10-12"}, 416, "bytes */10", ""},
		{"inverted", []string{"Range", "bytes=5-2"}, 416, "bytes */10", ""},
		{"malformed", []string{"Range", "bytes=x-y"}, 416, "bytes */10", ""},
		{"unknown unit ignored", []string{"Range", "pages=1-2"}, 200, "", "0123456789"},
		{"no unit ignored", []string{"Range", "1-2"}, 200, "", "0123456789"},
		{"unit is case-insensitive", []string{"Range", "Bytes=1-2"}, 206, "bytes 1-2/10", "12"},
		{"If-Range current", []string{"Range", "bytes=0-0", "If-Range", etag}, 206, "bytes 0-0/10", "0"},
		{"If-Range stale", []string{"Range", "bytes=0-0", "If-Range", `"stale"`}, 200, "", "0123456789"},
		{"-0 is unsatisfiable", []string{"Range", "bytes=-0"}, 416, "bytes */10", ""},
		{"suffix longer than the blob", []string{"Range", "bytes=-99999999999999999999"}, 206, "bytes 0-9/10", "0123456789"},
		{"huge first position", []string{"Range", "bytes=99999999999999999999-"}, 416, "bytes */10", ""},
		{"huge last position gives the remainder", []string{"Range", "bytes=4-99999999999999999999"}, 206, "bytes 4-9/10", "456789"},
		{"overlapping ranges coalesce", []string{"Range", "bytes=0-4,3-6"}, 206, "bytes 0-6/10", "0123456"},
		{"adjacent ranges coalesce", []string{"Range", "bytes=5-9,0-4"}, 206, "bytes 0-9/10", "0123456789"},
		{"unsatisfiable part dropped", []string{"Range", "bytes=-0,2-3"}, 206, "bytes 2-3/10", "23"},
		{"too many ranges", []string{"Range", "bytes=1-1" + strings.Repeat(",1-1", 16)}, 416, "bytes */10", ""},
		{"unsatisfiable with stale If-Range", []string{"Range", "bytes=-0", "If-Range", `"stale"`}, 200, "", "0123456789"},
		{"If-Match fails before the range", []string{"Range", "bytes=-0", "If-Match", `"stale"`}, 412, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(http.MethodGet, "/blobs/r", nil, tc.headers...)
			code := ""
			switch tc.status {
			case 416:
				code = "range_not_satisfiable"
			case 412:
				code = "precondition_failed"
			}
			wantStatus(t, w, tc.status, code)
			if got := w.Header().Get("Content-Range"); got != tc.contentRange {
				t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
			}
			if tc.status < 400 && w.Body.String() != tc.body {
				t.Errorf("body %q, want %q", w.Body, tc.body)
			}
		})
	}
}

// An empty blob has no satisfiable range: 416 with "bytes */0", never a
// 206 with "bytes 0--1/0".
func TestRangeOnEmptyBlob(t *testing.T) {
	e := newEnv(t, nil)
	e.put("empty", "")
	for _, rng := range []string{"bytes=-5", "bytes=-0", "bytes=0-", "bytes=0-0"} {
		w := e.do(http.MethodGet, "/blobs/empty", nil, "Range", rng)
		wantStatus(t, w, 416, "range_not_satisfiable")
		if got := w.Header().Get("Content-Range"); got != "bytes */0" {
			t.Errorf("%s: Content-Range %q, want bytes */0", rng, got)
		}
	}
	wantStatus(t, e.do(http.MethodGet, "/blobs/empty", nil), 200, "")
}

func TestMultipartRange(t *testing.T) {
	e := newEnv(t, nil)
	e.put("m", "0123456789", "Content-Type", "text/plain")
	w := e.do(http.MethodGet, "/blobs/m", nil, "Range", "bytes=0-1,5-6")
	wantStatus(t, w, http.StatusPartialContent, "")
	mt, params, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type %q: %v", w.Header().Get("Content-Type"), err)
	}
	mr := multipart.NewReader(w.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Range")+"="+string(b))
	}
	if got, want := strings.Join(parts, ";"), "bytes 0-1/10=01;bytes 5-6/10=56"; got != want {
		t.Fatalf("parts %q, want %q", got, want)
	}
}

func TestGetConditionals(t *testing.T) {
	e := newEnv(t, nil)
	etag := e.put("c", "body").Header().Get("ETag")
	w := e.do(http.MethodGet, "/blobs/c", nil, "If-None-Match", etag)
	wantStatus(t, w, http.StatusNotModified, "")
	if w.Header().Get("ETag") != etag || w.Body.Len() != 0 {
		t.Fatalf("304: ETag %q body %q", w.Header().Get("ETag"), w.Body)
	}
	wantStatus(t, e.do(http.MethodGet, "/blobs/c", nil, "If-None-Match", `"other"`), http.StatusOK, "")
	wantStatus(t, e.do(http.MethodGet, "/blobs/c", nil, "If-Match", `"other"`), http.StatusPreconditionFailed, "precondition_failed")
	wantStatus(t, e.do(http.MethodGet, "/blobs/c", nil, "If-Match", etag), http.StatusOK, "")
	wantStatus(t, e.do(http.MethodHead, "/blobs/c", nil, "If-None-Match", "*"), http.StatusNotModified, "")
}

func TestPutConditionals(t *testing.T) {
	e := newEnv(t, nil)
	wantStatus(t, e.do(http.MethodPut, "/blobs/p", strings.NewReader("v1"), "If-None-Match", "*"), http.StatusCreated, "")
	etag := e.do(http.MethodHead, "/blobs/p", nil).Header().Get("ETag")
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
		code    string
	}{
		{"If-None-Match * on existing", []string{"If-None-Match", "*"}, 412, "precondition_failed"},
		{"If-None-Match current", []string{"If-None-Match", etag}, 412, "precondition_failed"},
		{"If-Match stale", []string{"If-Match", `"0000000000000000"`}, 412, "precondition_failed"},
		{"If-Match weak never matches", []string{"If-Match", "W/" + etag}, 412, "precondition_failed"},
		{"If-Match malformed", []string{"If-Match", "nope"}, 400, "bad_request"},
		{"If-None-Match malformed", []string{"If-None-Match", `"a" "b"`}, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, e.do(http.MethodPut, "/blobs/p", strings.NewReader("changed"), tc.headers...), tc.status, tc.code)
			if b, _ := e.store.Bytes("p"); string(b) != "v1" {
				t.Fatalf("failed precondition changed the blob to %q", b)
			}
		})
	}
	w := e.do(http.MethodPut, "/blobs/p", strings.NewReader("v2"), "If-Match", `"x", `+etag)
	wantStatus(t, w, http.StatusCreated, "")
	wantStatus(t, e.do(http.MethodPut, "/blobs/p", strings.NewReader("v3"), "If-Match", etag), 412, "precondition_failed")
	wantStatus(t, e.do(http.MethodPut, "/blobs/missing", strings.NewReader("v"), "If-Match", "*"), 412, "precondition_failed")
	wantStatus(t, e.do(http.MethodDelete, "/blobs/p", nil, "If-Match", etag), 412, "precondition_failed")
	wantStatus(t, e.do(http.MethodDelete, "/blobs/p", nil, "If-Match", w.Header().Get("ETag")), 204, "")
}

// If-Unmodified-Since on PUT and DELETE: 412 and nothing changed when the
// blob changed after the date (RFC 9110 section 13.1.4).
func TestWriteIfUnmodifiedSince(t *testing.T) {
	e := newEnv(t, nil)
	e.put("u", "v1")
	before := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	after := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)

	wantStatus(t, e.do(http.MethodPut, "/blobs/u", strings.NewReader("v2"), "If-Unmodified-Since", before), 412, "precondition_failed")
	wantStatus(t, e.do(http.MethodDelete, "/blobs/u", nil, "If-Unmodified-Since", before), 412, "precondition_failed")
	if b, ok := e.store.Bytes("u"); !ok || string(b) != "v1" {
		t.Fatalf("failed If-Unmodified-Since changed the blob: %q, %v", b, ok)
	}
	etag := e.do(http.MethodHead, "/blobs/u", nil).Header().Get("ETag")
	wantStatus(t, e.do(http.MethodPut, "/blobs/u", strings.NewReader("v2"), "If-Match", etag, "If-Unmodified-Since", before), 201, "")
	w := e.do(http.MethodPut, "/blobs/u", strings.NewReader("v3"), "If-Unmodified-Since", "not a date")
	wantStatus(t, w, 201, "")
	wantStatus(t, e.do(http.MethodPut, "/blobs/u", strings.NewReader("v4"), "If-Unmodified-Since", w.Header().Get("Last-Modified")), 201, "")
	wantStatus(t, e.do(http.MethodDelete, "/blobs/u", nil, "If-Unmodified-Since", after), 204, "")
}

// Concurrent create-if-absent of one key: the per-key lock makes exactly one win.
func TestConditionalPutIsAtomic(t *testing.T) {
	e := newEnv(t, nil)
	const n = 16
	codes := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			codes <- e.do(http.MethodPut, "/blobs/once", strings.NewReader(fmt.Sprint(i)), "If-None-Match", "*").Code
		}()
	}
	won := 0
	for i := 0; i < n; i++ {
		switch c := <-codes; c {
		case 201:
			won++
		case 412:
		default:
			t.Errorf("status %d", c)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates won, want exactly 1", won)
	}
}

func TestBodySize(t *testing.T) {
	e := newEnv(t, func(c *node.Config) { c.MaxBlobSize = 100 })
	big := strings.Repeat("x", 101)

	// Declared too large: refused before reading.
	r := e.do(http.MethodPut, "/blobs/big", strings.NewReader(big))
	wantStatus(t, r, http.StatusRequestEntityTooLarge, "too_large")

	// Chunked (length unknown), too large: cut off at the limit.
	w := e.doChunked("/blobs/big", big)
	wantStatus(t, w, http.StatusRequestEntityTooLarge, "too_large")
	if e.store.Len() != 0 {
		t.Fatal("oversize body stored")
	}
	// Chunked within the limit: stored.
	wantStatus(t, e.doChunked("/blobs/ok", big[:100]), http.StatusCreated, "")
	if b, _ := e.store.Bytes("ok"); len(b) != 100 {
		t.Fatalf("chunked body stored as %d bytes", len(b))
	}
	// Empty blob.
	wantStatus(t, e.do(http.MethodPut, "/blobs/empty", nil), http.StatusCreated, "")
	g := e.do(http.MethodGet, "/blobs/empty", nil)
	wantStatus(t, g, http.StatusOK, "")
	if g.Header().Get("Content-Length") != "0" || g.Body.Len() != 0 {
		t.Fatalf("empty blob: %v %q", g.Header(), g.Body)
	}
	// Body shorter than declared.
	req := newRequest(http.MethodPut, "/blobs/short", strings.NewReader("abc"))
	req.ContentLength = 10
	wantStatus(t, e.serve(req), http.StatusBadRequest, "")
	if _, ok := e.store.Bytes("short"); ok {
		t.Fatal("short body stored")
	}
}

func TestStoreErrorsMapToStatus(t *testing.T) {
	secret := errors.New("/dev/sdb1: volume 7 offset 123: secret internal detail")
	for _, tc := range []struct {
		name   string
		op     nodetest.Op
		err    error
		method string
		status int
		code   string
	}{
		{"no space", nodetest.OpPut, fmt.Errorf("%w: %w", blockstore.ErrNoSpace, secret), http.MethodPut, 507, "no_space"},
		{"read-only", nodetest.OpPut, fmt.Errorf("%w: %w", blockstore.ErrReadOnly, secret), http.MethodPut, 503, "read_only"},
		{"closed", nodetest.OpPut, blockstore.ErrClosed, http.MethodPut, 503, "shutting_down"},
		{"too large", nodetest.OpPut, blockstore.ErrTooLarge, http.MethodPut, 413, "too_large"},
		{"invalid key from store", nodetest.OpPut, blockstore.ErrInvalidKey, http.MethodPut, 400, "invalid_key"},
		{"size mismatch", nodetest.OpPut, blockstore.ErrSizeMismatch, http.MethodPut, 400, "size_mismatch"},
		{"unknown put error", nodetest.OpPut, secret, http.MethodPut, 500, "internal"},
		{"corrupt on open", nodetest.OpOpen, fmt.Errorf("%w: %w", blockstore.ErrCorrupt, secret), http.MethodGet, 503, "corrupt"},
		{"corrupt on first read", nodetest.OpRead, fmt.Errorf("%w: %w", blockstore.ErrCorrupt, secret), http.MethodGet, 503, "corrupt"},
		{"not found", nodetest.OpOpen, blockstore.ErrNotFound, http.MethodGet, 404, "not_found"},
		{"disk failed", nodetest.OpOpen, fmt.Errorf("%w: %w", blockstore.ErrDiskFailed, secret), http.MethodGet, 503, "disk_failed"},
		{"delete read-only", nodetest.OpDelete, blockstore.ErrReadOnly, http.MethodDelete, 503, "read_only"},
		{"no quorum on put", nodetest.OpPut, fmt.Errorf("%w: %w", replication.ErrNoQuorum, secret), http.MethodPut, 503, "no_quorum"},
		{"no quorum on delete", nodetest.OpDelete, replication.ErrNoQuorum, http.MethodDelete, 503, "no_quorum"},
		{"list failure", nodetest.OpList, secret, "LIST", 500, "internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.put("k", "value")
			e.store.SetFault(tc.op, tc.err)
			var w = e.do(tc.method, "/blobs/k", strings.NewReader("new"))
			if tc.method == "LIST" {
				w = e.do(http.MethodGet, "/blobs", nil)
			}
			wantStatus(t, w, tc.status, tc.code)
			if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "/dev/") {
				t.Fatalf("error body leaks internals: %s", w.Body)
			}
			if tc.status == 503 && (tc.code == "shutting_down" || tc.code == "no_quorum") && w.Header().Get("Retry-After") == "" {
				t.Errorf("503 %s without Retry-After", tc.code)
			}
			if tc.method == http.MethodPut {
				if b, _ := e.store.Bytes("k"); string(b) != "value" {
					t.Fatalf("failed PUT changed the blob to %q", b)
				}
			}
		})
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, nil)
	e.put("d", "x")
	wantStatus(t, e.do(http.MethodDelete, "/blobs/d", nil), http.StatusNoContent, "")
	wantStatus(t, e.do(http.MethodDelete, "/blobs/d", nil), http.StatusNotFound, "not_found")
	wantStatus(t, e.do(http.MethodGet, "/blobs/d", nil), http.StatusNotFound, "not_found")
	wantStatus(t, e.do(http.MethodHead, "/blobs/d", nil), http.StatusNotFound, "")
}

func TestRoutesAndMethods(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		method, target string
		status         int
		code, allow    string
	}{
		{http.MethodPost, "/blobs/k", 405, "method_not_allowed", "GET, HEAD, PUT, DELETE"},
		{http.MethodPatch, "/blobs/k", 405, "method_not_allowed", "GET, HEAD, PUT, DELETE"},
		{http.MethodPut, "/blobs", 405, "method_not_allowed", "GET, HEAD"},
		{http.MethodPost, "/healthz", 405, "method_not_allowed", "GET, HEAD"},
		{http.MethodGet, "/", 404, "no_route", ""},
		{http.MethodGet, "/blob/k", 404, "no_route", ""},
		{http.MethodGet, "/healthz", 200, "", ""},
	} {
		w := e.do(tc.method, tc.target, nil)
		wantStatus(t, w, tc.status, tc.code)
		if got := w.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.target, got, tc.allow)
		}
	}
}

func TestBadContentType(t *testing.T) {
	e := newEnv(t, nil)
	wantStatus(t, e.do(http.MethodPut, "/blobs/k", strings.NewReader("x"), "Content-Type", strings.Repeat("a", 300)), 400, "invalid_argument")
	wantStatus(t, e.do(http.MethodPut, "/blobs/k", strings.NewReader("x"), "Content-Type", "a", "Content-Type", "b"), 400, "bad_request")
	if e.store.Len() != 0 {
		t.Fatal("stored despite a bad Content-Type")
	}
}
