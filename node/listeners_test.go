package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/peer"
	"strata/node/replication"
)

// splitServed is a Server answering on listen, listen_read and
// listen_write (loopback, fresh ports) until the test ends.
type splitServed struct {
	*env
	main, read, write string // host:port of each
}

func serveSplit(t *testing.T, mutate func(*node.Config)) *splitServed {
	t.Helper()
	e := newEnv(t, func(c *node.Config) {
		c.Listen, c.ListenRead, c.ListenWrite = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		if mutate != nil {
			mutate(c)
		}
	})
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	lns := node.Listeners{Main: listen(), Read: listen(), Write: listen()}
	s := &splitServed{env: e, main: lns.Main.Addr().String(), read: lns.Read.Addr().String(), write: lns.Write.Addr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.ServeListeners(ctx, lns) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeListeners: %v", err)
		}
	})
	return s
}

type answer struct {
	status int
	header http.Header
	code   string // the JSON error code, if any
	body   string
}

// send makes one request to addr and reads the whole answer.
func send(t *testing.T, method, addr, path, body string, header ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, addr, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	var e struct{ Code string }
	if json.Unmarshal(b, &e) == nil {
		a.code = e.Code
	}
	return a
}

// Each listener answers its half of the API; the other half gets 405 with
// the listener's Allow and the node's JSON error, and changes nothing.
func TestSplitListenersRouteByMethod(t *testing.T) {
	s := serveSplit(t, nil)
	s.srv.SetInternal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	s.put("k", "value")
	s.put("gone", "x")
	const none = "-" // no Allow header expected
	for _, tc := range []struct {
		listener, method, path string
		status                 int
		allow, code            string
	}{
		{"read", "GET", "/blobs/k", 200, none, ""},
		{"read", "HEAD", "/blobs/k", 200, none, ""},
		{"read", "GET", "/blobs?prefix=k", 200, none, ""},
		{"read", "PUT", "/blobs/new", 405, "GET, HEAD", "method_not_allowed"},
		{"read", "DELETE", "/blobs/k", 405, "GET, HEAD", "method_not_allowed"},
		{"read", "POST", "/blobs/k", 405, "GET, HEAD", "method_not_allowed"},
		{"read", "POST", "/blobs", 405, "GET, HEAD", "method_not_allowed"},
		{"read", "GET", "/internal/blobs/k", 404, none, "no_route"},
		{"read", "GET", "/healthz", 200, none, ""},
		{"read", "GET", "/readyz", 200, none, ""},
		{"read", "GET", "/metrics", 200, none, ""},
		{"write", "PUT", "/blobs/new", 201, none, ""},
		{"write", "HEAD", "/blobs/k", 200, none, ""},
		{"write", "DELETE", "/blobs/gone", 204, none, ""},
		{"write", "GET", "/blobs/k", 405, "PUT, DELETE, HEAD", "method_not_allowed"},
		{"write", "POST", "/blobs/k", 405, "PUT, DELETE, HEAD", "method_not_allowed"},
		{"write", "GET", "/blobs", 405, "", "method_not_allowed"},
		{"write", "PUT", "/internal/blobs/k", 404, none, "no_route"},
		{"write", "GET", "/readyz", 200, none, ""},
		{"main", "GET", "/blobs/k", 200, none, ""},
		{"main", "PUT", "/blobs/main", 201, none, ""},
		{"main", "GET", "/internal/blobs/k", http.StatusTeapot, none, ""},
	} {
		t.Run(tc.listener+" "+tc.method+" "+tc.path, func(t *testing.T) {
			addr := map[string]string{"main": s.main, "read": s.read, "write": s.write}[tc.listener]
			body := ""
			if tc.method == "PUT" || tc.method == "POST" {
				body = "payload"
			}
			a := send(t, tc.method, addr, tc.path, body)
			if a.status != tc.status || a.code != tc.code {
				t.Fatalf("%d %q %s, want %d %q", a.status, a.code, a.body, tc.status, tc.code)
			}
			allow, has := a.header["Allow"]
			switch {
			case tc.allow == none && has:
				t.Fatalf("Allow %q, want none", allow)
			case tc.allow != none && (!has || allow[0] != tc.allow):
				t.Fatalf("Allow %q, want %q", allow, tc.allow)
			}
		})
	}
	// The refused writes changed nothing.
	if b, ok := s.store.Bytes("k"); !ok || string(b) != "value" {
		t.Fatalf("k after refused writes: %q %v", b, ok)
	}
	if n := s.store.Len(); n != 3 { // k, new, main
		t.Fatalf("%d blobs, want 3 (k, new, main)", n)
	}
}

// /readyz names the bound listeners; the metrics count each one's open
// connections against its own limit.
func TestSplitListenersReported(t *testing.T) {
	n := 7
	s := serveSplit(t, func(c *node.Config) { c.HTTP.Write.MaxConnections = &n })
	var body struct {
		ReadOnly  bool              `json:"read_only"`
		Listeners map[string]string `json:"listeners"`
	}
	a := send(t, "GET", s.read, "/readyz", "")
	if err := json.Unmarshal([]byte(a.body), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"listen": s.main, "listen_read": s.read, "listen_write": s.write}
	if fmt.Sprint(body.Listeners) != fmt.Sprint(want) || body.ReadOnly {
		t.Fatalf("readyz %s, want listeners %v and read_only false", a.body, want)
	}
	m := send(t, "GET", s.main, "/metrics", "").body
	for _, line := range []string{
		`strata_http_max_connections{listener="listen_write"} 7`,
		`strata_http_max_connections{listener="listen_read"} 4096`,
		`strata_http_open_connections{listener="listen"} 1`, // this scrape's
		`strata_read_only 0`,
	} {
		if !strings.Contains(m, line) {
			t.Errorf("metrics lack %q:\n%s", line, grepLines(m, "strata_http_open_connections", "strata_http_max_connections", "strata_read_only"))
		}
	}
}

// slowUpload opens a connection to addr and starts a PUT whose body never
// completes: it holds the connection (and an upload slot) until closed.
func slowUpload(t *testing.T, addr, key string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "PUT /blobs/%s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\nfirst bytes", key)
	return c
}

// waitMetric polls addr's /metrics until line appears (bounded; the
// outcome is asserted, not its timing).
func waitMetricAt(t *testing.T, addr, line string) {
	t.Helper()
	for range 400 {
		if strings.Contains(send(t, "GET", addr, "/metrics", "").body, line) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("metric %q never appeared", line)
}

// The mechanism behind the proof: with every connection of the
// write listener held by slow uploads, a read on the read listener is
// still accepted and answered. On the single listen with the same limit,
// the slow uploads hold every connection: a read waits in the accept
// queue until one of them goes, and is answered then. (Scrapes go to the
// read listener, so they take no slot of the listener under test.)
func TestSlowUploadsOnWriteListenerLeaveReadListener(t *testing.T) {
	const limit = 3
	n := limit
	s := serveSplit(t, func(c *node.Config) {
		c.HTTP.MaxConnections = limit
		c.HTTP.Write.MaxConnections = &n
		c.HTTP.Read.MaxConnections = &n
		c.Limits.MaxUploads = 2 * limit // connections, not admission, are what run out
	})
	s.put("hot", "still readable")
	for i := range limit {
		slowUpload(t, s.write, fmt.Sprintf("w%d", i))
	}
	waitMetricAt(t, s.read, fmt.Sprintf(`strata_http_open_connections{listener="listen_write"} %d`, limit))
	waitMetricAt(t, s.read, fmt.Sprintf(`strata_http_in_flight{class="upload"} %d`, limit))
	if a := send(t, "GET", s.read, "/blobs/hot", ""); a.status != 200 || a.body != "still readable" {
		t.Fatalf("read on the read listener while the write listener is full: %d %q", a.status, a.body)
	}

	// The same flood on listen fills it.
	var held []net.Conn
	for i := range limit {
		held = append(held, slowUpload(t, s.main, fmt.Sprintf("m%d", i)))
	}
	waitMetricAt(t, s.read, fmt.Sprintf(`strata_http_in_flight{class="upload"} %d`, 2*limit))
	waitMetricAt(t, s.read, fmt.Sprintf(`strata_http_open_connections{listener="listen"} %d`, limit))
	// A read sent to listen now is not accepted while the slow uploads
	// hold every slot; closing one lets it through.
	wrote := make(chan struct{})
	got := make(chan answer, 1)
	go func() {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }})
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.main+"/blobs/hot", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- answer{status: -1, body: err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- answer{status: resp.StatusCode, body: string(b)}
	}()
	<-wrote
	select {
	case a := <-got:
		t.Fatalf("read on a full listen answered before a slot freed: %d %q", a.status, a.body)
	default:
	}
	held[0].Close()
	if a := <-got; a.status != 200 || a.body != "still readable" {
		t.Fatalf("read on listen after a slow upload went: %d %q", a.status, a.body)
	}
}

// memBackend is the replica side of a node over its MemStore: enough of
// peer.Backend for replica writes to land in the store.
type memBackend struct{ e *env }

func (b memBackend) ApplyPut(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	return b.e.store.Put(ctx, key, r, size, opts)
}

func (b memBackend) ApplyCompose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	return blockstore.Info{}, errors.ErrUnsupported
}

func (b memBackend) ApplyDelete(ctx context.Context, key string, version uint64) error {
	return b.e.store.Delete(ctx, key, blockstore.DeleteOptions{})
}

func (b memBackend) Lookup(ctx context.Context, key string) (blockstore.Entry, error) {
	return blockstore.Entry{}, blockstore.ErrNotFound
}

func (b memBackend) OpenLocal(ctx context.Context, key string) (node.Object, error) {
	return b.e.store.Open(ctx, key)
}

func (b memBackend) Digest(ctx context.Context, forPeer string) (replication.Digest, error) {
	return replication.Digest{}, errors.New("memBackend: no digests")
}

func (b memBackend) Entries(ctx context.Context, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error) {
	return nil, errors.New("memBackend: no entries")
}

// A read-only node serves reads and refuses client writes with 503
// read_only on every listener, changing nothing, while replica writes on
// the internal routes (another node coordinating) still land.
func TestReadOnlyRefusesClientWritesTakesReplicas(t *testing.T) {
	s := serveSplit(t, func(c *node.Config) { c.ReadOnly = true })
	secret := []byte("cluster-secret-0123456789")
	s.srv.SetInternal(peer.NewHandler(peer.HandlerOptions{Secret: secret, Backend: memBackend{s.env}}))
	if _, err := s.store.Put(context.Background(), "kept", strings.NewReader("old"), 3, blockstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{s.main, s.write} {
		for _, method := range []string{"PUT", "DELETE"} {
			a := send(t, method, addr, "/blobs/kept", "new")
			if a.status != 503 || a.code != "read_only" || a.header.Get("Retry-After") == "" {
				t.Fatalf("%s on %s: %d %q Retry-After %q, want 503 read_only with Retry-After", method, addr, a.status, a.code, a.header.Get("Retry-After"))
			}
		}
	}
	if b, ok := s.store.Bytes("kept"); !ok || string(b) != "old" || s.store.Len() != 1 {
		t.Fatalf("after refused writes: kept %q %v, %d blobs", b, ok, s.store.Len())
	}
	for _, addr := range []string{s.main, s.read} {
		if a := send(t, "GET", addr, "/blobs/kept", ""); a.status != 200 || a.body != "old" {
			t.Fatalf("GET on %s: %d %q", addr, a.status, a.body)
		}
	}

	client := peer.NewClient(peer.ClientOptions{Secret: secret, NodeID: "coordinator"})
	defer client.CloseIdleConnections()
	if _, err := client.PutReplica(context.Background(), s.main, "replicated", strings.NewReader("from a peer"), 11, blockstore.PutOptions{Version: 42}); err != nil {
		t.Fatalf("replica write to a read-only node: %v", err)
	}
	if a := send(t, "GET", s.read, "/blobs/replicated", ""); a.status != 200 || a.body != "from a peer" {
		t.Fatalf("replica read back: %d %q", a.status, a.body)
	}

	var ready struct {
		Status      string `json:"status"`
		WriteReason string `json:"write_reason"`
		Writable    bool   `json:"writable"`
		ReadOnly    bool   `json:"read_only"`
	}
	a := send(t, "GET", s.main, "/readyz", "")
	if err := json.Unmarshal([]byte(a.body), &ready); err != nil {
		t.Fatal(err)
	}
	if a.status != 200 || ready.Status != "ready" || ready.Writable || ready.WriteReason != "read_only" || !ready.ReadOnly {
		t.Fatalf("readyz %d %s, want ready, not writable (read_only), read_only true", a.status, a.body)
	}
	m := send(t, "GET", s.main, "/metrics", "").body
	if !strings.Contains(m, "strata_read_only 1") || !strings.Contains(m, "strata_writable 0") {
		t.Fatalf("metrics lack strata_read_only 1 and strata_writable 0")
	}
}

// grepLines is the lines of text that start with one of prefixes.
func grepLines(text string, prefixes ...string) string {
	var out []string
	for line := range strings.Lines(text) {
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				out = append(out, strings.TrimSpace(line))
			}
		}
	}
	return strings.Join(out, "\n")
}

// Without tokens, a split listener off loopback is refused as listen is,
// and every listener given is closed.
func TestServeListenersRefusePublicSplitListener(t *testing.T) {
	e := newEnv(t, nil)
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	main, public := listen(), listen()
	fake := fakeListener{Listener: public, addr: &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 8081}}
	err := e.srv.ServeListeners(context.Background(), node.Listeners{Main: main, Write: fake})
	if !errors.Is(err, node.ErrInsecureListen) || !strings.Contains(err.Error(), "listen_write") {
		t.Fatalf("ServeListeners with a public write listener and no tokens: %v", err)
	}
	for _, ln := range []net.Listener{main, public} {
		if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("listener %s left open: %v", ln.Addr(), err)
		}
	}
	if err := e.srv.ServeListeners(context.Background(), node.Listeners{}); err == nil {
		t.Fatal("ServeListeners without a main listener: no error")
	}
}

// A split listener's own progress_timeout applies to the requests on it:
// an upload stalled on listen_write is cut off by [http.write]'s bound
// while listen's longer one still holds.
func TestSplitListenerOwnProgressTimeout(t *testing.T) {
	short := 200 * time.Millisecond
	s := serveSplit(t, func(c *node.Config) { c.HTTP.Write.ProgressTimeout = &short; c.HTTP.ProgressTimeout = time.Hour })
	c := slowUpload(t, s.write, "stalled")
	c.SetReadDeadline(time.Now().Add(time.Minute)) // a bound on the test, far above the one under test
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, "408") {
		t.Fatalf("stalled upload on listen_write: %q %v, want 408", line, err)
	}
	if s.store.Len() != 0 {
		t.Fatal("a cut-off upload was stored")
	}
}
