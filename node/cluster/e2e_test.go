package cluster

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"strata/node"
)

// The cluster behind the node's HTTP layer: 201 once W homes are durable,
// 503 with Retry-After without a quorum, 404 for a deleted or missing
// key, and the read served from a peer says so in X-Strata-Tier.
func TestHTTPThroughCluster(t *testing.T) {
	tc := newTestCluster(t, 4, nil)
	key := tc.keyWithHomes("h", true, "n1", "n2", "n3")
	servers := map[string]http.Handler{}
	for _, n := range tc.nodes {
		cfg := node.DefaultConfig(t.TempDir())
		srv, err := node.New(cfg, n.c, nil)
		if err != nil {
			t.Fatal(err)
		}
		servers[n.id] = srv.Handler()
	}
	do := func(id, method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req := httptest.NewRequest(method, "http://127.0.0.1:7070"+path, r)
		w := httptest.NewRecorder()
		servers[id].ServeHTTP(w, req)
		return w
	}

	w := do("n1", http.MethodPut, "/blobs/"+key, "hello cluster")
	if w.Code != http.StatusCreated || w.Header().Get("ETag") == "" {
		t.Fatalf("PUT = %d %s, want 201 with an ETag", w.Code, w.Body)
	}
	etag := w.Header().Get("ETag")
	waitStragglers(t, tc)

	w = do("n4", http.MethodGet, "/blobs/"+key, "")
	if w.Code != http.StatusOK || w.Body.String() != "hello cluster" {
		t.Fatalf("GET via a non-home = %d %q", w.Code, w.Body)
	}
	if got := w.Header().Get("X-Strata-Tier"); got != "peer" {
		t.Errorf("X-Strata-Tier = %q, want peer", got)
	}
	if got := w.Header().Get("ETag"); got != etag {
		t.Errorf("GET ETag %s, PUT said %s", got, etag)
	}
	w = do("n2", http.MethodGet, "/blobs/"+key+"?consistency=one", "")
	if w.Code != http.StatusOK || w.Header().Get("X-Strata-Tier") != "hdd" {
		t.Errorf("GET ?consistency=one on a home = %d, tier %q", w.Code, w.Header().Get("X-Strata-Tier"))
	}

	w = do("n1", http.MethodGet, "/blobs?prefix=h", "")
	var list struct {
		Keys []struct{ Key string } `json:"keys"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != http.StatusOK || len(list.Keys) != 1 || list.Keys[0].Key != key {
		t.Errorf("list = %d %s", w.Code, w.Body)
	}

	if w = do("n3", http.MethodDelete, "/blobs/"+key, ""); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", w.Code, w.Body)
	}
	waitStragglers(t, tc)
	for _, id := range []string{"n1", "n4"} {
		if w = do(id, http.MethodGet, "/blobs/"+key, ""); w.Code != http.StatusNotFound {
			t.Errorf("GET via %s after DELETE = %d, want 404", id, w.Code)
		}
	}
	if w = do("n1", http.MethodDelete, "/blobs/"+key, ""); w.Code != http.StatusNotFound {
		t.Errorf("second DELETE = %d, want 404", w.Code)
	}

	tc.setDead("n2")
	tc.setDead("n3")
	w = do("n1", http.MethodPut, "/blobs/"+key, "no quorum")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("PUT with two homes dead = %d (Retry-After %q) %s, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if !strings.Contains(w.Body.String(), "no_quorum") {
		t.Errorf("503 body %s, want code no_quorum", w.Body)
	}
	if w = do("n1", http.MethodGet, "/blobs/"+key, ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("GET with two homes dead = %d, want 503", w.Code)
	}
	if w = do("n1", http.MethodGet, "/readyz", ""); w.Code != http.StatusOK {
		t.Errorf("/readyz = %d while the local store serves reads, want 200", w.Code)
	}
}
