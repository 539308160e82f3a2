package node

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// leanServer is the lean HTTP/1.1 path of one blob listener (http.lean_get):
// it accepts the listener's connections itself, reads each request head
// with a bufio.Reader and answers a plain GET or HEAD of a blob (leanget.go)
// without net/http. At the first request it does not answer, it hands the
// whole connection to the listener's http.Server through handoffListener,
// with the bytes it has read replayed first (replayConn); that connection
// then stays with net/http. It mirrors net/http's timeouts (read header,
// idle), keep-alive and Connection: close, and its graceful shutdown
// (Shutdown and Close, beside the http.Server's).
type leanServer struct {
	s    *Server
	bl   *blobListener
	hand *handoffListener
	ctx  context.Context // the base context of the requests it answers

	shutting atomic.Bool // Shutdown or Close began: answer with Connection: close
	mu       sync.Mutex
	conns    map[*leanConn]struct{} // lean connections (handed-off ones are net/http's)
	closed   bool                   // Close: refuse new connections
}

// newLeanServer serves bl's connections accepted from ln; the http.Server
// of bl serves hand (the connections handed off).
func (s *Server) newLeanServer(ctx context.Context, bl *blobListener, ln net.Listener) *leanServer {
	return &leanServer{
		s:     s,
		bl:    bl,
		hand:  newHandoffListener(ln),
		ctx:   context.WithValue(context.WithoutCancel(ctx), listenerCtxKey{}, bl),
		conns: make(map[*leanConn]struct{}),
	}
}

// leanBufSize is the bufio.Reader of a lean connection: a head that does
// not fit (net/http allows max_header_bytes + 4 KiB) is handed off.
const leanBufSize = 4 << 10

// The states of a lean connection, for shutdown.
const (
	leanNew    int32 = iota // accepted, no byte of a request yet
	leanIdle                // between requests
	leanActive              // reading or answering a request
	leanClosed              // closed by Shutdown or Close
)

// newConnIdleAfter is how long a new connection that sent nothing counts
// as active in a shutdown (net/http's rule for StateNew).
const newConnIdleAfter = 5 * time.Second

// leanConn is one connection on the lean path.
type leanConn struct {
	ls      *leanServer
	c       net.Conn // as accepted: closing it gives its connection slots back
	raw     net.Conn // c without node's wrappers, so a head and body go out in one writev
	br      *bufio.Reader
	state   atomic.Int32
	created time.Time
	// answered is when the last lean answer ended: the idle deadline's
	// start.
	answered time.Time
	// The deadlines as set (leandeadline.go).
	readDL, writeDL leanDeadline

	// Per-request scratch, reused.
	head   []byte
	bufArr [2][]byte
	bufs   net.Buffers // over bufArr: a field, so WriteTo does not allocate it
	body   leanBody
	// putBody is a lean PUT's body reader (leanput.go).
	putBody leanPutBody
	// The last Host value checked and whether it is a loopback name.
	host   []byte
	hostOK bool
	// headRead: the answer consumed the request's head itself (a lean
	// PUT, before reading its body).
	headRead bool

	// The request loop (step), kept across waits for the socket.
	src     leanSource         // what br reads
	rawStep func(uintptr) bool // step inside syscall.RawConn.Read, built once
	first   bool               // no request read yet
	inHead  bool               // a request's first bytes arrived
	now     time.Time          // when the request being read began
	next    leanResult         // why step left
	// A lean PUT step left to answer, and its head's length.
	put        leanRequest
	putHeadLen int
}

// acceptLoop accepts connections until the listener is closed and serves
// each on its own goroutine. An accept error is passed on to the
// http.Server (through hand), which retries temporary ones as it does.
func (ls *leanServer) acceptLoop() {
	for {
		c, err := ls.hand.inner.Accept()
		if err != nil {
			if ls.hand.isClosed() {
				return
			}
			ls.hand.fail(err)
			if ne, ok := err.(interface{ Temporary() bool }); ok && ne.Temporary() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return
		}
		lc := &leanConn{ls: ls, c: c, raw: unwrapConn(c), created: time.Now()}
		ls.mu.Lock()
		if ls.closed {
			ls.mu.Unlock()
			c.Close()
			continue
		}
		ls.conns[lc] = struct{}{}
		ls.mu.Unlock()
		go lc.serve()
	}
}

// unwrapConn is c without the connection-limit wrappers (limitConn), which
// only add Close: the *net.TCPConn under them writes net.Buffers with one
// writev.
func unwrapConn(c net.Conn) net.Conn {
	for {
		lc, ok := c.(*limitConn)
		if !ok {
			return c
		}
		c = lc.Conn
	}
}

func (ls *leanServer) forget(lc *leanConn) {
	ls.mu.Lock()
	delete(ls.conns, lc)
	ls.mu.Unlock()
}

// Shutdown closes idle lean connections (and new ones
// silent for newConnIdleAfter), answers the requests in progress with
// Connection: close, and returns once no lean connection is left or ctx
// is done, as http.Server.Shutdown does for its own.
func (ls *leanServer) Shutdown(ctx context.Context) error {
	ls.shutting.Store(true)
	// The listener is the http.Server's to close (its Shutdown does): closed
	// here first, its Serve would return net.ErrClosed, not ErrServerClosed.
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if ls.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// closeIdle closes the idle connections; it reports whether none is left.
func (ls *leanServer) closeIdle() bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for lc := range ls.conns {
		st := lc.state.Load()
		if st == leanIdle || (st == leanNew && time.Since(lc.created) > newConnIdleAfter) {
			if lc.state.CompareAndSwap(st, leanClosed) {
				lc.c.Close()
			}
		}
	}
	return len(ls.conns) == 0
}

// Close closes every lean connection at once (the http.Server's Close
// closes the listener).
func (ls *leanServer) Close() error {
	ls.shutting.Store(true)
	ls.mu.Lock()
	ls.closed = true
	for lc := range ls.conns {
		lc.state.Store(leanClosed)
		lc.c.Close()
	}
	ls.mu.Unlock()
	return nil
}

// serve reads and answers requests until the client closes, a timeout, a
// Connection: close, a shutdown, or a request for net/http (hand-off).
//
// Over a TCP connection the requests are read and answered inside one
// syscall.RawConn.Read, which waits for the socket only when a read left
// it empty (leanSource). A net.Conn Read would try the socket once more
// after each answer, before the client could have sent the next request:
// a syscall per request that only learns it has to wait.
func (lc *leanConn) serve() {
	handed := false
	defer func() {
		if !handed {
			lc.ls.forget(lc)
			lc.c.Close()
		}
	}()
	lc.src.c = lc.c
	lc.br = bufio.NewReaderSize(&lc.src, leanBufSize)
	// As net/http: the first request's head is read under the read
	// header timeout from the accept.
	lc.setReadDeadline(time.Now(), lc.ls.bl.http.ReadHeaderTimeout)
	lc.first = true
	rc := rawLeanConn(lc.raw)
	if rc != nil {
		lc.rawStep = func(fd uintptr) bool {
			lc.src.enter(fd)
			done := lc.step()
			lc.src.leave()
			return done
		}
	}
	for {
		if rc != nil {
			if err := rc.Read(lc.rawStep); err != nil {
				// A deadline or a close while waiting for the socket.
				return
			}
		} else {
			lc.step()
		}
		if lc.next == leanKeep {
			// A lean PUT: its body is read with waiting reads, outside
			// rc.Read.
			lc.headRead = false
			if lc.finishRequest(lc.answerPut(&lc.put, lc.now, lc.putHeadLen), lc.putHeadLen) {
				continue
			}
		}
		if lc.next == leanHandOff {
			handed = lc.handOff()
		}
		return
	}
}

// step reads and answers requests until it needs to wait for the socket
// (it reports false: only with raw reads, which never wait) or the loop
// has to leave rc.Read (true, with lc.next saying why: leanEnd,
// leanHandOff, or leanKeep for a lean PUT to answer). Where it stands in
// a request is kept in lc (first, inHead, now), so after a wait it goes on
// where it stopped.
func (lc *leanConn) step() bool {
	hc := &lc.ls.bl.http
	for {
		if !lc.inHead {
			// As net/http: the idle timeout runs until the next request's
			// first bytes, then the read header timeout until its end. The
			// clock is read once as a request starts (its deadlines, Date
			// and duration) and once as it ends (the idle deadline):
			// reading it costs.
			if lc.first {
				if lc.br.Buffered() < 1 {
					if _, err := lc.br.Peek(1); err != nil {
						return lc.stopRead(err)
					}
				}
				if !lc.state.CompareAndSwap(leanNew, leanActive) {
					return lc.leave(leanEnd)
				}
				lc.now = time.Now()
			} else {
				if lc.br.Buffered() < 4 {
					lc.setReadDeadline(lc.answered, hc.IdleTimeout)
					if _, err := lc.br.Peek(4); err != nil {
						return lc.stopRead(err)
					}
				}
				if !lc.state.CompareAndSwap(leanIdle, leanActive) {
					return lc.leave(leanEnd)
				}
				lc.now = time.Now()
				if buf, _ := lc.br.Peek(lc.br.Buffered()); leanHeadEnd(buf) == 0 {
					// Only a head still to be read needs its deadline; a
					// complete one (the usual case) is not read again.
					lc.setReadDeadline(lc.now, hc.ReadHeaderTimeout)
				}
			}
			lc.inHead = true
		}
		n, res := lc.readHead()
		if res == leanWait {
			return false
		}
		lc.inHead, lc.first = false, false
		if res == leanKeep {
			head, _ := lc.br.Peek(n)
			req, ok := parseLeanHead(head)
			switch {
			case !ok:
				res = leanHandOff
			case req.put && lc.ls.s.cfg.HTTP.LeanPut:
				lc.put, lc.putHeadLen = req, n
				return lc.leave(leanKeep)
			case req.put:
				res = leanHandOff
			default:
				res = lc.answer(&req, lc.now)
			}
		}
		if !lc.finishRequest(res, n) {
			return true // lc.next says why
		}
	}
}

// finishRequest ends a request answered with res, whose head was n bytes:
// false (lc.next set) when the connection goes no further on the lean path.
func (lc *leanConn) finishRequest(res leanResult, n int) bool {
	if res != leanKeep {
		lc.next = res
		return false
	}
	if !lc.headRead {
		_, _ = lc.br.Discard(n)
	}
	lc.headRead = false
	if lc.ls.shutting.Load() || !lc.state.CompareAndSwap(leanActive, leanIdle) {
		lc.next = leanEnd
		return false
	}
	return true
}

// leave ends step with next.
func (lc *leanConn) leave(next leanResult) bool {
	lc.next = next
	return true
}

// stopRead is step's answer to a failed read between requests: wait when
// the socket is empty, else close.
func (lc *leanConn) stopRead(err error) bool {
	if err == errWouldBlock {
		return false
	}
	return lc.leave(leanEnd)
}

// leanResult is what a lean connection does after a request.
type leanResult int

const (
	leanKeep    leanResult = iota // answered: read the next request
	leanEnd                       // close the connection
	leanHandOff                   // give the connection, request unread, to net/http
	leanWait                      // readHead: the socket is empty, wait for it (raw reads)
)

// setReadDeadline makes the read deadline at least d after from (none
// when d is 0; from zero: now), through lc.readDL.
func (lc *leanConn) setReadDeadline(from time.Time, d time.Duration) {
	if from.IsZero() {
		from = time.Now()
	}
	if t, set := lc.readDL.renew(from, d); set {
		_ = lc.c.SetReadDeadline(t)
	}
}

// setWriteDeadline makes the write deadline at least d after from,
// through lc.writeDL.
func (lc *leanConn) setWriteDeadline(from time.Time, d time.Duration) {
	if t, set := lc.writeDL.renew(from, d); set {
		_ = lc.c.SetWriteDeadline(t)
	}
}

// readHead reads until the buffer holds a complete request head and
// returns its length. A head that does not fit, or that leanHeadEnd
// refuses, goes to net/http; so do partial heads cut short by the client
// (net/http answers 400), while a timeout closes the connection (as
// net/http does).
func (lc *leanConn) readHead() (int, leanResult) {
	br := lc.br
	for {
		buf, _ := br.Peek(br.Buffered())
		switch end := leanHeadEnd(buf); {
		case end > 0:
			return end, leanKeep
		case end < 0:
			return 0, leanHandOff
		}
		if br.Buffered() >= br.Size() {
			return 0, leanHandOff
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			if err == errWouldBlock {
				return 0, leanWait
			}
			if errors.Is(err, os.ErrDeadlineExceeded) || br.Buffered() == 0 {
				return 0, leanEnd
			}
			return 0, leanHandOff
		}
	}
}

// handOff gives the connection to the http.Server, with what was read
// replayed first. It reports false when that server is closed.
func (lc *leanConn) handOff() bool {
	lc.ls.forget(lc)
	lc.bufArr = [2][]byte{}
	// A write deadline left by a lean answer must not cut short an answer
	// net/http writes before any handler clears it (a 400 for a bad head).
	_ = lc.c.SetWriteDeadline(time.Time{})
	lc.writeDL.forget()
	return lc.ls.hand.give(&replayConn{Conn: lc.c, br: lc.br})
}

// replayConn is a connection whose first bytes were read into br already:
// Read returns those first, then reads the connection.
type replayConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}

// handoffListener is the net.Listener the http.Server of a lean listener
// serves: Accept returns the connections the lean path hands off. Close
// closes the real listener too.
type handoffListener struct {
	inner  net.Listener
	conns  chan net.Conn
	errs   chan error
	closed chan struct{}
	once   sync.Once
	err    error
}

func newHandoffListener(inner net.Listener) *handoffListener {
	return &handoffListener{inner: inner, conns: make(chan net.Conn), errs: make(chan error, 1), closed: make(chan struct{})}
}

func (h *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case err := <-h.errs:
		return nil, err
	case <-h.closed:
		return nil, net.ErrClosed
	}
}

func (h *handoffListener) Close() error {
	h.once.Do(func() {
		close(h.closed)
		h.err = h.inner.Close()
	})
	return h.err
}

func (h *handoffListener) Addr() net.Addr { return h.inner.Addr() }

func (h *handoffListener) isClosed() bool {
	select {
	case <-h.closed:
		return true
	default:
		return false
	}
}

// give hands c to Accept; false when the listener is closed.
func (h *handoffListener) give(c net.Conn) bool {
	select {
	case h.conns <- c:
		return true
	case <-h.closed:
		return false
	}
}

// fail passes an accept error to Accept (unless one is pending already).
func (h *handoffListener) fail(err error) {
	select {
	case h.errs <- err:
	default:
	}
}
