package node_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
)

// served is a Server answering on a loopback listener until stopped.
type served struct {
	*env
	addr string
	stop context.CancelFunc
	done chan error
}

func serveEnv(t *testing.T, mutate func(*node.Config)) *served {
	t.Helper()
	e := newEnv(t, mutate)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{env: e, addr: ln.Addr().String(), stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- e.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

func (s *served) url(path string) string { return "http://" + s.addr + path }

// waitMetric polls the metrics until text appears (bounded; the outcome is
// asserted, not its timing).
func (s *served) waitMetric(t *testing.T, text string) {
	t.Helper()
	for i := 0; i < 400; i++ {
		if strings.Contains(s.do(http.MethodGet, "/metrics", nil).Body.String(), text) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("metric %q never appeared", text)
}

func TestServeRoundTrip(t *testing.T) {
	s := serveEnv(t, nil)
	req, _ := http.NewRequest(http.MethodPut, s.url("/blobs/a%2Fb"), strings.NewReader("over the wire"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("PUT %d", resp.StatusCode)
	}
	// Chunked upload: length unknown to the server.
	req, _ = http.NewRequest(http.MethodPut, s.url("/blobs/chunked"), io.MultiReader(strings.NewReader("part1-"), strings.NewReader("part2")))
	req.ContentLength = -1
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("chunked PUT %d", resp.StatusCode)
	}
	if b, _ := s.store.Bytes("chunked"); string(b) != "part1-part2" {
		t.Fatalf("chunked body stored as %q", b)
	}
	resp, err = http.Get(s.url("/blobs/a/b"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "over the wire" || resp.Header.Get("X-Strata-Tier") != "ram" {
		t.Fatalf("GET %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

func TestServeCutsStalledUpload(t *testing.T) {
	s := serveEnv(t, func(c *node.Config) { c.HTTP.ProgressTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Promise 100 bytes, send 10, then stall.
	fmt.Fprintf(conn, "PUT /blobs/stalled HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("stalled upload answered %d, want 408", resp.StatusCode)
		}
	} // else the connection was closed: also a cut-off
	if _, ok := s.store.Bytes("stalled"); ok {
		t.Fatal("stalled upload stored")
	}
}

func TestServeCutsStalledReader(t *testing.T) {
	const size = 24 << 20 // more than loopback socket buffers hold
	s := serveEnv(t, func(c *node.Config) { c.HTTP.ProgressTimeout = 300 * time.Millisecond; c.MaxBlobSize = size })
	s.put("big", strings.Repeat("x", size))
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /blobs/big HTTP/1.1\r\nHost: localhost\r\n\r\n")
	// Read nothing: the handler must give up rather than wait forever.
	s.waitMetric(t, `strata_http_requests_total{code="200",method="GET",route="blob"} 1`)
}

func TestServeAbortsOnReadErrorMidStream(t *testing.T) {
	s := serveEnv(t, nil)
	s.put("rot", strings.Repeat("y", 256<<10))
	s.store.SetReadFault(fmt.Errorf("%w: chunk 2", blockstore.ErrCorrupt), 64<<10)
	resp, err := http.Get(s.url("/blobs/rot"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("read %d of %d bytes with no error: a truncated body passed as complete", len(body), 256<<10)
	}
	if len(body) >= 256<<10 {
		t.Fatalf("got all %d bytes despite the fault", len(body))
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	s := serveEnv(t, nil)
	g := newGate()
	s.store.SetPutGate(g.hold)
	result := make(chan int, 1)
	go func() {
		resp, err := http.Post(s.url("/blobs/inflight"), "", nil) // POST: 405, not held
		if err == nil {
			resp.Body.Close()
		}
		req, _ := http.NewRequest(http.MethodPut, s.url("/blobs/inflight"), strings.NewReader("in flight"))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	<-g.arrived
	s.stop()
	select {
	case err := <-s.done:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}
	close(g.release)
	if code := <-result; code != 201 {
		t.Fatalf("in-flight PUT answered %d, want 201", code)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("Serve after graceful shutdown: %v", err)
	}
	s.done <- nil // for the cleanup
	if _, err := net.Dial("tcp", s.addr); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

func TestServeShutdownDeadline(t *testing.T) {
	s := serveEnv(t, func(c *node.Config) { c.ShutdownTimeout = 200 * time.Millisecond })
	g := newGate() // never released: the upload waits for its context
	s.store.SetPutGate(g.hold)
	result := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPut, s.url("/blobs/stuck"), strings.NewReader("stuck"))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		result <- err
	}()
	<-g.arrived
	s.stop()
	err := <-s.done
	s.done <- nil
	if err == nil {
		t.Fatal("Serve reported a clean shutdown although a request was cut off")
	}
	if err := <-result; err == nil || strings.Contains(err.Error(), "answered 201") {
		t.Fatalf("cut-off upload: %v", err)
	}
	if _, ok := s.store.Bytes("stuck"); ok {
		t.Fatal("cut-off upload stored")
	}
}

type fakeListener struct {
	net.Listener
	addr net.Addr
}

func (f fakeListener) Addr() net.Addr { return f.addr }

func TestServeRefusesPublicListenerWithoutTokens(t *testing.T) {
	e := newEnv(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fake := fakeListener{Listener: ln, addr: &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 7070}}
	err = e.srv.Serve(context.Background(), fake)
	if !errors.Is(err, node.ErrInsecureListen) {
		t.Fatalf("Serve on a public address without tokens: %v", err)
	}
}

// A refused upload whose client then stalls must not pin the connection.
func TestServeRefusedUploadClosesConnection(t *testing.T) {
	s := serveEnv(t, func(c *node.Config) { withTokens(c); c.HTTP.ProgressTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /blobs/k HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n0123456789")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("answered %d, close %v; want 401 and Connection: close", resp.StatusCode, resp.Close)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
		t.Fatalf("after the refusal: %q, %v; want the connection closed", rest, err)
	}
}

// Slow uploads past the upload limit are refused at once, and reads keep
// being served while the admitted ones stall.
func TestServeSlowUploadFloodLeavesReads(t *testing.T) {
	s := serveEnv(t, func(c *node.Config) { c.Limits.MaxUploads = 2 })
	s.put("hot", "still readable")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 6; i++ {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "PUT /blobs/slow%d HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\nabc", i)
	}
	// Two are admitted and stall; the other four are refused at once.
	s.waitMetric(t, `strata_http_rejected_total{class="upload"} 4`)
	s.waitMetric(t, `strata_http_in_flight{class="upload"} 2`)
	resp, err := http.Get(s.url("/blobs/hot"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "still readable" {
		t.Fatalf("read during the flood: %d %q", resp.StatusCode, body)
	}
}
