package node_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"strata/node"
)

// serveAdmin runs the env's admin listener on loopback until the test ends
// and returns its address.
func (s *served) serveAdmin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.srv.ServeAdmin(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeAdmin: %v", err)
		}
	})
	return ln.Addr().String()
}

// clientConn is one raw keep-alive connection to a listener.
type clientConn struct {
	net.Conn
	r *bufio.Reader
}

// dialFrom connects to addr from the loopback address local ("" = any).
func dialFrom(t *testing.T, local, addr string) *clientConn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %q: %v", addr, local, err)
	}
	t.Cleanup(func() { c.Close() })
	// A deadline on every read: a regression fails instead of hanging.
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &clientConn{Conn: c, r: bufio.NewReader(c)}
}

// get sends GET path on the connection and returns the status, or an
// error when the connection was closed instead.
func (c *clientConn) get(path string) (int, error) {
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		return 0, err
	}
	return c.response()
}

// response reads one response and returns its status.
func (c *clientConn) response() (int, error) {
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// One client holding its share of idle connections gets further ones
// refused at accept (429, closed), while other clients and the admin
// listener's probes are answered.
func TestServePerClientConnectionLimit(t *testing.T) {
	const perClient, extra = 4, 3
	s := serveEnv(t, func(c *node.Config) { c.HTTP.MaxConnectionsPerClient = perClient })
	admin := s.serveAdmin(t)

	held := make([]*clientConn, perClient)
	for i := range held {
		held[i] = dialFrom(t, "127.0.0.1", s.addr)
		if code, err := held[i].get("/healthz"); err != nil || code != 200 {
			t.Fatalf("connection %d within the limit: %d, %v", i, code, err)
		}
	}
	for i := 0; i < extra; i++ {
		c := dialFrom(t, "127.0.0.1", s.addr)
		code, err := c.response() // refused before it sends anything
		if err != nil || code != http.StatusTooManyRequests {
			t.Fatalf("extra connection %d: %d, %v; want 429", i, code, err)
		}
		if _, err := c.r.ReadByte(); err != io.EOF {
			t.Fatalf("extra connection %d not closed after the 429: %v", i, err)
		}
	}
	// Another client address is counted apart.
	if code, err := dialFrom(t, "127.0.0.2", s.addr).get("/healthz"); err != nil || code != 200 {
		t.Fatalf("another client: %d, %v", code, err)
	}
	// The admin listener answers probes whatever the blob listener holds.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, err := dialFrom(t, "127.0.0.1", admin).get(path); err != nil || code != 200 {
			t.Fatalf("admin %s: %d, %v", path, code, err)
		}
	}
	s.waitMetric(t, "strata_http_refused_connections_total 3")
	// The held connections still work, and closing one frees its slot
	// (once the server has seen the close: poll, with a deadline).
	if code, err := held[0].get("/readyz"); err != nil || code != 200 {
		t.Fatalf("held connection after the refusals: %d, %v", code, err)
	}
	held[perClient-1].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dialFrom(t, "127.0.0.1", s.addr)
		code, err := c.get("/healthz")
		c.Close()
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never freed after a close: %d, %v", code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Loopback clients can be exempted, and 0 turns the bound off.
func TestServePerClientLimitSettings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*node.Config)
	}{
		{"loopback exempt", func(c *node.Config) { c.HTTP.MaxConnectionsPerClient = 2; c.HTTP.LimitLoopbackClients = false }},
		{"off", func(c *node.Config) { c.HTTP.MaxConnectionsPerClient = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serveEnv(t, tc.mutate)
			for i := 0; i < 5; i++ {
				if code, err := dialFrom(t, "127.0.0.1", s.addr).get("/healthz"); err != nil || code != 200 {
					t.Fatalf("connection %d: %d, %v", i, code, err)
				}
			}
		})
	}
}

// The admin listener has the probes, metrics and pprof; the blob listener
// has no pprof, and the admin one no blobs.
func TestAdminRoutes(t *testing.T) {
	e := newEnv(t, nil)
	e.put("k", "v")
	admin := func(path string, headers ...string) int {
		t.Helper()
		r := newRequest(http.MethodGet, path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Add(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		e.srv.AdminHandler().ServeHTTP(w, r)
		return w.Code
	}
	for path, want := range map[string]int{
		"/healthz": 200, "/readyz": 200, "/metrics": 200,
		"/debug/pprof/": 200, "/debug/pprof/cmdline": 200, "/debug/pprof/heap?debug=1": 200, "/debug/pprof/goroutine?debug=1": 200,
		"/blobs/k": 404, "/blobs": 404, "/": 404,
	} {
		if got := admin(path); got != want {
			t.Errorf("admin %s: %d, want %d", path, got, want)
		}
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap"} {
		wantStatus(t, e.do(http.MethodGet, path, nil), 404, "no_route")
	}

	// Without tokens the admin listener wants a loopback Host too.
	r := newRequest(http.MethodGet, "/debug/pprof/", nil)
	r.Host = "rebound.example:7071"
	w := httptest.NewRecorder()
	e.srv.AdminHandler().ServeHTTP(w, r)
	wantStatus(t, w, http.StatusMisdirectedRequest, "host_not_loopback")

	// With tokens pprof needs a read-write token; probes need none.
	sec := newEnv(t, withTokens)
	admin = func(path string, headers ...string) int {
		t.Helper()
		r := newRequest(http.MethodGet, path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Add(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		sec.srv.AdminHandler().ServeHTTP(w, r)
		return w.Code
	}
	if got := admin("/debug/pprof/"); got != 401 {
		t.Errorf("pprof without a token: %d", got)
	}
	if got := admin("/debug/pprof/", "Authorization", "Bearer "+readToken); got != 403 {
		t.Errorf("pprof with a read token: %d", got)
	}
	if got := admin("/debug/pprof/", "Authorization", "Bearer "+writeToken); got != 200 {
		t.Errorf("pprof with a write token: %d", got)
	}
	if got := admin("/healthz"); got != 200 {
		t.Errorf("admin healthz with tokens: %d", got)
	}
}

func TestServeAdminRefusesPublicListenerWithoutTokens(t *testing.T) {
	e := newEnv(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fake := fakeListener{Listener: ln, addr: &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 7071}}
	if err := e.srv.ServeAdmin(context.Background(), fake); !errors.Is(err, node.ErrInsecureListen) {
		t.Fatalf("ServeAdmin on a public address without tokens: %v", err)
	}
}

// SetAdmin mounts /admin/ on the admin listener only. GET needs a read
// token when tokens are configured; POST (which can decommission the
// node) needs an admin token, and when no admin token is configured it is
// answered for loopback clients only (with a read-write token when tokens
// are configured): a client's write token never decommissions a node.
func TestSetAdminRoutes(t *testing.T) {
	const adminToken = "admin-token-0123456789"
	mounted := func(srv *node.Server) *int {
		calls := new(int)
		srv.SetAdmin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*calls++
			w.WriteHeader(http.StatusAccepted)
		}))
		return calls
	}
	const remote, loopback = "192.0.2.1:1234", "127.0.0.1:1234"
	type request struct {
		method, token, from string
		want                int
	}
	check := func(t *testing.T, h http.Handler, calls *int, cases []request) {
		t.Helper()
		want := *calls
		for _, tc := range cases {
			r := newRequest(tc.method, "/admin/leave", nil)
			r.RemoteAddr = tc.from
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("%s /admin/leave from %s with token %q: %d %s, want %d", tc.method, tc.from, tc.token, w.Code, w.Body, tc.want)
			}
			if tc.want == http.StatusAccepted {
				want++
			}
		}
		if *calls != want {
			t.Errorf("handler ran %d times, want %d (the authorized requests)", *calls, want)
		}
	}

	t.Run("admin token configured", func(t *testing.T) {
		e := newEnv(t, func(c *node.Config) {
			withTokens(c)
			c.Auth.Tokens = append(c.Auth.Tokens, node.Token{Name: "operator", Token: adminToken, Scope: node.ScopeAdmin})
		})
		check(t, e.srv.AdminHandler(), mounted(e.srv), []request{
			{http.MethodPost, writeToken, remote, 403},
			{http.MethodPost, writeToken, loopback, 403},
			{http.MethodPost, readToken, remote, 403},
			{http.MethodPost, "", remote, 401},
			{http.MethodPost, adminToken, remote, http.StatusAccepted},
			{http.MethodGet, "", remote, 401},
			{http.MethodGet, readToken, remote, http.StatusAccepted},
			{http.MethodGet, adminToken, remote, http.StatusAccepted}, // admin implies read
		})
		// admin implies read-write on the blob API too.
		wantStatus(t, e.do(http.MethodPut, "/blobs/k", strings.NewReader("x"), "Authorization", "Bearer "+adminToken), 201, "")
	})
	t.Run("tokens without an admin one", func(t *testing.T) {
		e := newEnv(t, withTokens)
		check(t, e.srv.AdminHandler(), mounted(e.srv), []request{
			{http.MethodPost, writeToken, remote, 403},
			{http.MethodPost, writeToken, loopback, http.StatusAccepted},
			{http.MethodPost, readToken, loopback, 403},
			{http.MethodPost, "", loopback, 401},
			{http.MethodGet, readToken, remote, http.StatusAccepted},
		})
	})
	t.Run("no tokens", func(t *testing.T) {
		e := newEnv(t, nil)
		r := newRequest(http.MethodGet, "/admin/cluster", nil)
		w := httptest.NewRecorder()
		e.srv.AdminHandler().ServeHTTP(w, r)
		if w.Code != 404 {
			t.Errorf("/admin/cluster before SetAdmin: %d, want 404", w.Code)
		}
		check(t, e.srv.AdminHandler(), mounted(e.srv), []request{
			{http.MethodPost, "", loopback, http.StatusAccepted},
			{http.MethodPost, "", remote, 403},
			{http.MethodGet, "", remote, http.StatusAccepted},
		})
		wantStatus(t, e.do(http.MethodGet, "/admin/cluster", nil), 404, "no_route") // never on the blob listener
	})
}
