package testport

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowest is the bottom of the range Free picks from: above the well-known
// and registered ports most services use.
const lowest = 10000

// ErrNoPort: no free port was found in the tries Free makes.
var ErrNoPort = errors.New("testport: no free port below the ephemeral range")

// Free returns a port free for TCP and UDP on ip now, below the kernel's
// ephemeral range (net.ipv4.ip_local_port_range; 32768 when unreadable).
func Free(ip string) (int, error) {
	high := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > lowest+2000 {
				high = n
			}
		}
	}
	for range 200 {
		port := lowest + rand.IntN(high-lowest)
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port, nil
	}
	return 0, ErrNoPort
}
