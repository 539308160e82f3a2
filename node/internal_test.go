package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"strata/blockstore"
)

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{blockstore.ErrNotFound, 404, "not_found"},
		{blockstore.ErrInvalidKey, 400, "invalid_key"},
		{blockstore.ErrTooLarge, 413, "too_large"},
		{errBodyTooLarge, 413, "too_large"},
		{blockstore.ErrNoSpace, 507, "no_space"},
		{fmt.Errorf("append: %w", syscall.ENOSPC), 507, "no_space"},
		{blockstore.ErrReadOnly, 503, "read_only"},
		{fmt.Errorf("read: %w (%w)", blockstore.ErrDiskFailed, syscall.EIO), 503, "disk_failed"},
		{syscall.EROFS, 503, "read_only"},
		{blockstore.ErrCorrupt, 503, "corrupt"},
		{blockstore.ErrSizeMismatch, 400, "size_mismatch"},
		{blockstore.ErrInvalidArgument, 400, "invalid_argument"},
		{blockstore.ErrClosed, 503, "shutting_down"},
		{errBusy, 503, "busy"},
		{errBodyStalled, 408, "body_stalled"},
		{errBodyRead, 400, "bad_body"},
		{errUnauthorized, 401, "unauthorized"},
		{errForbidden, 403, "forbidden"},
		{errPrecondition, 412, "precondition_failed"},
		{errRangeNotSatisfiable, 416, "range_not_satisfiable"},
		{context.DeadlineExceeded, 503, "timeout"},
		{context.Canceled, 499, "client_closed"},
		{syscall.EIO, 503, "io_error"},
		{errors.New("anything else"), 500, "internal"},
	} {
		status, code, msg := statusOf(fmt.Errorf("wrapped: %w", tc.err))
		if status != tc.status || code != tc.code || msg == "" {
			t.Errorf("statusOf(%v) = %d %q %q; want %d %q", tc.err, status, code, msg, tc.status, tc.code)
		}
	}
}

func TestSemaphore(t *testing.T) {
	s := newSemaphore(2, 0)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := s.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.acquire(ctx); !errors.Is(err, errBusy) {
		t.Fatalf("third acquire: %v", err)
	}
	s.release()
	if err := s.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	waiting := newSemaphore(1, 1<<62)
	_ = waiting.acquire(ctx)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := waiting.acquire(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a cancelled context: %v", err)
	}
}

func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 1)
	defer ln.Close()
	c1, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	a1, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept() // waits for a slot
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	a1.Close()
	a1.Close() // a second close must not free a second slot
	c2, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := <-accepted; err != nil {
		t.Fatalf("accept after a slot freed: %v", err)
	}
	if len(ln.slots) != 0 {
		t.Fatalf("%d slots held after all conns closed", len(ln.slots))
	}
	// Close unblocks a waiting Accept.
	_ = ln.slots // fill the only slot
	ln.slots <- struct{}{}
	go func() { _, err := ln.Accept(); accepted <- err }()
	ln.Close()
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Bearer": "", "Basic abc": "", "": "", "Bearer ": ""} {
		got, ok := bearerToken(h)
		if got != want || ok != (want != "") {
			t.Errorf("bearerToken(%q) = %q, %v", h, got, ok)
		}
	}
	_ = http.StatusOK
}

// The tiered adapter's readiness is the store's health less what only
// stops writes.
func TestTieredReadHealth(t *testing.T) {
	for _, tc := range []struct {
		err   error
		ready bool
	}{
		{nil, true},
		{fmt.Errorf("dir /h0: %w", blockstore.ErrNoSpace), true},
		{errors.Join(fmt.Errorf("%w: /h0", blockstore.ErrNoSpace), fmt.Errorf("%w: /h1", blockstore.ErrReadOnly)), true},
		{blockstore.ErrReadOnly, true},
		{blockstore.ErrClosed, false},
		{syscall.EIO, false},
	} {
		if got := readHealth(tc.err); (got == nil) != tc.ready {
			t.Errorf("readHealth(%v) = %v, want ready=%v", tc.err, got, tc.ready)
		}
	}
}

// The answer written to a refused connection is a well-formed HTTP response.
func TestRefusedAnswer(t *testing.T) {
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(refusedAnswer)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests || int64(len(body)) != resp.ContentLength || !resp.Close ||
		len(refusedAnswer) != strings.Index(refusedAnswer, "\r\n\r\n")+4+len(body) {
		t.Fatalf("refused answer: %d, %d-byte body %q (Content-Length %d), close %v, %v", resp.StatusCode, len(body), body, resp.ContentLength, resp.Close, err)
	}
}

// clientLimitListener counts each client's connections and gives a slot
// back once per connection, however often it is closed.
func TestClientLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	ln := newClientLimitListener(inner, 2, true, func() { refused++ })
	defer ln.Close()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	client := netip.MustParseAddr("127.0.0.1")
	dial()
	dial()
	a1, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	a2, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if n := ln.openFrom(client); n != 2 {
		t.Fatalf("%d open, want 2", n)
	}
	third := dial()
	fourth := dial()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept() // refuses the third, then waits for the fourth... which is refused too
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	_ = third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(third); err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 429 ") {
		t.Fatalf("third connection: %q, %v", b, err)
	}
	_ = fourth.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(fourth); err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 429 ") {
		t.Fatalf("fourth connection: %q, %v", b, err)
	}
	a1.Close()
	a1.Close() // a second close must not free a second slot
	if n := ln.openFrom(client); n != 1 {
		t.Fatalf("%d open after one close, want 1", n)
	}
	dial()
	c, ok := <-accepted
	if !ok {
		t.Fatal("no connection accepted after a slot freed")
	}
	c.Close()
	a2.Close()
	if n := ln.openFrom(client); n != 0 || len(ln.open) != 0 {
		t.Fatalf("%d open, %d clients tracked after all closed", n, len(ln.open))
	}
	if refused != 2 {
		t.Fatalf("refused counted %d, want 2", refused)
	}
}
