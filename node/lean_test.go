package node_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
)

// leanPair is one store served twice: by a Server with http.lean_get on
// and by one with it off, so the same raw requests can go to both.
type leanPair struct {
	store      *nodetest.MemStore
	lean, http string // addresses
	srvLean    *node.Server
	srvHTTP    *node.Server
}

func newLeanPair(t *testing.T, mutate func(*node.Config)) *leanPair {
	t.Helper()
	store := nodetest.NewMemStore(0)
	p := &leanPair{store: store}
	for _, lean := range []bool{true, false} {
		cfg := node.DefaultConfig(t.TempDir())
		cfg.HTTP.LeanGet = lean
		if mutate != nil {
			mutate(&cfg)
		}
		srv, err := node.New(cfg, store, nil)
		if err != nil {
			t.Fatal(err)
		}
		addr := serveLoopback(t, srv)
		if lean {
			p.lean, p.srvLean = addr, srv
		} else {
			p.http, p.srvHTTP = addr, srv
		}
	}
	return p
}

func (p *leanPair) put(t *testing.T, key string, body []byte, contentType string) {
	t.Helper()
	if _, err := p.store.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)), blockstore.PutOptions{ContentType: contentType}); err != nil {
		t.Fatal(err)
	}
}

// closing ends every exchange: net/http answers it on both servers and
// closes, so the whole exchange is read to EOF.
const closing = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

// exchange sends the raw bytes in parts (a pause between them, so the
// server sees partial heads) and returns everything the server sent back
// until it closed, with Date values blanked.
func exchange(t *testing.T, addr string, parts ...string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails, never a slow server
	for i, part := range parts {
		if i > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := io.WriteString(c, part); err != nil {
			break // the server closed; what it answered is compared
		}
	}
	out, err := io.ReadAll(c)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v", err)
	}
	return dateRE.ReplaceAllString(string(out), "Date: X\r\n")
}

var dateRE = regexp.MustCompile(`Date: [^\r]*\r\n`)

func TestLeanGetMatchesNetHTTP(t *testing.T) {
	p := newLeanPair(t, nil)
	p.store.SetTier("ram")
	big := bytes.Repeat([]byte("0123456789abcdef"), 20<<10) // 320 KiB: several write pieces
	p.put(t, "k", []byte("hello lean world"), "")
	p.put(t, "typed", []byte("{}"), "application/json")
	p.put(t, "a/b", []byte("slashed"), "")
	p.put(t, "big", big, "")
	p.put(t, "empty", nil, "")

	get := func(target string, headers ...string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + strings.Join(headers, "") + "\r\n"
	}
	for _, tc := range []struct {
		name  string
		parts []string
	}{
		{"plain", []string{get("/blobs/k"), closing}},
		{"head", []string{"HEAD /blobs/k HTTP/1.1\r\nHost: localhost\r\n\r\n", closing}},
		{"content type", []string{get("/blobs/typed"), closing}},
		{"escaped key", []string{get("/blobs/a%2Fb"), closing}},
		{"big", []string{get("/blobs/big"), closing}},
		{"empty blob", []string{get("/blobs/empty"), closing}},
		{"connection close", []string{get("/blobs/k", "Connection: close\r\n")}},
		{"keep-alive and harmless headers", []string{get("/blobs/k", "connection: Keep-Alive\r\nUser-Agent: t\r\naccept: */*\r\n"), closing}},
		{"missing", []string{get("/blobs/nope"), closing}},
		{"range", []string{get("/blobs/k", "Range: bytes=0-3\r\n"), closing}},
		{"if-none-match", []string{get("/blobs/k", "If-None-Match: *\r\n"), closing}},
		{"consistency query", []string{get("/blobs/k?consistency=one"), closing}},
		{"consistency header", []string{get("/blobs/k", "X-Strata-Consistency: bogus\r\n"), closing}},
		{"unknown header", []string{get("/blobs/k", "X-Other: 1\r\n"), closing}},
		{"http/1.0", []string{"GET /blobs/k HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"}},
		{"not loopback host", []string{"GET /blobs/k HTTP/1.1\r\nHost: example.com\r\n\r\n", closing}},
		{"two hosts", []string{"GET /blobs/k HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n", closing}},
		{"no host", []string{"GET /blobs/k HTTP/1.1\r\n\r\n", closing}},
		{"bad escape", []string{get("/blobs/%zz"), closing}},
		{"bad key", []string{get("/blobs/%00"), closing}},
		{"post", []string{"POST /blobs/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", closing}},
		{"get with a body", []string{get("/blobs/k", "Content-Length: 2\r\n") + "xx", closing}},
		{"bare LF", []string{"GET /blobs/k HTTP/1.1\nHost: 127.0.0.1\n\n", closing}},
		{"leading blank line", []string{"\r\n" + get("/blobs/k"), closing}},
		{"bad header line", []string{get("/blobs/k", "Bad Header: 1\r\n"), closing}},
		{"folded header", []string{get("/blobs/k", "User-Agent: a\r\n b\r\n"), closing}},
		{"pipelined", []string{get("/blobs/k") + "HEAD /blobs/big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + get("/blobs/typed") + closing}},
		{"pipelined then hand-off", []string{get("/blobs/k") + get("/blobs/k", "Range: bytes=1-2\r\n") + get("/blobs/k") + closing}},
		{"partial head", []string{"GET /blobs/k HT", "TP/1.1\r\nHost: 127.", "0.0.1\r\n\r\n", closing}},
		{"partial head then hand-off", []string{"GET /blobs/k HTTP/1.1\r\nHost: 127.0.0.1\r\nRan", "ge: bytes=0-0\r\n\r\n", closing}},
		{"cut short", []string{"GET /blobs/k HTTP/1.1\r\nHost: 127.0"}},
		{"huge head", []string{get("/blobs/k", "User-Agent: "+strings.Repeat("u", 6000)+"\r\n"), closing}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := tc.parts
			if tc.name == "cut short" {
				// The client half-closes: net/http answers 400 on both.
				got := halfClose(t, p.lean, parts[0])
				want := halfClose(t, p.http, parts[0])
				if got != want {
					t.Fatalf("lean:\n%q\nnet/http:\n%q", got, want)
				}
				return
			}
			got, want := exchange(t, p.lean, parts...), exchange(t, p.http, parts...)
			if got != want {
				t.Fatalf("lean:\n%q\nnet/http:\n%q", got, want)
			}
		})
	}

	// The same requests gave the same series on both servers.
	blobSeries := func(addr string) []string {
		out := exchange(t, addr, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, `route="blob"`) && (strings.HasPrefix(l, "strata_http_requests_total") ||
				strings.HasPrefix(l, "strata_http_sent_bytes_total") || strings.HasPrefix(l, "strata_http_request_duration_seconds_count")) {
				lines = append(lines, l)
			}
		}
		sort.Strings(lines)
		return lines
	}
	if got, want := blobSeries(p.lean), blobSeries(p.http); strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) == 0 {
		t.Fatalf("blob metrics differ:\nlean:\n%s\nnet/http:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// halfClose sends head, closes the write side and reads the answer.
func halfClose(t *testing.T, addr, head string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, head)
	_ = c.(*net.TCPConn).CloseWrite()
	out, _ := io.ReadAll(c)
	return dateRE.ReplaceAllString(string(out), "Date: X\r\n")
}

func TestLeanGetAuthMatchesNetHTTP(t *testing.T) {
	p := newLeanPair(t, withTokens)
	p.put(t, "k", []byte("secret bytes"), "")
	get := func(headers ...string) string {
		return "GET /blobs/k HTTP/1.1\r\nHost: node.example\r\n" + strings.Join(headers, "") + "\r\n"
	}
	for _, tc := range []struct {
		name string
		req  string
	}{
		{"read token", get("Authorization: Bearer " + readToken + "\r\n")},
		{"write token", get("authorization: bearer  " + writeToken + " \r\n")},
		{"no token", get()},
		{"wrong token", get("Authorization: Bearer nope-nope-nope-nope\r\n")},
		{"two tokens", get("Authorization: Bearer "+readToken+"\r\n", "Authorization: Bearer "+readToken+"\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			end := "GET /healthz HTTP/1.1\r\nHost: node.example\r\nConnection: close\r\n\r\n"
			got, want := exchange(t, p.lean, tc.req+end), exchange(t, p.http, tc.req+end)
			if got != want {
				t.Fatalf("lean:\n%q\nnet/http:\n%q", got, want)
			}
		})
	}
}

// A read that fails after the first bytes went out cuts the connection on
// both paths: the client never sees a short body passed off as complete.
func TestLeanGetReadFailureMatchesNetHTTP(t *testing.T) {
	p := newLeanPair(t, nil)
	p.put(t, "big", bytes.Repeat([]byte("x"), 300<<10), "")
	p.store.SetReadFault(blockstore.ErrCorrupt, 200<<10)
	req := "GET /blobs/big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	got, want := exchange(t, p.lean, req), exchange(t, p.http, req)
	if len(got) >= 300<<10 || !strings.HasPrefix(got, "HTTP/1.1 200 OK") {
		t.Fatalf("lean sent %d bytes: %.80q", len(got), got)
	}
	if !strings.HasPrefix(want, "HTTP/1.1 200 OK") {
		t.Fatalf("net/http: %.80q", want)
	}
	// A failure at the first byte is an error answer on both.
	p.store.SetReadFault(blockstore.ErrCorrupt, 0)
	got, want = exchange(t, p.lean, req+closing), exchange(t, p.http, req+closing)
	if got != want {
		t.Fatalf("lean:\n%q\nnet/http:\n%q", got, want)
	}
}

// Shutdown drains lean connections as net/http's: an idle keep-alive
// connection is closed, Serve returns nil.
func TestLeanShutdownClosesIdle(t *testing.T) {
	store := nodetest.NewMemStore(0)
	cfg := node.DefaultConfig(t.TempDir())
	srv, err := node.New(cfg, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(context.Background(), "k", strings.NewReader("v"), 1, blockstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /blobs/k HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil || !bytes.HasSuffix(buf[:n], []byte("\r\n\r\nv")) {
		t.Fatalf("answer %q, %v", buf[:n], err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("connection still open after shutdown: read %q", buf[:n])
	}
}

// Over the real tiered store (RAM cache on), a lean GET after an
// acknowledged PUT or DELETE never serves the bytes it replaced, while
// other readers keep the old version hot in RAM the whole time.
func TestLeanGetAfterPutServesNewBytes(t *testing.T) {
	e := newTieredEnv(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	addr := ln.Addr().String()
	get := "GET /blobs/k HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
	stop := make(chan struct{})
	readers := make(chan struct{})
	go func() { // keeps whatever version is current hot in RAM
		defer close(readers)
		for {
			select {
			case <-stop:
				return
			default:
				if c, err := net.Dial("tcp", addr); err == nil {
					_ = c.SetDeadline(time.Now().Add(10 * time.Second))
					_, _ = io.WriteString(c, get)
					_, _ = io.Copy(io.Discard, c)
					c.Close()
				}
			}
		}
	}()
	for i := 0; i < 20; i++ {
		body := strings.Repeat(string(rune('a'+i%26)), 1000+i)
		wantStatus(t, e.put("k", body), 201, "")
		for j := 0; j < 3; j++ {
			out := exchange(t, addr, get)
			if !strings.HasSuffix(out, "\r\n\r\n"+body) {
				t.Fatalf("version %d: GET after the PUT was acknowledged answered %.200q", i, out)
			}
			if j > 0 && !strings.Contains(out, "X-Strata-Tier: ram") {
				t.Logf("version %d read %d not from RAM: %.200q", i, j, out)
			}
		}
	}
	if w := e.do("DELETE", "/blobs/k", nil); w.Code != 204 {
		t.Fatalf("DELETE %d", w.Code)
	}
	if out := exchange(t, addr, get); !strings.HasPrefix(out, "HTTP/1.1 404") {
		t.Fatalf("GET after DELETE: %.200q", out)
	}
	close(stop)
	<-readers
}

// serveLoopback serves srv on a loopback port until the test ends and
// returns its address; the test fails if Serve returns an error.
func serveLoopback(tb testing.TB, srv *node.Server) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve on %s: %v", ln.Addr(), err)
		}
	})
	return ln.Addr().String()
}
