package faultproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers each line with the same line until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// dialFrom connects to addr from source IP src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// blockedFrom reports whether a new connection from src to addr fails
// (refused at dial time or cut before it answers).
func blockedFrom(t *testing.T, src, addr string) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return true // the reset can beat the end of the handshake
	}
	defer c.Close()
	return !roundTrip(c, "probe")
}

// roundTrip sends a line and reports whether the same line came back.
func roundTrip(c net.Conn, line string) bool {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return false
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && got == line+"\n"
}

func TestProxyForwardsBlocksAndHeals(t *testing.T) {
	p, err := New("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	a := dialFrom(t, "127.0.0.2", p.Addr())
	b := dialFrom(t, "127.0.0.3", p.Addr())
	if !roundTrip(a, "hello") || !roundTrip(b, "hello") {
		t.Fatal("proxy does not forward")
	}

	// Blocking 127.0.0.2 cuts its open connection and refuses new ones;
	// 127.0.0.3 is untouched.
	p.Block("127.0.0.2")
	if roundTrip(a, "after block") {
		t.Fatal("a blocked source's open connection still works")
	}
	if !blockedFrom(t, "127.0.0.2", p.Addr()) {
		t.Fatal("a blocked source's new connection works")
	}
	if !roundTrip(b, "still here") {
		t.Fatal("blocking one source cut another")
	}

	p.Unblock("127.0.0.2")
	if !roundTrip(dialFrom(t, "127.0.0.2", p.Addr()), "back") {
		t.Fatal("an unblocked source cannot connect")
	}

	p.BlockAll()
	if roundTrip(b, "partitioned") || !blockedFrom(t, "127.0.0.3", p.Addr()) {
		t.Fatal("BlockAll let traffic through")
	}
	p.Heal()
	if !roundTrip(dialFrom(t, "127.0.0.3", p.Addr()), "healed") {
		t.Fatal("Heal did not restore traffic")
	}
	if accepted, refused := p.Counts(); accepted < 4 || refused < 2 {
		t.Fatalf("counts: accepted %d refused %d", accepted, refused)
	}
}

func TestProxyCloseCutsEverything(t *testing.T) {
	p, err := New("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := dialFrom(t, "127.0.0.1", p.Addr())
	if !roundTrip(c, "x") {
		t.Fatal("proxy does not forward")
	}
	if err := p.Close(); err != nil { // waits for its goroutines
		t.Fatal(err)
	}
	if roundTrip(c, "after close") {
		t.Fatal("connection survived Close")
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("proxy still listens after Close")
	}
}

func TestProxyNeedsTarget(t *testing.T) {
	if _, err := New("127.0.0.1:0", ""); err == nil {
		t.Fatal("New without a target succeeded")
	}
}
