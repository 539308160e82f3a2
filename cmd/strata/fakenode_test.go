package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeNode is an in-memory stand-in for a node's blob API, so the client
// commands can be tested without building the real server. It pages
// listings at most pageCap keys at a time to exercise continuation.
type fakeNode struct {
	mu      sync.Mutex
	blobs   map[string]fakeBlob
	version int
	pageCap int
	token   string
	puts    []fakePut // what each PUT looked like on the wire

	// Faults for `strata bench --verify`: corruptGets flips one byte of
	// every GET body; serveFirst answers GETs with the first version
	// ever written of the key (a stale read once it was overwritten).
	corruptGets bool
	serveFirst  bool
	first       map[string][]byte

	// A stall for `strata bench --rate`: GET number stallAt (1-based,
	// counted since the node started) sleeps stall before it is served.
	stallAt int64
	stall   time.Duration
	gets    atomic.Int64
}

type fakeBlob struct {
	data        []byte
	etag        string
	contentType string
	mod         time.Time
}

type fakePut struct {
	key           string
	contentLength int64
	chunked       bool
}

func newFakeNode(t *testing.T) (*fakeNode, string) {
	f := &fakeNode{blobs: map[string]fakeBlob{}, pageCap: 2, first: map[string][]byte{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch {
	case r.URL.Path == "/readyz" || r.URL.Path == "/healthz":
		io.WriteString(w, "ok\n")
	case r.URL.Path == "/blobs" && r.Method == http.MethodGet:
		f.list(w, r)
	case strings.HasPrefix(r.URL.Path, "/blobs/"):
		if r.Method == http.MethodGet && f.gets.Add(1) == f.stallAt {
			time.Sleep(f.stall)
		}
		f.blob(w, r, strings.TrimPrefix(r.URL.Path, "/blobs/"))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeNode) blob(w http.ResponseWriter, r *http.Request, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, exists := f.blobs[key]
	switch r.Method {
	case http.MethodPut:
		if r.Header.Get("If-None-Match") == "*" && exists {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		data, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.puts = append(f.puts, fakePut{key: key, contentLength: r.ContentLength, chunked: len(r.TransferEncoding) > 0})
		f.version++
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		nb := fakeBlob{data: data, etag: fmt.Sprintf("%q", strconv.Itoa(f.version)), contentType: ct, mod: time.Unix(1700000000, 0)}
		f.blobs[key] = nb
		if _, ok := f.first[key]; !ok {
			f.first[key] = data
		}
		w.Header().Set("ETag", nb.etag)
		w.WriteHeader(http.StatusCreated)
	case http.MethodGet, http.MethodHead:
		if !exists {
			http.Error(w, "no such key", http.StatusNotFound)
			return
		}
		w.Header().Set("ETag", b.etag)
		w.Header().Set("Content-Type", b.contentType)
		w.Header().Set("X-Strata-Tier", "ram")
		data := b.data
		if f.serveFirst {
			data = f.first[key]
		}
		if f.corruptGets && len(data) > 0 {
			data = bytes.Clone(data)
			data[len(data)/2] ^= 0x01
		}
		http.ServeContent(w, r, "", b.mod, bytes.NewReader(data))
	case http.MethodDelete:
		if !exists {
			http.Error(w, "no such key", http.StatusNotFound)
			return
		}
		delete(f.blobs, key)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (f *fakeNode) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	prefix, after := q.Get("prefix"), q.Get("start-after")
	limit := f.pageCap
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 && l < limit {
		limit = l
	}
	var keys []string
	for k := range f.blobs {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	page := listPage{Keys: []listEntry{}}
	if len(keys) > limit {
		keys, page.Truncated = keys[:limit], true
		page.NextStartAfter = keys[limit-1]
	}
	for _, k := range keys {
		b := f.blobs[k]
		page.Keys = append(page.Keys, listEntry{Key: k, Size: int64(len(b.data)), ETag: b.etag, LastModified: b.mod})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

func (f *fakeNode) get(key string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blobs[key]
	return b.data, ok
}

func (f *fakeNode) lastPut() fakePut {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.puts[len(f.puts)-1]
}
