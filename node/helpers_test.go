package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"strata/node"
	"strata/node/nodetest"
	"strata/tiering"
)

// Tokens used by the auth tests (long enough to pass Validate).
const (
	readToken  = "read-token-0123456789"
	writeToken = "write-token-0123456789"
)

type env struct {
	t     *testing.T
	cfg   node.Config
	store *nodetest.MemStore
	srv   *node.Server
	// tiered is the real tiered store of newTieredEnv (nil otherwise).
	tiered *tiering.Store
}

// newEnv builds a Server over a MemStore with the default config, as changed by mutate.
func newEnv(t *testing.T, mutate func(*node.Config)) *env {
	t.Helper()
	cfg := node.DefaultConfig(t.TempDir())
	cfg.MaxBlobSize = 1 << 20
	if mutate != nil {
		mutate(&cfg)
	}
	store := nodetest.NewMemStore(0)
	srv, err := node.New(cfg, store, nil)
	if err != nil {
		t.Fatalf("node.New: %v", err)
	}
	return &env{t: t, cfg: cfg, store: store, srv: srv}
}

func withTokens(c *node.Config) {
	c.Auth.Tokens = []node.Token{
		{Name: "reader", Token: readToken, Scope: node.ScopeRead},
		{Name: "writer", Token: writeToken, Scope: node.ScopeReadWrite},
	}
}

// do sends one request through the handler. headers alternate name, value.
func (e *env) do(method, target string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := newRequest(method, target, body)
	if body == nil {
		r.ContentLength = 0
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, r)
	return w
}

func (e *env) put(key, body string, headers ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	w := e.do(http.MethodPut, "/blobs/"+key, strings.NewReader(body), headers...)
	if w.Code != http.StatusCreated {
		e.t.Fatalf("PUT %s: %d %s", key, w.Code, w.Body)
	}
	return w
}

// wantStatus fails unless w has status and, for errors, the JSON error code.
func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if code == "" {
		return
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q, want application/json", ct)
	}
	var e struct{ Error, Code string }
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	if e.Code != code || e.Error == "" {
		t.Fatalf("error body %+v, want code %q and a message", e, code)
	}
}

// newRequest is httptest.NewRequest addressed to a loopback Host, which a
// node without tokens requires (httptest's default is example.com).
func newRequest(method, target string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, target, body)
	r.Host = "localhost"
	return r
}

func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, r)
	return w
}

// doChunked sends a PUT whose length is unknown, as a chunked request is.
func (e *env) doChunked(target, body string) *httptest.ResponseRecorder {
	r := newRequest(http.MethodPut, target, io.NopCloser(strings.NewReader(body)))
	r.ContentLength = -1
	r.TransferEncoding = []string{"chunked"}
	return e.serve(r)
}
