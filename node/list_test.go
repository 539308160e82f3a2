package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
)

type listPage struct {
	Keys []struct {
		Key          string `json:"key"`
		Size         int64  `json:"size"`
		ETag         string `json:"etag"`
		LastModified string `json:"last_modified"`
	} `json:"keys"`
	NextStartAfter string `json:"next_start_after"`
	Truncated      bool   `json:"truncated"`
}

func (e *env) list(t *testing.T, query string) listPage {
	t.Helper()
	w := e.do(http.MethodGet, "/blobs?"+query, nil)
	wantStatus(t, w, http.StatusOK, "")
	var p listPage
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("list body %s: %v", w.Body, err)
	}
	return p
}

func TestListPaging(t *testing.T) {
	e := newEnv(t, nil)
	want := []string{}
	for i := 0; i < 25; i++ {
		key := fmt.Sprintf("a/%02d", i)
		e.put(key, key)
		want = append(want, key)
	}
	e.put("b/other", "x")

	var got []string
	q := url.Values{"prefix": {"a/"}, "limit": {"10"}}
	for pages := 0; ; pages++ {
		p := e.list(t, q.Encode())
		for _, k := range p.Keys {
			got = append(got, k.Key)
			if k.Size != int64(len(k.Key)) || k.ETag == "" || k.LastModified == "" {
				t.Fatalf("entry %+v", k)
			}
		}
		if !p.Truncated {
			if p.NextStartAfter != "" {
				t.Fatalf("last page has next_start_after %q", p.NextStartAfter)
			}
			if pages != 2 {
				t.Fatalf("%d pages, want 3", pages+1)
			}
			break
		}
		if p.NextStartAfter != p.Keys[len(p.Keys)-1].Key {
			t.Fatalf("next_start_after %q, last key %q", p.NextStartAfter, p.Keys[len(p.Keys)-1].Key)
		}
		q.Set("start-after", p.NextStartAfter)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if p := e.list(t, ""); len(p.Keys) != 26 || p.Truncated {
		t.Fatalf("unfiltered list: %d keys, truncated %v", len(p.Keys), p.Truncated)
	}
	if p := e.list(t, "prefix=zzz"); p.Keys == nil || len(p.Keys) != 0 {
		t.Fatalf("empty list must be [], got %#v", p.Keys)
	}
}

// limitRecorder records the limit the handler asks the store for.
type limitRecorder struct {
	*nodetest.MemStore
	limits []int
}

func (l *limitRecorder) List(ctx context.Context, prefix, startAfter string, limit int) ([]blockstore.Info, error) {
	l.limits = append(l.limits, limit)
	return l.MemStore.List(ctx, prefix, startAfter, limit)
}

func TestListLimits(t *testing.T) {
	store := &limitRecorder{MemStore: nodetest.NewMemStore(0)}
	srv, err := node.New(node.DefaultConfig(t.TempDir()), store, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store.MemStore, srv: srv}
	for _, tc := range []struct {
		query string
		limit int // asked of the store: page size + 1 to detect truncation
	}{
		{"", 1001},
		{"limit=5", 6},
		{"limit=10000", 10001},
		{"limit=20000", 10001},
	} {
		store.limits = nil
		e.list(t, tc.query)
		if len(store.limits) != 1 || store.limits[0] != tc.limit {
			t.Errorf("query %q: store asked for %v, want [%d]", tc.query, store.limits, tc.limit)
		}
	}
	for _, q := range []string{"limit=0", "limit=-1", "limit=abc", "limit=1&limit=2", "startafter=x", "prefix=%00", "prefix=%ZZ"} {
		wantStatus(t, e.do(http.MethodGet, "/blobs?"+q, nil), http.StatusBadRequest, "bad_request")
	}
}
