package node

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// clientLimitListener bounds the open connections of each client address
// (by IP; IPv4-mapped IPv6 counts as IPv4). A connection past its client's
// bound is answered 429 and closed at accept, so one client holding
// thousands of slow connections cannot fill the node's connection budget
// (and the kernel's accept queue behind it) and stall everyone else.
type clientLimitListener struct {
	net.Listener
	perClient int
	loopback  bool   // whether loopback clients are bounded too
	refused   func() // called for each refused connection (a counter)

	mu   sync.Mutex
	open map[netip.Addr]int
}

// refusedAnswer is written to a refused connection before it is closed:
// a client that reads gets a reason, not a bare reset.
const refusedAnswer = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 44\r\n\r\n" +
	"too many open connections from this address\n"

// refusedWriteTimeout bounds the write of refusedAnswer, which goes into
// an empty socket buffer and so never waits in practice.
const refusedWriteTimeout = 100 * time.Millisecond

func newClientLimitListener(ln net.Listener, perClient int, loopback bool, refused func()) *clientLimitListener {
	return &clientLimitListener{Listener: ln, perClient: perClient, loopback: loopback, refused: refused, open: map[netip.Addr]int{}}
}

func (l *clientLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr, ok := clientAddr(c.RemoteAddr())
		if !ok || (!l.loopback && addr.IsLoopback()) {
			return c, nil
		}
		l.mu.Lock()
		n := l.open[addr]
		if n >= l.perClient {
			l.mu.Unlock()
			l.refuse(c)
			continue
		}
		l.open[addr] = n + 1
		l.mu.Unlock()
		return &limitConn{Conn: c, release: func() { l.release(addr) }}, nil
	}
}

func (l *clientLimitListener) refuse(c net.Conn) {
	if l.refused != nil {
		l.refused()
	}
	_ = c.SetWriteDeadline(time.Now().Add(refusedWriteTimeout))
	_, _ = c.Write([]byte(refusedAnswer))
	_ = c.Close()
}

func (l *clientLimitListener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[addr] <= 1 {
		delete(l.open, addr) // the map holds only clients with open connections
		return
	}
	l.open[addr]--
}

// openFrom returns how many connections addr holds now (for tests).
func (l *clientLimitListener) openFrom(addr netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[addr]
}

// clientAddr is the IP a connection comes from.
func clientAddr(a net.Addr) (netip.Addr, bool) {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ap := tcp.AddrPort()
		return ap.Addr().Unmap(), ap.Addr().IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}
