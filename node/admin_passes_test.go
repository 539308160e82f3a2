package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"strata/blockstore"
	"strata/node"
)

// adminDo sends a request to the env's admin handler from remote.
func adminDo(t *testing.T, e *env, method, target, remote, token string) *httptest.ResponseRecorder {
	t.Helper()
	r := newRequest(method, target, nil)
	r.RemoteAddr = remote
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	e.srv.AdminHandler().ServeHTTP(w, r)
	return w
}

func decodePass(t *testing.T, w *httptest.ResponseRecorder) node.PassReport {
	t.Helper()
	var p node.PassReport
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("pass answer %q: %v", w.Body, err)
	}
	return p
}

// The pass routes run the real store's passes: a scrub started by POST
// finds a flipped byte (result "problems", one corruption), GET with
// wait follows it to its end, a compaction pass completes, and bad
// queries, unknown ids and other methods get plain errors.
func TestAdminPassRoutes(t *testing.T) {
	e := newTieredEnv(t, func(c *node.Config) { c.RAMCacheSize = 0 })
	const loopback = "127.0.0.1:5555"
	e.put("a", strings.Repeat("a", 1000))
	e.put("b", strings.Repeat("b", 3000))
	if w := adminDo(t, e, http.MethodGet, "/admin/scrub", loopback, ""); w.Code != 200 || decodePass(t, w).Result != node.PassResultNone {
		t.Fatalf("GET /admin/scrub before any pass: %d %s", w.Code, w.Body)
	}
	flipFirstVolumeByte(t, e, payloadByte)

	w := adminDo(t, e, http.MethodPost, "/admin/scrub", loopback, "")
	if w.Code != http.StatusAccepted {
		t.Fatalf("POST /admin/scrub: %d %s", w.Code, w.Body)
	}
	started := decodePass(t, w)
	if started.ID == 0 || started.Kind != "scrub" || started.Trigger != blockstore.TriggerRequest {
		t.Fatalf("started pass: %+v", started)
	}
	if loc := w.Header().Get("Location"); loc != fmt.Sprintf("/admin/scrub?id=%d", started.ID) {
		t.Errorf("Location %q", loc)
	}
	done := waitPassRoute(t, e, "/admin/scrub", started.ID)
	if done.Result != node.PassResultProblems || done.Scrub == nil || done.Scrub.Corruptions != 1 || len(done.Scrub.Problems) != 1 || done.Progress != 1 {
		t.Fatalf("scrub over a flipped byte: %+v (%+v)", done, done.Scrub)
	}

	w = adminDo(t, e, http.MethodPost, "/admin/compact", loopback, "")
	if w.Code != http.StatusAccepted {
		t.Fatalf("POST /admin/compact: %d %s", w.Code, w.Body)
	}
	c := waitPassRoute(t, e, "/admin/compact", decodePass(t, w).ID)
	if c.Result != node.PassResultOK || c.Compact == nil || c.Finished == nil {
		t.Fatalf("compaction pass: %+v", c)
	}
	if last := decodePass(t, adminDo(t, e, http.MethodGet, "/admin/compact", loopback, "")); last.ID != c.ID {
		t.Errorf("GET /admin/compact without id: pass %d, want the last one %d", last.ID, c.ID)
	}

	for _, tc := range []struct {
		method, target string
		status         int
		code           string
	}{
		{http.MethodGet, "/admin/scrub?id=x", 400, "bad_request"},
		{http.MethodGet, "/admin/scrub?wait=-1s", 400, "bad_request"},
		{http.MethodGet, "/admin/scrub?id=12345", 404, "unknown_pass"},
		{http.MethodPut, "/admin/scrub", 405, "method_not_allowed"},
		{http.MethodDelete, "/admin/compact", 405, "method_not_allowed"},
	} {
		wantStatus(t, adminDo(t, e, tc.method, tc.target, loopback, ""), tc.status, tc.code)
	}
	// Never on the blob listener.
	wantStatus(t, e.do(http.MethodPost, "/admin/compact", nil), 404, "no_route")
}

// waitPassRoute GETs the pass with wait until it is no longer running.
func waitPassRoute(t *testing.T, e *env, path string, id uint64) node.PassReport {
	t.Helper()
	for range 100 {
		w := adminDo(t, e, http.MethodGet, fmt.Sprintf("%s?id=%d&wait=30s", path, id), "127.0.0.1:5555", "")
		if w.Code != 200 {
			t.Fatalf("GET %s?id=%d: %d %s", path, id, w.Code, w.Body)
		}
		if p := decodePass(t, w); !p.Running {
			return p
		}
	}
	t.Fatalf("pass %d of %s still running", id, path)
	return node.PassReport{}
}

// fakePasses is a PassRunner whose pass is always running.
type fakePasses struct{ starts int }

func (f *fakePasses) StartPass(kind blockstore.PassKind) (blockstore.PassStatus, error) {
	f.starts++
	st := blockstore.PassStatus{Kind: kind, ID: 7, Trigger: blockstore.TriggerBackground, Running: true, DoneBytes: 5, TotalBytes: 10}
	if f.starts > 1 {
		return st, fmt.Errorf("%w: %s pass 7", blockstore.ErrPassRunning, kind)
	}
	return st, nil
}

func (f *fakePasses) Pass(kind blockstore.PassKind, id uint64) (blockstore.PassStatus, error) {
	return blockstore.PassStatus{Kind: kind, ID: 7, Running: true, DoneBytes: 5, TotalBytes: 10}, nil
}

func (f *fakePasses) WaitPass(ctx context.Context, kind blockstore.PassKind, id uint64) (blockstore.PassStatus, error) {
	<-ctx.Done()
	st, _ := f.Pass(kind, id)
	return st, ctx.Err()
}

// A POST while a pass runs answers 409 "pass_running" with that pass; a
// GET whose wait ends first answers the running pass's progress. POST
// needs the admin scope (or loopback when no admin token is configured)
// even when no other admin routes are mounted; GET a read token.
func TestAdminPassConflictAndAuth(t *testing.T) {
	const adminToken = "admin-token-0123456789"
	const remote, loopback = "192.0.2.1:1234", "127.0.0.1:1234"
	e := newEnv(t, func(c *node.Config) {
		withTokens(c)
		c.Auth.Tokens = append(c.Auth.Tokens, node.Token{Name: "operator", Token: adminToken, Scope: node.ScopeAdmin})
	})
	wantStatus(t, adminDo(t, e, http.MethodPost, "/admin/compact", remote, adminToken), 404, "no_route") // MemStore runs no passes
	fp := &fakePasses{}
	e.srv.SetPasses(fp)
	wantStatus(t, adminDo(t, e, http.MethodPost, "/admin/compact", remote, writeToken), 403, "forbidden")
	wantStatus(t, adminDo(t, e, http.MethodPost, "/admin/compact", loopback, writeToken), 403, "forbidden")
	wantStatus(t, adminDo(t, e, http.MethodPost, "/admin/compact", remote, ""), 401, "unauthorized")
	if fp.starts != 0 {
		t.Fatalf("an unauthorized POST started a pass")
	}
	if w := adminDo(t, e, http.MethodPost, "/admin/compact", remote, adminToken); w.Code != http.StatusAccepted {
		t.Fatalf("POST with the admin token: %d %s", w.Code, w.Body)
	}
	w := adminDo(t, e, http.MethodPost, "/admin/compact", remote, adminToken)
	if w.Code != http.StatusConflict {
		t.Fatalf("POST while a pass runs: %d %s", w.Code, w.Body)
	}
	var conflict struct {
		Code string          `json:"code"`
		Pass node.PassReport `json:"pass"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &conflict); err != nil || conflict.Code != "pass_running" || conflict.Pass.ID != 7 || !conflict.Pass.Running || conflict.Pass.Progress != 0.5 {
		t.Fatalf("409 body %s: %+v, %v", w.Body, conflict, err)
	}
	wantStatus(t, adminDo(t, e, http.MethodGet, "/admin/scrub", remote, ""), 401, "unauthorized")
	w = adminDo(t, e, http.MethodGet, "/admin/scrub?wait=1ms", remote, readToken)
	if p := decodePass(t, w); w.Code != 200 || !p.Running || p.Result != node.PassResultRunning {
		t.Fatalf("GET with a wait that ends first: %d %+v", w.Code, p)
	}

	open := newEnv(t, nil) // no tokens: POST from loopback only
	open.srv.SetPasses(&fakePasses{})
	wantStatus(t, adminDo(t, open, http.MethodPost, "/admin/scrub", remote, ""), 403, "forbidden")
	if w := adminDo(t, open, http.MethodPost, "/admin/scrub", loopback, ""); w.Code != http.StatusAccepted {
		t.Fatalf("POST from loopback without tokens: %d %s", w.Code, w.Body)
	}
}
