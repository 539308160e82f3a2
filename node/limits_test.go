package node_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"strata/node"
)

// gate holds store calls until released, and says when one has arrived.
type gate struct {
	arrived chan string
	release chan struct{}
}

func newGate() *gate { return &gate{arrived: make(chan string, 16), release: make(chan struct{})} }

func (g *gate) hold(ctx context.Context, key string) error {
	g.arrived <- key
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestUploadLimitDoesNotStarveReads(t *testing.T) {
	e := newEnv(t, func(c *node.Config) { c.Limits.MaxUploads = 1; c.Limits.MaxReads = 1 })
	e.put("r", "readable")
	g := newGate()
	e.store.SetPutGate(g.hold)

	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- e.do(http.MethodPut, "/blobs/slow", strings.NewReader("v")) }()
	<-g.arrived // the first upload holds the only upload slot

	w := e.do(http.MethodPut, "/blobs/other", strings.NewReader("v"))
	wantStatus(t, w, http.StatusServiceUnavailable, "busy")
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 busy without Retry-After")
	}
	wantStatus(t, e.do(http.MethodDelete, "/blobs/r", nil), http.StatusServiceUnavailable, "busy")
	// Reads have their own budget.
	wantStatus(t, e.do(http.MethodGet, "/blobs/r", nil), http.StatusOK, "")

	close(g.release)
	wantStatus(t, <-first, http.StatusCreated, "")
	e.store.SetPutGate(nil)
	wantStatus(t, e.do(http.MethodPut, "/blobs/other", strings.NewReader("v")), http.StatusCreated, "")

	m := e.do(http.MethodGet, "/metrics", nil).Body.String()
	if !strings.Contains(m, `strata_http_rejected_total{class="upload"} 2`) {
		t.Errorf("rejections not counted:\n%s", m)
	}
}

func TestReadLimit(t *testing.T) {
	e := newEnv(t, func(c *node.Config) { c.Limits.MaxReads = 1 })
	e.put("r", "readable")
	g := newGate()
	e.store.SetOpenGate(g.hold)

	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- e.do(http.MethodGet, "/blobs/r", nil) }()
	<-g.arrived

	wantStatus(t, e.do(http.MethodGet, "/blobs/r", nil), http.StatusServiceUnavailable, "busy")
	wantStatus(t, e.do(http.MethodGet, "/blobs", nil), http.StatusServiceUnavailable, "busy")
	// Writes have their own budget.
	wantStatus(t, e.do(http.MethodPut, "/blobs/w", strings.NewReader("v")), http.StatusCreated, "")
	// Health checks are never refused.
	wantStatus(t, e.do(http.MethodGet, "/healthz", nil), http.StatusOK, "")

	close(g.release)
	wantStatus(t, <-first, http.StatusOK, "")
}
