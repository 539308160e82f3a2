package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// e2eResponse is a finished response with its body read.
type e2eResponse struct {
	*http.Response
	body []byte
}

// send does one request against the node and reads the whole answer.
func send(t *testing.T, method, target string, body []byte, header ...string) e2eResponse {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, target, err)
	}
	return e2eResponse{resp, b}
}

// expectStatus fails the test unless r has the wanted status.
func expectStatus(t *testing.T, r e2eResponse, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %s, want %d; body %q", r.Request.Method, r.Request.URL, r.Status, want, truncate(r.body, 300))
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

var validTiers = []string{"ram", "ssd", "hdd", "peer"}

// TestE2EBlobAPI checks every status code and header of the blob API
// against the real binary.
func TestE2EBlobAPI(t *testing.T) {
	n := startNode(t, nodeOptions{maxBlobSize: "4MiB", chunkSize: "256KiB"})
	blob := func(key string) string { return n.base + "/blobs/" + url.PathEscape(key) }
	content := []byte("hello, strata\n")
	key := "docs/hello world.txt"

	// PUT: 201 with a strong ETag.
	put := send(t, http.MethodPut, blob(key), content, "Content-Type", "text/plain")
	expectStatus(t, put, http.StatusCreated)
	etag := put.Header.Get("ETag")
	if len(etag) < 3 || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) {
		t.Fatalf("PUT ETag %q is not a quoted strong entity-tag", etag)
	}

	checkHeaders := func(t *testing.T, r e2eResponse, size int) {
		t.Helper()
		if got := r.Header.Get("Content-Length"); got != strconv.Itoa(size) {
			t.Errorf("Content-Length %q, want %d", got, size)
		}
		if got := r.Header.Get("ETag"); got != etag {
			t.Errorf("ETag %q, want %q", got, etag)
		}
		if _, err := http.ParseTime(r.Header.Get("Last-Modified")); err != nil {
			t.Errorf("Last-Modified %q: %v", r.Header.Get("Last-Modified"), err)
		} else if lm, _ := http.ParseTime(r.Header.Get("Last-Modified")); time.Since(lm) > time.Hour || time.Until(lm) > time.Minute {
			t.Errorf("Last-Modified %v is not about now", lm)
		}
		if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
			t.Errorf("Content-Type %q, want text/plain", got)
		}
		if got := r.Header.Get("Accept-Ranges"); got != "bytes" {
			t.Errorf("Accept-Ranges %q, want bytes", got)
		}
		if got := r.Header.Get("X-Strata-Tier"); !slices.Contains(validTiers, got) {
			t.Errorf("X-Strata-Tier %q, want one of %v", got, validTiers)
		}
	}

	t.Run("GET", func(t *testing.T) {
		r := send(t, http.MethodGet, blob(key), nil)
		expectStatus(t, r, http.StatusOK)
		checkHeaders(t, r, len(content))
		if !bytes.Equal(r.body, content) {
			t.Errorf("body %q, want %q", r.body, content)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		r := send(t, http.MethodHead, blob(key), nil)
		expectStatus(t, r, http.StatusOK)
		checkHeaders(t, r, len(content))
		if len(r.body) != 0 {
			t.Errorf("HEAD returned %d body bytes", len(r.body))
		}
	})
	t.Run("Range", func(t *testing.T) {
		r := send(t, http.MethodGet, blob(key), nil, "Range", "bytes=7-12")
		expectStatus(t, r, http.StatusPartialContent)
		if got, want := r.Header.Get("Content-Range"), fmt.Sprintf("bytes 7-12/%d", len(content)); got != want {
			t.Errorf("Content-Range %q, want %q", got, want)
		}
		if string(r.body) != "strata" || r.Header.Get("Content-Length") != "6" {
			t.Errorf("range body %q length %q", r.body, r.Header.Get("Content-Length"))
		}
		r = send(t, http.MethodGet, blob(key), nil, "Range", "bytes=-3")
		expectStatus(t, r, http.StatusPartialContent)
		if string(r.body) != "ta\n" {
			t.Errorf("suffix range body %q", r.body)
		}
		r = send(t, http.MethodGet, blob(key), nil, "Range", fmt.Sprintf("bytes=%d-", len(content)))
		expectStatus(t, r, http.StatusRequestedRangeNotSatisfiable)
		if got, want := r.Header.Get("Content-Range"), fmt.Sprintf("bytes */%d", len(content)); got != want {
			t.Errorf("416 Content-Range %q, want %q", got, want)
		}
	})
	t.Run("Conditional", func(t *testing.T) {
		r := send(t, http.MethodGet, blob(key), nil, "If-None-Match", etag)
		expectStatus(t, r, http.StatusNotModified)
		if len(r.body) != 0 || r.Header.Get("ETag") != etag {
			t.Errorf("304 with body %q ETag %q", r.body, r.Header.Get("ETag"))
		}
		expectStatus(t, send(t, http.MethodGet, blob(key), nil, "If-None-Match", `"something-else"`), http.StatusOK)
		expectStatus(t, send(t, http.MethodGet, blob(key), nil, "If-Match", `"something-else"`), http.StatusPreconditionFailed)
		expectStatus(t, send(t, http.MethodGet, blob(key), nil, "If-Match", etag), http.StatusOK)
		// Create-only PUT on an existing key, and a replace of the wrong version.
		expectStatus(t, send(t, http.MethodPut, blob(key), []byte("x"), "If-None-Match", "*"), http.StatusPreconditionFailed)
		expectStatus(t, send(t, http.MethodPut, blob(key), []byte("x"), "If-Match", `"not-the-etag"`), http.StatusPreconditionFailed)
		r = send(t, http.MethodGet, blob(key), nil)
		if !bytes.Equal(r.body, content) {
			t.Fatalf("a refused conditional PUT changed the blob to %q", r.body)
		}
		r = send(t, http.MethodPut, blob("fresh-key"), []byte("new"), "If-None-Match", "*")
		expectStatus(t, r, http.StatusCreated)
	})
	t.Run("Overwrite", func(t *testing.T) {
		k := "overwrite-me"
		first := send(t, http.MethodPut, blob(k), []byte("one"))
		expectStatus(t, first, http.StatusCreated)
		second := send(t, http.MethodPut, blob(k), []byte("second version"), "If-Match", first.Header.Get("ETag"))
		expectStatus(t, second, http.StatusCreated)
		if second.Header.Get("ETag") == first.Header.Get("ETag") {
			t.Error("ETag did not change on overwrite")
		}
		r := send(t, http.MethodGet, blob(k), nil)
		if string(r.body) != "second version" || r.Header.Get("ETag") != second.Header.Get("ETag") {
			t.Errorf("after overwrite: %q ETag %q", r.body, r.Header.Get("ETag"))
		}
	})
	t.Run("BadKeys", func(t *testing.T) {
		for name, escaped := range map[string]string{
			"control char":    "a%01b",
			"newline":         "a%0Ab",
			"DEL":             "a%7Fb",
			"invalid UTF-8":   "%FF",
			"truncated UTF-8": "a%C3",
			"1025 bytes":      strings.Repeat("k", 1025),
		} {
			for _, method := range []string{http.MethodPut, http.MethodGet, http.MethodHead, http.MethodDelete} {
				var body []byte
				if method == http.MethodPut {
					body = []byte("x")
				}
				r := send(t, method, n.base+"/blobs/"+escaped, body)
				if r.StatusCode != http.StatusBadRequest {
					t.Errorf("%s %s (%s): %s, want 400", method, escaped, name, r.Status)
				}
			}
		}
		// The longest valid key works, and keys are never paths.
		for _, k := range []string{strings.Repeat("k", 1024), "../../etc/passwd", "a/./b", "ключ/日本"} {
			expectStatus(t, send(t, http.MethodPut, blob(k), []byte("v")), http.StatusCreated)
			r := send(t, http.MethodGet, blob(k), nil)
			expectStatus(t, r, http.StatusOK)
			if string(r.body) != "v" {
				t.Errorf("key %q read back %q", k, r.body)
			}
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		big := make([]byte, 4<<20+1)
		r := send(t, http.MethodPut, blob("too-big"), big)
		expectStatus(t, r, http.StatusRequestEntityTooLarge)
		// Without a Content-Length the node finds out while streaming.
		req, _ := http.NewRequest(http.MethodPut, blob("too-big-chunked"), io.MultiReader(bytes.NewReader(big)))
		req.ContentLength = -1
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("chunked oversize PUT: %s, want 413", resp.Status)
			}
		}
		for _, k := range []string{"too-big", "too-big-chunked"} {
			expectStatus(t, send(t, http.MethodGet, blob(k), nil), http.StatusNotFound)
		}
		// Exactly the limit is fine, and spans many chunks.
		exact := randomBytes(t, 4<<20)
		expectStatus(t, send(t, http.MethodPut, blob("exact-limit"), exact), http.StatusCreated)
		got := send(t, http.MethodGet, blob("exact-limit"), nil)
		expectStatus(t, got, http.StatusOK)
		if !bytes.Equal(got.body, exact) {
			t.Fatal("multi-chunk blob read back different bytes")
		}
		// A range across a chunk boundary (chunks are 256 KiB).
		r = send(t, http.MethodGet, blob("exact-limit"), nil, "Range", "bytes=262000-262300")
		expectStatus(t, r, http.StatusPartialContent)
		if !bytes.Equal(r.body, exact[262000:262301]) {
			t.Fatal("range across a chunk boundary read back different bytes")
		}
	})
	t.Run("Delete", func(t *testing.T) {
		k := "delete-me"
		expectStatus(t, send(t, http.MethodPut, blob(k), []byte("bye")), http.StatusCreated)
		expectStatus(t, send(t, http.MethodDelete, blob(k), nil), http.StatusNoContent)
		expectStatus(t, send(t, http.MethodGet, blob(k), nil), http.StatusNotFound)
		expectStatus(t, send(t, http.MethodHead, blob(k), nil), http.StatusNotFound)
		expectStatus(t, send(t, http.MethodDelete, blob(k), nil), http.StatusNotFound)
		expectStatus(t, send(t, http.MethodGet, blob("never-existed"), nil), http.StatusNotFound)
	})
	t.Run("EmptyBlob", func(t *testing.T) {
		expectStatus(t, send(t, http.MethodPut, blob("empty"), []byte{}), http.StatusCreated)
		r := send(t, http.MethodGet, blob("empty"), nil)
		expectStatus(t, r, http.StatusOK)
		if len(r.body) != 0 || r.Header.Get("Content-Length") != "0" {
			t.Errorf("empty blob: %d bytes, Content-Length %q", len(r.body), r.Header.Get("Content-Length"))
		}
	})
	t.Run("ListPaging", func(t *testing.T) {
		want := map[string]int{}
		for i := range 10 {
			k := fmt.Sprintf("list/%02d", i)
			want[k] = i
			expectStatus(t, send(t, http.MethodPut, blob(k), bytes.Repeat([]byte("x"), i)), http.StatusCreated)
		}
		expectStatus(t, send(t, http.MethodPut, blob("listx"), []byte("not in prefix")), http.StatusCreated)
		var got []string
		after, pages := "", 0
		for {
			r := send(t, http.MethodGet, n.base+"/blobs?"+url.Values{"prefix": {"list/"}, "start-after": {after}, "limit": {"3"}}.Encode(), nil)
			expectStatus(t, r, http.StatusOK)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("list Content-Type %q", ct)
			}
			var page listPage
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatalf("list page: %v: %s", err, r.body)
			}
			if len(page.Keys) > 3 {
				t.Fatalf("page of %d keys with limit 3", len(page.Keys))
			}
			for _, e := range page.Keys {
				got = append(got, e.Key)
				if e.Size != int64(want[e.Key]) || e.ETag == "" || e.LastModified.IsZero() {
					t.Errorf("entry %+v", e)
				}
			}
			pages++
			if !page.Truncated {
				break
			}
			if page.NextStartAfter == "" || pages > 10 {
				t.Fatalf("truncated page without progress: %s", r.body)
			}
			after = page.NextStartAfter
		}
		wantKeys := make([]string, 0, len(want))
		for k := range want {
			wantKeys = append(wantKeys, k)
		}
		slices.Sort(wantKeys)
		if !slices.Equal(got, wantKeys) {
			t.Fatalf("listed %v, want %v", got, wantKeys)
		}
		if pages < 4 {
			t.Errorf("10 keys in %d pages of 3", pages)
		}
	})
	t.Run("Ops", func(t *testing.T) {
		expectStatus(t, send(t, http.MethodGet, n.base+"/healthz", nil), http.StatusOK)
		expectStatus(t, send(t, http.MethodGet, n.base+"/readyz", nil), http.StatusOK)
		m := send(t, http.MethodGet, n.base+"/metrics", nil)
		expectStatus(t, m, http.StatusOK)
		if !bytes.Contains(m.body, []byte("# TYPE")) || !bytes.Contains(m.body, []byte("strata_")) {
			t.Errorf("/metrics is not Prometheus text with strata_ metrics: %q", truncate(m.body, 300))
		}
	})
	t.Run("SurvivesRestart", func(t *testing.T) {
		if err := n.stop(30 * time.Second); err != nil {
			t.Fatalf("graceful stop: %v\n%s", err, n.logTail())
		}
		n2 := startNode(t, n.opts)
		r := send(t, http.MethodGet, n2.base+"/blobs/"+url.PathEscape(key), nil)
		expectStatus(t, r, http.StatusOK)
		if !bytes.Equal(r.body, content) || r.Header.Get("ETag") != etag {
			t.Fatalf("after restart: %q ETag %q", r.body, r.Header.Get("ETag"))
		}
	})
}

// TestE2EAuth checks 401 and 403 with tokens from the config file.
func TestE2EAuth(t *testing.T) {
	const rw, ro = "rw-token-0123456789abcdef", "ro-token-0123456789abcdef"
	n := startNode(t, nodeOptions{extraConfig: fmt.Sprintf(`
[[auth.tokens]]
name = "writer"
token = %q
scope = "read-write"

[[auth.tokens]]
name = "reader"
token = %q
scope = "read"
`, rw, ro)})
	blob := n.base + "/blobs/secret"
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	for _, tc := range []struct {
		name   string
		method string
		target string
		header []string
		want   int
	}{
		{"no token PUT", http.MethodPut, blob, nil, http.StatusUnauthorized},
		{"no token GET", http.MethodGet, blob, nil, http.StatusUnauthorized},
		{"no token list", http.MethodGet, n.base + "/blobs", nil, http.StatusUnauthorized},
		{"wrong token", http.MethodGet, blob, bearer("wrong-token-0123456789abcdef"), http.StatusUnauthorized},
		{"malformed header", http.MethodGet, blob, []string{"Authorization", "Basic " + rw}, http.StatusUnauthorized},
		{"read token PUT", http.MethodPut, blob, bearer(ro), http.StatusForbidden},
		{"read token DELETE", http.MethodDelete, blob, bearer(ro), http.StatusForbidden},
		{"write token PUT", http.MethodPut, blob, bearer(rw), http.StatusCreated},
		{"read token GET", http.MethodGet, blob, bearer(ro), http.StatusOK},
		{"read token HEAD", http.MethodHead, blob, bearer(ro), http.StatusOK},
		{"read token list", http.MethodGet, n.base + "/blobs", bearer(ro), http.StatusOK},
		{"healthz needs no token", http.MethodGet, n.base + "/healthz", nil, http.StatusOK},
		{"readyz needs no token", http.MethodGet, n.base + "/readyz", nil, http.StatusOK},
		{"write token DELETE", http.MethodDelete, blob, bearer(rw), http.StatusNoContent},
	} {
		var body []byte
		if tc.method == http.MethodPut {
			body = []byte("classified")
		}
		r := send(t, tc.method, tc.target, body, tc.header...)
		if r.StatusCode != tc.want {
			t.Errorf("%s: %s, want %d (%q)", tc.name, r.Status, tc.want, truncate(r.body, 200))
		}
		if r.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without WWW-Authenticate: Bearer", tc.name)
		}
	}

	// The CLI sends --token and STRATA_TOKEN.
	code, _, errOut := n.cli(t, []byte("x"), "put", "cli-key")
	if code != exitError || !strings.Contains(errOut, "401") {
		t.Errorf("CLI put without token: exit %d %q", code, errOut)
	}
	code, _, errOut = n.cli(t, []byte("x"), "put", "--token", ro, "cli-key")
	if code != exitError || !strings.Contains(errOut, "403") {
		t.Errorf("CLI put with read token: exit %d %q", code, errOut)
	}
	if code, _, errOut = n.cli(t, []byte("x"), "put", "--token", rw, "cli-key"); code != exitOK {
		t.Errorf("CLI put with write token: exit %d %q", code, errOut)
	}
}

// TestE2ECLI runs the client subcommands of the real binary against the node.
func TestE2ECLI(t *testing.T) {
	n := startNode(t, nodeOptions{chunkSize: "64KiB"})
	dir := t.TempDir()
	src := filepath.Join(dir, "in.bin")
	content := randomBytes(t, 300<<10) // several chunks
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	key := "cli/some file.bin"
	code, out, errOut := n.cli(t, nil, "put", key, src, "--content-type", "application/x-test")
	if code != exitOK || !strings.HasPrefix(out, `"`) {
		t.Fatalf("put: exit %d out %q err %q", code, out, errOut)
	}
	etag := strings.TrimSpace(out)
	// From a pipe, without a known length.
	if code, _, errOut = n.cli(t, []byte("piped body"), "put", "cli/piped"); code != exitOK {
		t.Fatalf("put from stdin: %q", errOut)
	}
	if code, out, _ = n.cli(t, nil, "get", "cli/piped"); code != exitOK || out != "piped body" {
		t.Fatalf("get piped: exit %d %q", code, out)
	}
	dst := filepath.Join(dir, "out.bin")
	if code, _, errOut = n.cli(t, nil, "get", key, "-o", dst); code != exitOK {
		t.Fatalf("get -o: %q", errOut)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, content) {
		t.Fatal("get -o wrote different bytes")
	}
	if code, out, _ = n.cli(t, nil, "get", "--range", "100000-100099", key); code != exitOK || out != string(content[100000:100100]) {
		t.Fatalf("get --range: exit %d, %d bytes", code, len(out))
	}
	if code, out, _ = n.cli(t, nil, "get", "--if-none-match", etag, key); code != exitOK || out != "" {
		t.Fatalf("get --if-none-match: exit %d, %d bytes", code, len(out))
	}
	code, out, _ = n.cli(t, nil, "stat", key)
	for _, want := range []string{"size:          307200", "etag:          " + etag, "content-type:  application/x-test", "last-modified: ", "tier:          "} {
		if !strings.Contains(out, want) {
			t.Errorf("stat lacks %q:\n%s", want, out)
		}
	}
	if code != exitOK {
		t.Fatalf("stat: exit %d", code)
	}
	for i := range 5 {
		if code, _, errOut = n.cli(t, []byte{byte(i)}, "put", fmt.Sprintf("cli/many/%d", i)); code != exitOK {
			t.Fatal(errOut)
		}
	}
	code, out, _ = n.cli(t, nil, "ls", "--prefix", "cli/")
	if want := "cli/many/0\ncli/many/1\ncli/many/2\ncli/many/3\ncli/many/4\ncli/piped\ncli/some file.bin\n"; code != exitOK || out != want {
		t.Fatalf("ls: exit %d\n%s\nwant\n%s", code, out, want)
	}
	if _, out, _ = n.cli(t, nil, "ls", "--prefix", "cli/many/", "--start-after", "cli/many/1", "--limit", "2"); out != "cli/many/2\ncli/many/3\n" {
		t.Fatalf("ls --start-after --limit: %q", out)
	}
	if code, _, errOut = n.cli(t, nil, "rm", key, "cli/piped"); code != exitOK {
		t.Fatalf("rm: %q", errOut)
	}
	for _, args := range [][]string{{"get", key}, {"stat", key}, {"rm", key}, {"get", "-o", filepath.Join(dir, "nope"), key}} {
		code, out, errOut := n.cli(t, nil, args...)
		if code != exitError || out != "" || !strings.Contains(errOut, "404") {
			t.Errorf("%v of a deleted key: exit %d out %q err %q; want exit 1 and a 404 on stderr", args, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); err == nil {
		t.Error("get -o of a missing key created the file")
	}
	if code, _, _ = n.cli(t, nil, "get"); code != exitUsage {
		t.Errorf("get without KEY: exit %d, want 2", code)
	}
	// A short benchmark run against the real node.
	code, out, errOut = n.cli(t, nil, "bench", "--size", "4KiB:9,64KiB:1", "--keys", "50", "--ops", "300", "--concurrency", "4", "--seed", "7")
	if code != exitOK || !strings.Contains(out, "tiers (share of reads)") {
		t.Fatalf("bench: exit %d\n%s\n%s", code, out, errOut)
	}
}
