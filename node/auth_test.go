package node_test

import (
	"net/http"
	"strings"
	"testing"

	"strata/node"
)

func TestAuth(t *testing.T) {
	e := newEnv(t, withTokens)
	const rw, ro = "Bearer " + writeToken, "Bearer " + readToken
	for _, tc := range []struct {
		name, method, target, auth string
		status                     int
		code                       string
	}{
		{"no token", http.MethodGet, "/blobs/k", "", 401, "unauthorized"},
		{"unknown token", http.MethodGet, "/blobs/k", "Bearer not-a-token-at-all", 401, "unauthorized"},
		{"token prefix", http.MethodGet, "/blobs/k", "Bearer " + readToken[:10], 401, "unauthorized"},
		{"wrong scheme", http.MethodGet, "/blobs/k", "Basic " + readToken, 401, "unauthorized"},
		{"read token writes", http.MethodPut, "/blobs/k", ro, 403, "forbidden"},
		{"read token deletes", http.MethodDelete, "/blobs/k", ro, 403, "forbidden"},
		{"write token writes", http.MethodPut, "/blobs/k", rw, 201, ""},
		{"read token reads", http.MethodGet, "/blobs/k", ro, 200, ""},
		{"scheme case-insensitive", http.MethodGet, "/blobs/k", "bearer " + readToken, 200, ""},
		{"read token lists", http.MethodGet, "/blobs", ro, 200, ""},
		{"list needs a token", http.MethodGet, "/blobs", "", 401, "unauthorized"},
		{"write token reads", http.MethodHead, "/blobs/k", rw, 200, ""},
		{"healthz is open", http.MethodGet, "/healthz", "", 200, ""},
		{"readyz is open", http.MethodGet, "/readyz", "", 200, ""},
		{"metrics public by default", http.MethodGet, "/metrics", "", 200, ""},
		{"bad key, no token: 401 first", http.MethodPut, "/blobs/%00", "", 401, "unauthorized"},
		{"two Authorization headers", http.MethodGet, "/blobs/k", ro + "\x00" + rw, 400, "bad_request"},
		{"two Authorization headers, both valid write", http.MethodPut, "/blobs/k", rw + "\x00" + rw, 400, "bad_request"},
		{"two Authorization headers, bad first", http.MethodGet, "/blobs/k", "Bearer nope-nope-nope-nope\x00" + ro, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.auth != "" {
				for _, v := range strings.Split(tc.auth, "\x00") { // NUL separates several headers
					headers = append(headers, "Authorization", v)
				}
			}
			w := e.do(tc.method, tc.target, strings.NewReader("v"), headers...)
			wantStatus(t, w, tc.status, tc.code)
			if tc.status == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
	if b, _ := e.store.Bytes("k"); string(b) != "v" {
		t.Fatalf("only the write token's PUT should have stored: %q", b)
	}
}

// Without tokens, only loopback Host names are answered, so a browser page
// that rebinds its own name to 127.0.0.1 cannot reach the node.
func TestTokenlessModeWantsLoopbackHost(t *testing.T) {
	open := newEnv(t, nil)
	open.put("k", "v")
	secured := newEnv(t, withTokens)
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"localhost", true},
		{"localhost:7070", true},
		{"LOCALHOST.:7070", true},
		{"node1.localhost:7070", true},
		{"127.0.0.1", true},
		{"127.0.0.1:7070", true},
		{"127.5.6.7:80", true},
		{"[::1]:7070", true},
		{"[::1]", true},
		{"::1", true},
		{"evil.example:7070", false},
		{"localhost.evil.example", false},
		{"evil-localhost", false},
		{"10.0.0.1:7070", false},
		{"[::ffff:10.0.0.1]:7070", false},
		{"0.0.0.0:7070", false},
		{"", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			for _, target := range []string{"/blobs/k", "/healthz", "/metrics"} {
				r := newRequest(http.MethodGet, target, nil)
				r.Host = tc.host
				w := open.serve(r)
				if tc.ok {
					wantStatus(t, w, 200, "")
				} else {
					wantStatus(t, w, http.StatusMisdirectedRequest, "host_not_loopback")
				}
			}
			// With tokens, Host is no longer what keeps strangers out.
			r := newRequest(http.MethodGet, "/healthz", nil)
			r.Host = tc.host
			wantStatus(t, secured.serve(r), 200, "")
		})
	}
}

func TestPrivateMetrics(t *testing.T) {
	e := newEnv(t, func(c *node.Config) { withTokens(c); c.Auth.PublicMetrics = false })
	wantStatus(t, e.do(http.MethodGet, "/metrics", nil), 401, "unauthorized")
	wantStatus(t, e.do(http.MethodGet, "/metrics", nil, "Authorization", "Bearer "+readToken), 200, "")
}
