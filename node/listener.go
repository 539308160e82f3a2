package node

import (
	"net"
	"sync"
	"sync/atomic"
)

// limitListener bounds open connections: Accept waits for a free slot, so
// excess clients wait in the kernel's accept queue rather than in memory.
type limitListener struct {
	net.Listener
	slots     chan struct{} // a slot is taken before each Accept
	closed    chan struct{}
	closeOnce sync.Once
	open      atomic.Int64 // connections accepted and not yet closed
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), closed: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	l.open.Add(1)
	return &limitConn{Conn: c, release: func() { l.open.Add(-1); <-l.slots }}, nil
}

// openConns is how many accepted connections are open.
func (l *limitListener) openConns() int64 { return l.open.Load() }

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitConn gives its slot back once, on the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
