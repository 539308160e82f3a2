package node

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"strata/blockstore"
)

// answerPut answers a lean PUT of a blob with a Content-Length body as
// serveHTTP, handleBlob and putBlob would. Anything unusual is handed off
// to net/http before a byte of the body is read: debug logging, a host the
// node refuses, the listener's refusal, a read-only node, a missing store,
// auth enabled, a bad key or Content-Type, a body over the maximum blob
// size, or a full upload admission. Once the body is being read the answer
// is the lean path's: the 201 only after store.Put (the durable commit)
// returned, an error answer (writeError's, with Connection: close)
// otherwise.
func (lc *leanConn) answerPut(req *leanRequest, now time.Time, headLen int) leanResult {
	ls := lc.ls
	s := ls.s
	if s.log.Enabled(ls.ctx, slog.LevelDebug) {
		return leanHandOff
	}
	start := now
	s.inflight.add()
	defer s.inflight.done()
	if s.auth.enabled() || !lc.loopbackHost(req.host) || s.cfg.ReadOnly {
		return leanHandOff
	}
	if _, err := ls.bl.refusal(routeBlob, http.MethodPut); err != nil {
		return leanHandOff
	}
	store := s.currentStore()
	if store == nil {
		return leanHandOff
	}
	maxSize := int64(s.cfg.MaxBlobSize)
	if req.contentLength > maxSize {
		return leanHandOff
	}
	key, err := keyFromEscapedPath(string(req.target))
	if err == nil {
		err = checkWritableKey(key)
	}
	if err != nil {
		return leanHandOff
	}
	var contentType string
	if req.contentType != nil {
		if contentType, err = validContentType([]string{string(req.contentType)}); err != nil {
			return leanHandOff
		}
	}
	if !s.uploads.tryAcquire() {
		return leanHandOff
	}
	unlock, err := s.locks.Lock(ls.ctx, key)
	if err != nil {
		s.uploads.release()
		return leanHandOff
	}
	target := string(req.target)
	closeConn := req.close
	hc := &ls.bl.http
	// The head is read: from here on the body is, and the answer is ours.
	_, _ = lc.br.Discard(headLen)
	lc.headRead = true

	var received int64
	lr := &lc.putBody
	*lr = leanPutBody{br: lc.br, n: req.contentLength}
	body := newUploadBody(lr, leanReadDeadliner{lc}, hc.ProgressTimeout, maxSize, func(n int) { received += int64(n) })
	info, err := store.Put(ls.ctx, key, s.pacing.body(ls.ctx, body), req.contentLength, blockstore.PutOptions{ContentType: contentType})
	unlock()
	s.uploads.release()
	if err == nil && lr.n > 0 {
		err = body.err // a store that stopped short of the length it was given
	}
	closeConn = closeConn || ls.shutting.Load()
	var status int
	var sent int64
	var werr error
	if err != nil {
		if body.err != nil {
			err = body.err
		}
		status, sent, werr = lc.writeLeanError(err, target, req, start)
		closeConn = true
	} else {
		status = http.StatusCreated
		var scratch [256]byte
		b := appendBlobJSON(scratch[:0], info)
		b = append(b, '\n')
		lc.head = appendPutHead(lc.head[:0], info, len(b), closeConn, start)
		lc.head = append(lc.head, b...)
		lc.setWriteDeadline(start, hc.ProgressTimeout)
		_, werr = lc.raw.Write(lc.head)
		sent = int64(len(b))
	}
	lc.answered = time.Now()
	elapsed := lc.answered.Sub(start)
	s.metrics.observe(routeBlob, http.MethodPut, status, elapsed, sent)
	if received > 0 {
		s.metrics.received(routeBlob, received)
	}
	if werr != nil || closeConn {
		return leanEnd
	}
	return leanKeep
}

// appendPutHead appends the head of a 201 answer to a PUT, byte for byte
// what net/http writes for writePutAnswer's: the handler's headers in
// sorted order, then Date and Connection: close.
func appendPutHead(b []byte, info blockstore.Info, bodyLen int, closeConn bool, now time.Time) []byte {
	b = append(b, "HTTP/1.1 201 Created\r\nCache-Control: no-store\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(bodyLen), 10)
	b = append(b, "\r\nContent-Type: application/json\r\nEtag: "...)
	b = appendETag(b, info.Version)
	if !info.ModTime.IsZero() {
		b = append(b, "\r\nLast-Modified: "...)
		b = appendHTTPDate(b, info.ModTime)
	}
	b = append(b, "\r\nDate: "...)
	b = appendHTTPDate(b, now)
	if closeConn {
		b = append(b, "\r\nConnection: close"...)
	}
	return append(b, "\r\n\r\n"...)
}

// writeLeanError answers a failed lean PUT with writeError's answer; the
// connection closes after it (writeError's Connection: close for a request
// with a body).
func (lc *leanConn) writeLeanError(err error, target string, req *leanRequest, now time.Time) (status int, sent int64, werr error) {
	r := (&http.Request{
		Method:        http.MethodPut,
		URL:           &url.URL{Path: target, RawPath: target},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		ContentLength: req.contentLength,
		Header:        http.Header{},
	}).WithContext(lc.ls.ctx)
	w := &leanErrorWriter{lc: lc, h: http.Header{}}
	lc.ls.s.writeError(w, r, err)
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(w.status))
	b.WriteByte(' ')
	b.WriteString(http.StatusText(w.status))
	b.WriteString("\r\n")
	_ = w.h.Write(&b)
	b.WriteString("Date: ")
	b.Write(appendHTTPDate(nil, now))
	b.WriteString("\r\n\r\n")
	b.Write(w.body.Bytes())
	lc.setWriteDeadline(now, lc.ls.bl.http.ProgressTimeout)
	_, werr = lc.raw.Write(b.Bytes())
	return w.status, int64(w.body.Len()), werr
}

// leanErrorWriter collects writeError's answer for writeLeanError.
type leanErrorWriter struct {
	lc     *leanConn
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *leanErrorWriter) Header() http.Header { return w.h }

func (w *leanErrorWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *leanErrorWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// SetReadDeadline is for http.ResponseController (writeError's).
func (w *leanErrorWriter) SetReadDeadline(t time.Time) error {
	return leanReadDeadliner{w.lc}.SetReadDeadline(t)
}

// leanPutBody is a lean PUT's body: the next n bytes of br. Its end
// before n bytes is io.ErrUnexpectedEOF, as net/http's body reader says.
type leanPutBody struct {
	br interface{ Read([]byte) (int, error) }
	n  int64
}

func (b *leanPutBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.br.Read(p)
	b.n -= int64(n)
	switch {
	case err == io.EOF && b.n > 0:
		err = io.ErrUnexpectedEOF
	case err == nil && b.n == 0:
		err = io.EOF
	}
	return n, err
}

// leanReadDeadliner sets a lean connection's read deadline directly (an
// upload's progress deadline), so the cached one is forgotten.
type leanReadDeadliner struct{ lc *leanConn }

func (d leanReadDeadliner) SetReadDeadline(t time.Time) error {
	d.lc.readDL.forget()
	return d.lc.c.SetReadDeadline(t)
}
