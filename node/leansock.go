package node

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// leanSource is the reader under a lean connection's bufio.Reader.
//
// Inside syscall.RawConn.Read (raw) it reads the socket itself and answers
// errWouldBlock instead of waiting, so the request loop (leanConn.step)
// decides when to wait. Each read also learns from the kernel whether it
// left the socket empty (TCP_INQ: no byte and no FIN left); then the next
// read answers errWouldBlock at once, without the syscall that would only
// have found nothing. That is safe because RawConn.Read waits for
// readiness, not for new readiness since the read: any byte that arrives
// after the emptying read wakes it. Outside raw mode it reads c as any
// net.Conn read does.
type leanSource struct {
	c     net.Conn
	sock  leanSocket
	fd    int
	raw   bool
	empty bool // raw: the last read left the socket empty
}

func (s *leanSource) Read(p []byte) (int, error) {
	if !s.raw {
		return s.c.Read(p)
	}
	if s.empty {
		return 0, errWouldBlock
	}
	n, empty, err := s.sock.read(s.fd, p)
	s.empty = empty
	return n, err
}

// enter switches s to raw reads of fd: called as RawConn.Read calls its
// function, after a wait or at its start, when the socket may hold bytes.
func (s *leanSource) enter(fd uintptr) { s.fd, s.raw, s.empty = int(fd), true, false }

// leave switches s back to c's reads.
func (s *leanSource) leave() { s.raw = false }

// leanSocket reads a TCP socket with recvmsg and TCP_INQ, which reports
// with each read how many bytes are left. Its message header lives here,
// so a read does not allocate.
type leanSocket struct {
	msg unix.Msghdr
	iov unix.Iovec
	oob [4]uint64 // room for one TCP_CM_INQ control message, aligned
}

// rawLeanConn is the RawConn of c for the lean request loop, with TCP_INQ
// turned on; nil when c is not a socket or the kernel lacks TCP_INQ
// (Linux before 4.18), and the loop then reads c as any net.Conn.
func rawLeanConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_INQ, 1)
	}); err != nil || serr != nil {
		return nil
	}
	return rc
}

// read reads fd into p once, without waiting: the bytes read, whether the
// socket is empty after them, and io.EOF at the end of the stream or
// errWouldBlock when there was nothing to read.
func (s *leanSocket) read(fd int, p []byte) (n int, empty bool, err error) {
	if len(p) == 0 {
		return 0, false, nil
	}
	s.iov.Base = &p[0]
	s.iov.SetLen(len(p))
	s.msg.Iov = &s.iov
	s.msg.SetIovlen(1)
	for {
		s.msg.Control = (*byte)(unsafe.Pointer(&s.oob))
		s.msg.SetControllen(int(unsafe.Sizeof(s.oob)))
		s.msg.Flags = 0
		r, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&s.msg)), 0)
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			return 0, true, errWouldBlock
		case errno != 0:
			return 0, false, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("recvmsg", errno)}
		case r == 0:
			return 0, false, io.EOF
		}
		return int(r), s.inq() == 0, nil
	}
}

// inq is the TCP_CM_INQ count of the last read: bytes left, or nonzero
// when a FIN is left to read; -1 when the kernel sent none (never empty).
func (s *leanSocket) inq() int {
	data := unix.CmsgLen(0) // the offset of a control message's data
	if int(s.msg.Controllen) < data+4 {
		return -1
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&s.oob))
	if h.Level != unix.SOL_TCP || h.Type != unix.TCP_CM_INQ || int(h.Len) < data+4 {
		return -1
	}
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(&s.oob), data)))
}
