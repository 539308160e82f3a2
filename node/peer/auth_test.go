package peer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/peer"
)

// flipLast flips the last byte of a stream, leaving its length alone.
type flipLast struct {
	r    io.Reader
	prev []byte // held back: the last byte is only known at EOF
}

func (f *flipLast) Read(p []byte) (int, error) {
	buf := make([]byte, len(p))
	n, err := f.r.Read(buf)
	f.prev = append(f.prev, buf[:n]...)
	if errors.Is(err, io.EOF) {
		if len(f.prev) > 0 {
			f.prev[len(f.prev)-1] ^= 1
		}
		m := copy(p, f.prev)
		f.prev = f.prev[m:]
		if len(f.prev) > 0 {
			return m, nil
		}
		return m, io.EOF
	}
	if len(f.prev) <= 1 {
		return 0, nil
	}
	m := copy(p, f.prev[:len(f.prev)-1])
	f.prev = f.prev[m:]
	return m, nil
}

// readCloser keeps a request body's Close while its reads change.
type readCloser struct {
	io.Reader
	io.Closer
}

// onEOF runs fn when r reaches io.EOF (before the EOF is returned).
type onEOF struct {
	r  io.Reader
	fn func()
}

func (o *onEOF) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if errors.Is(err, io.EOF) && o.fn != nil {
		o.fn()
		o.fn = nil
	}
	return n, err
}

func wrapBody(r *http.Request, wrap func(io.Reader) io.Reader) {
	r.Body = readCloser{wrap(r.Body), r.Body}
}

func setHeader(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

// Every way a request can fail authentication is answered 401 (the Client
// reports ErrUnauthenticated) and leaves the backend as it was.
func TestAuthFailuresAre401AndChangeNothing(t *testing.T) {
	const key, body = "k", "the replica bytes"
	v := version(time.Now().UnixMilli(), 0)
	type op func(e *env, c *peer.Client) error
	put := func(size int64) op {
		return func(e *env, c *peer.Client) error {
			_, err := c.PutReplica(context.Background(), e.addr, key, strings.NewReader(body), size, blockstore.PutOptions{Version: v + 1, ContentType: "text/plain"})
			return err
		}
	}
	del := func(e *env, c *peer.Client) error { return c.DeleteReplica(context.Background(), e.addr, key, v+1) }
	lookup := func(e *env, c *peer.Client) error { _, err := c.Lookup(context.Background(), e.addr, key); return err }
	read := func(e *env, c *peer.Client) error {
		r, _, err := c.OpenRange(context.Background(), e.addr, key, 0, 0, -1)
		if err == nil {
			r.Close()
		}
		return err
	}
	digest := func(e *env, c *peer.Client) error { _, err := c.Digest(context.Background(), e.addr, "n1"); return err }

	skewed := func(d time.Duration) peer.ClientOptions {
		return peer.ClientOptions{Secret: testSecret, NodeID: "n1", Now: func() time.Time { return time.Now().Add(d) }}
	}
	for _, tc := range []struct {
		name   string
		opts   *peer.ClientOptions // nil: the env's
		tamper func(*http.Request)
		op     op
	}{
		{name: "no auth header", tamper: func(r *http.Request) { r.Header.Del("X-Strata-Auth") }, op: put(int64(len(body)))},
		{name: "no auth headers at all", tamper: func(r *http.Request) {
			for _, h := range []string{"X-Strata-Auth", "X-Strata-Node", "X-Strata-Date", "X-Strata-Body", "X-Strata-Size"} {
				r.Header.Del(h)
			}
		}, op: del},
		{name: "auth header twice", tamper: func(r *http.Request) { r.Header.Add("X-Strata-Auth", r.Header.Get("X-Strata-Auth")) }, op: del},
		{name: "auth not hex", tamper: setHeader("X-Strata-Auth", strings.Repeat("z", 64)), op: del},
		{name: "wrong secret, put", opts: &peer.ClientOptions{Secret: []byte("another secret"), NodeID: "n1"}, op: put(int64(len(body)))},
		{name: "wrong secret, delete", opts: &peer.ClientOptions{Secret: []byte("another secret"), NodeID: "n1"}, op: del},
		{name: "wrong secret, lookup", opts: &peer.ClientOptions{Secret: []byte("another secret"), NodeID: "n1"}, op: lookup},
		{name: "wrong secret, read", opts: &peer.ClientOptions{Secret: []byte("another secret"), NodeID: "n1"}, op: read},
		{name: "wrong secret, digest", opts: &peer.ClientOptions{Secret: []byte("another secret"), NodeID: "n1"}, op: digest},
		{name: "clock behind", opts: ptr(skewed(-peer.MaxClockSkew - time.Minute)), op: put(int64(len(body)))},
		{name: "clock ahead", opts: ptr(skewed(peer.MaxClockSkew + time.Minute)), op: del},
		{name: "tampered path", tamper: func(r *http.Request) {
			r.URL.Path, r.URL.RawPath = "/internal/v1/blobs/other", ""
		}, op: put(int64(len(body)))},
		{name: "tampered query version", tamper: func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "version=", "version=9", 1)
		}, op: del},
		{name: "extra query parameter", tamper: func(r *http.Request) { r.URL.RawQuery += "&x=1" }, op: lookup},
		{name: "tampered method", tamper: func(r *http.Request) { r.Method = http.MethodDelete }, op: lookup},
		{name: "tampered date", tamper: func(r *http.Request) {
			ms, _ := strconv.ParseInt(r.Header.Get("X-Strata-Date"), 10, 64)
			r.Header.Set("X-Strata-Date", strconv.FormatInt(ms+1, 10))
		}, op: del},
		{name: "tampered sender", tamper: setHeader("X-Strata-Node", "n2"), op: del},
		{name: "tampered size", tamper: setHeader("X-Strata-Size", "-1"), op: put(int64(len(body)))},
		{name: "tampered content type", tamper: setHeader("Content-Type", "text/evil"), op: put(int64(len(body)))},
		{name: "tampered body, known size", tamper: func(r *http.Request) {
			wrapBody(r, func(b io.Reader) io.Reader { return &flipLast{r: b} })
		}, op: put(int64(len(body)))},
		{name: "tampered body, unknown size", tamper: func(r *http.Request) {
			wrapBody(r, func(b io.Reader) io.Reader { return &flipLast{r: b} })
		}, op: put(-1)},
		{name: "body cut short", tamper: func(r *http.Request) {
			r.Trailer = nil
			wrapBody(r, func(b io.Reader) io.Reader { return io.LimitReader(b, 3) })
		}, op: put(-1)},
		{name: "body extended", tamper: func(r *http.Request) {
			wrapBody(r, func(b io.Reader) io.Reader { return io.MultiReader(b, strings.NewReader("more")) })
		}, op: put(int64(len(body)))},
		{name: "missing trailer", tamper: func(r *http.Request) { r.Trailer = nil }, op: put(int64(len(body)))},
		{name: "missing trailer, unknown size", tamper: func(r *http.Request) { r.Trailer = nil }, op: put(-1)},
		{name: "wrong trailer", tamper: func(r *http.Request) {
			trailer := r.Trailer
			wrapBody(r, func(b io.Reader) io.Reader {
				return &onEOF{r: b, fn: func() { trailer.Set("X-Strata-Body-Mac", strings.Repeat("0", 64)) }}
			})
		}, op: put(int64(len(body)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.backend.set(blockstore.Entry{Info: blockstore.Info{Key: key, Version: v, ContentType: "old"}}, []byte("old bytes"))
			before := e.backend.state()
			opts := peer.ClientOptions{Secret: testSecret, NodeID: "n1"}
			if tc.opts != nil {
				opts = *tc.opts
			}
			err := tc.op(e, e.newClient(opts, tc.tamper))
			if !errors.Is(err, peer.ErrUnauthenticated) {
				t.Fatalf("got %v; want a 401 (ErrUnauthenticated)", err)
			}
			if after := e.backend.state(); after != before {
				t.Fatalf("backend changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// The same tampered bodies, against a store that reads exactly the
// declared size and never asks for io.EOF: the MAC is checked before it
// gets the last byte.
func TestTamperedBodyNeverReachesAStoreThatTrustsTheSize(t *testing.T) {
	e := newEnv(t)
	e.backend.configure(func(f *fakeBackend) { f.readExactly = true })
	const body = "exactly seventeen"
	c := e.newClient(peer.ClientOptions{Secret: testSecret, NodeID: "n1"}, func(r *http.Request) {
		wrapBody(r, func(b io.Reader) io.Reader { return &flipLast{r: b} })
	})
	_, err := c.PutReplica(context.Background(), e.addr, "k", strings.NewReader(body), int64(len(body)), blockstore.PutOptions{Version: 5})
	if !errors.Is(err, peer.ErrUnauthenticated) {
		t.Fatalf("tampered body: %v; want ErrUnauthenticated", err)
	}
	if s := e.backend.state(); s != "" {
		t.Fatalf("backend stored:\n%s", s)
	}
	// And the honest body goes through the same store.
	if _, err := e.client.PutReplica(context.Background(), e.addr, "k", strings.NewReader(body), int64(len(body)), blockstore.PutOptions{Version: 5}); err != nil {
		t.Fatalf("honest body: %v", err)
	}
}

// Requests without the cluster signature, as any HTTP client would send
// them, get a JSON 401; a client bearer token does not open the routes.
func TestUnsignedRequestsAndBearerTokens(t *testing.T) {
	const token = "a-client-token-0123456789"
	e := newEnv(t, func(c *envConfig) {
		c.nodeCfg = func(cfg *node.Config) {
			cfg.Auth.Tokens = []node.Token{{Name: "client", Token: token, Scope: "read-write"}}
		}
	})
	e.backend.set(blockstore.Entry{Info: blockstore.Info{Key: "k", Version: 3}}, []byte("secret bytes"))
	before := e.backend.state()
	for _, tc := range []struct {
		method, path, body string
	}{
		{http.MethodGet, "/internal/v1/blobs/k", ""},
		{http.MethodGet, "/internal/v1/meta/k", ""},
		{http.MethodPut, "/internal/v1/blobs/k?version=99", "evil"},
		{http.MethodDelete, "/internal/v1/blobs/k?version=99", ""},
		{http.MethodGet, "/internal/v1/digest?for=n1", ""},
		{http.MethodGet, "/internal/v1/nothing-here", ""},
	} {
		for _, bearer := range []bool{false, true} {
			req, err := http.NewRequest(tc.method, e.srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if bearer {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var apiErr struct{ Error, Code string }
			if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal(b, &apiErr) != nil || apiErr.Code != "unauthorized" {
				t.Errorf("%s %s (bearer %v): %d %s; want 401 code unauthorized", tc.method, tc.path, bearer, resp.StatusCode, b)
			}
			if bytes.Contains(b, []byte("secret bytes")) {
				t.Errorf("%s %s leaked the blob", tc.method, tc.path)
			}
		}
	}
	if after := e.backend.state(); after != before {
		t.Fatalf("backend changed:\nbefore %s\nafter  %s", before, after)
	}
	if calls := e.backend.callLog(); len(calls) != 0 {
		t.Fatalf("backend was called: %q", calls)
	}
	// The signed Client still works on the same node.
	if _, err := e.client.Lookup(context.Background(), e.addr, "k"); err != nil {
		t.Fatalf("signed Lookup: %v", err)
	}
}

// A handler without a secret refuses everything, signed or not.
func TestHandlerWithoutSecretRefusesAll(t *testing.T) {
	e := newEnv(t)
	fb := newFakeBackend()
	h := peer.NewHandler(peer.HandlerOptions{Backend: fb})
	srv, err := node.New(node.DefaultConfig(t.TempDir()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetInternal(h)
	ts := newLoopbackServer(t, srv.Handler())
	for _, secret := range [][]byte{testSecret, {}} {
		c := e.newClient(peer.ClientOptions{Secret: secret, NodeID: "n1"}, nil)
		if _, err := c.Lookup(context.Background(), ts, "k"); err == nil {
			t.Fatalf("a handler without a secret answered a request signed with %q", secret)
		}
	}
	if calls := fb.callLog(); len(calls) != 0 {
		t.Fatalf("backend was called: %q", calls)
	}
}

func ptr[T any](v T) *T { return &v }
