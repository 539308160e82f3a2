package node

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// tcpPair is a connected loopback pair: the client, and the server side
// with its RawConn for the lean loop.
func tcpPair(t *testing.T) (client, server net.Conn, rc syscall.RawConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	rc = rawLeanConn(server)
	if rc == nil {
		t.Skip("no TCP_INQ on this kernel")
	}
	// A missed wake-up fails the test instead of hanging it.
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
	return client, server, rc
}

// readRaw reads with s as the lean loop does: it waits for the socket
// whenever s answers errWouldBlock, until done(bytes so far) or another
// error, and returns the bytes and that error.
func readRaw(t *testing.T, rc syscall.RawConn, s *leanSource, done func([]byte) bool) ([]byte, error) {
	t.Helper()
	var got []byte
	var rerr error
	buf := make([]byte, 4)
	if err := rc.Read(func(fd uintptr) bool {
		s.enter(fd)
		defer s.leave()
		for {
			n, err := s.Read(buf)
			got = append(got, buf[:n]...)
			switch {
			case err == errWouldBlock:
				return done(got)
			case err != nil:
				rerr = err
				return true
			}
		}
	}); err != nil {
		t.Fatalf("waiting for the socket: %v (read %q)", err, got)
	}
	return got, rerr
}

// The raw reads of a lean connection tell an emptied socket (wait without
// another read) from one with bytes or a FIN left, so a client that sends
// its last request and shuts down its side sees the connection end at
// once, not after the idle timeout.
func TestLeanSourceKnowsWhenSocketIsEmpty(t *testing.T) {
	tests := []struct {
		name     string
		send     string
		shutdown bool
	}{
		{name: "less than a read", send: "ab"},
		{name: "more than a read", send: "abcdefghij"},
		{name: "bytes then FIN", send: "abcdef", shutdown: true},
		{name: "FIN only", shutdown: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, _, rc := tcpPair(t)
			if tc.send != "" {
				if _, err := client.Write([]byte(tc.send)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.shutdown {
				if err := client.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			s := &leanSource{}
			got, err := readRaw(t, rc, s, func(b []byte) bool { return !tc.shutdown && string(b) == tc.send })
			want := error(nil)
			if tc.shutdown {
				want = io.EOF
			}
			if string(got) != tc.send || err != want {
				t.Fatalf("read %q, %v; want %q, %v", got, err, tc.send, want)
			}
			if !tc.shutdown && !s.empty {
				t.Fatal("a socket read to its end is not known empty")
			}
		})
	}
}

// After an emptying read, bytes that arrive later wake the RawConn read
// that waits for them.
func TestLeanSourceWakesForLaterBytes(t *testing.T) {
	client, _, rc := tcpPair(t)
	if _, err := client.Write([]byte("one")); err != nil {
		t.Fatal(err)
	}
	s := &leanSource{}
	var got []byte
	buf := make([]byte, 16)
	calls := 0
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = client.Write([]byte("two"))
	}()
	if err := rc.Read(func(fd uintptr) bool {
		calls++
		s.enter(fd)
		defer s.leave()
		for {
			n, err := s.Read(buf)
			got = append(got, buf[:n]...)
			if err == errWouldBlock {
				return string(got) == "onetwo"
			}
			if err != nil {
				t.Errorf("read: %v", err)
				return true
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if string(got) != "onetwo" {
		t.Fatalf("read %q, want onetwo", got)
	}
}
