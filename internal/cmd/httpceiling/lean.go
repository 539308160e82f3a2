package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
)

// serveLean answers GET and HEAD with body from a minimal HTTP/1.1 loop
// instead of net/http: one goroutine per connection, requests parsed in
// place from a 4 KiB buffer, a prebuilt header and the body written with
// one writev. It bounds what a leaner serving path for blob GETs could
// gain over net/http on this machine (scripts/bench-node.d/hot-get-sizes.sh
// with HOT_LEAN=1). It is a measuring tool, not a server: a request with a
// body, or one it cannot parse, gets 400 and the connection is closed.
func serveLean(ln net.Listener, body []byte) error {
	head := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go leanConn(c, head, body)
	}
}

var errLeanRequest = errors.New("httpceiling: lean: request not served")

func leanConn(c net.Conn, head, body []byte) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 4096)
	bufs := make(net.Buffers, 0, 2)
	for {
		get, keep, err := leanRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			}
			return
		}
		bufs = append(bufs[:0], head)
		if get {
			bufs = append(bufs, body)
		}
		if _, err := bufs.WriteTo(c); err != nil {
			return
		}
		if !keep {
			return
		}
	}
}

// leanRequest reads one request head: whether it is a GET (else HEAD) and
// whether the connection stays open.
func leanRequest(br *bufio.Reader) (get, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return false, false, err
	}
	switch {
	case bytes.HasPrefix(line, []byte("GET ")):
		get = true
	case bytes.HasPrefix(line, []byte("HEAD ")):
	default:
		return false, false, errLeanRequest
	}
	keep = bytes.HasSuffix(bytes.TrimRight(line, "\r\n"), []byte("HTTP/1.1"))
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return false, false, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return get, keep, nil
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")) && !bytes.Equal(value, []byte("0")),
			bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return false, false, errLeanRequest
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
}
