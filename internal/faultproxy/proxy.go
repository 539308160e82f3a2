// Package faultproxy is a TCP proxy that can cut traffic on command, for
// tests that need a network partition without root (no network
// namespaces, no firewall rules).
//
// # Basics
//
// New listens on a loopback address and forwards every connection to a
// target. Block(ip) cuts the connections coming from ip and refuses new
// ones (accepted, then closed at once, as a reset peer looks to the
// caller); Unblock(ip) lets them through again. BlockAll and Heal do the
// same for every source. Callers tell sources apart by their IP, so on one
// machine give each node its own loopback IP (127.0.0.11, 127.0.0.12, ...:
// Linux answers the whole of 127.0.0.0/8) and make it dial from there.
//
//	p, _ := faultproxy.New("127.0.0.11:0", "127.0.0.11:7001")
//	defer p.Close()
//	p.Block("127.0.0.12") // node 2 can no longer reach node 1 through p
//
// # Caveats
//
// TCP only: UDP (gossip probes) passes elsewhere, so membership may still
// see a blocked node alive; the data plane sees the partition. Blocking is
// by source IP, not port.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
)

// Proxy forwards TCP connections from its listener to a target.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	blockAll bool
	blocked  map[string]bool    // source IPs refused
	conns    map[*pair]struct{} // open forwarded connections
	closed   bool
	wg       sync.WaitGroup
	refused  int // connections refused while blocked
	accepted int // connections forwarded
}

// pair is one forwarded connection: client side and target side.
type pair struct {
	source         string // client IP
	client, target net.Conn
}

// New listens on listen (host:port; port 0 picks one) and forwards to target.
func New(listen, target string) (*Proxy, error) {
	if target == "" {
		return nil, errors.New("faultproxy: no target")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, blocked: map[string]bool{}, conns: map[*pair]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's listen address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Block cuts the connections from source IP ip and refuses new ones.
func (p *Proxy) Block(ip string) {
	p.mu.Lock()
	p.blocked[ip] = true
	p.mu.Unlock()
	p.cut()
}

// Unblock lets connections from ip through again.
func (p *Proxy) Unblock(ip string) {
	p.mu.Lock()
	delete(p.blocked, ip)
	p.mu.Unlock()
}

// BlockAll cuts every connection and refuses new ones until Heal.
func (p *Proxy) BlockAll() {
	p.mu.Lock()
	p.blockAll = true
	p.mu.Unlock()
	p.cut()
}

// Heal lifts BlockAll and every Block.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.blockAll = false
	clear(p.blocked)
	p.mu.Unlock()
}

// Counts returns how many connections were forwarded and refused.
func (p *Proxy) Counts() (accepted, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted, p.refused
}

// Close stops listening, cuts every connection and waits for the
// forwarding goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.blockAll = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.cut()
	p.wg.Wait()
	return err
}

// isBlocked reports whether connections from ip are refused; mu held.
func (p *Proxy) isBlocked(ip string) bool { return p.blockAll || p.blocked[ip] }

// cut closes the open connections whose source is now blocked.
func (p *Proxy) cut() {
	p.mu.Lock()
	var victims []*pair
	for c := range p.conns {
		if p.isBlocked(c.source) {
			victims = append(victims, c)
		}
	}
	p.mu.Unlock()
	for _, c := range victims {
		c.close()
	}
}

func (c *pair) close() {
	if tc, ok := c.client.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // a reset, as a dropped link looks to the peer once it notices
	}
	c.client.Close()
	c.target.Close()
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		source, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
		p.mu.Lock()
		refuse := p.isBlocked(source)
		if refuse {
			p.refused++
		}
		p.mu.Unlock()
		if refuse {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			conn.Close()
			continue
		}
		p.wg.Add(1)
		go p.forward(conn, source)
	}
}

// forward dials the target and copies both ways until either side ends.
func (p *Proxy) forward(client net.Conn, source string) {
	defer p.wg.Done()
	target, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	c := &pair{source: source, client: client, target: target}
	p.mu.Lock()
	if p.closed || p.isBlocked(source) { // blocked while dialing
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.accepted++
	p.mu.Unlock()

	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite() // pass the half-close on
		}
		done <- struct{}{}
	}
	go pipe(target, client)
	go pipe(client, target)
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	client.Close()
	target.Close()
}
