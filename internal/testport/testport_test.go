package testport

import (
	"net"
	"strconv"
	"testing"
)

// TestFreeIsBindableAndBelowEphemeral: the port binds for TCP and UDP
// and lies below the kernel's ephemeral range.
func TestFreeIsBindableAndBelowEphemeral(t *testing.T) {
	for range 20 {
		port, err := Free("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if port < lowest || port >= 65536 {
			t.Fatalf("port %d out of range", port)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("tcp %s: %v", addr, err)
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			t.Fatalf("udp %s: %v", addr, err)
		}
		u.Close()
	}
}
