package node

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"strata/blockstore"
	"strata/tiering"
)

// answer answers a lean request as serveHTTP, handleBlob and getBlob would,
// or hands it off (leanHandOff) before writing anything when the answer is
// not a plain 200: the host check, the listener's refusal, a missing store,
// auth, the key, a full read admission (net/http waits or answers 503),
// the open, stored representation headers, an empty blob, or a read
// failure before the first byte all leave the request to net/http, which
// reads it again from the replayed bytes. Debug logging (one line per
// request) hands every request off, so the log stays net/http's.
// now is when the request's head arrived.
func (lc *leanConn) answer(req *leanRequest, now time.Time) leanResult {
	ls := lc.ls
	s := ls.s
	if s.log.Enabled(ls.ctx, slog.LevelDebug) {
		return leanHandOff
	}
	start := now
	s.inflight.add()
	defer s.inflight.done()
	if !s.auth.enabled() && !lc.loopbackHost(req.host) {
		return leanHandOff
	}
	method := req.method()
	if _, err := ls.bl.refusal(routeBlob, method); err != nil {
		return leanHandOff
	}
	store := s.currentStore()
	if store == nil {
		return leanHandOff
	}
	if _, err := s.auth.checkHeader(string(req.auth), accessRead); err != nil {
		return leanHandOff
	}
	key, err := keyFromEscapedPath(string(req.target))
	if err != nil {
		return leanHandOff
	}
	if !s.reads.tryAcquire() {
		return leanHandOff
	}
	defer s.reads.release()
	obj, err := store.Open(ls.ctx, key)
	if err != nil {
		return leanHandOff
	}
	defer obj.Close()
	info := obj.Info()
	contentType := info.ContentType
	if contentType == "" {
		contentType = defaultContentType
	}
	if hasStoredHeaders(info.Meta) || !plainHeaderValue(contentType) {
		return leanHandOff
	}
	closeConn := req.close || ls.shutting.Load()
	progress := ls.bl.http.ProgressTimeout

	if req.head {
		// As getBlob's HEAD through ServeContent: the same headers as a
		// GET, the tier a GET would be served from, no body.
		tier := obj.Locate()
		if tier == "" {
			tier = fallbackTier
		}
		lc.head = appendLeanHead(lc.head[:0], info, contentType, tier, closeConn, start)
		lc.setWriteDeadline(start, progress)
		_, werr := lc.raw.Write(lc.head)
		lc.answered = time.Now()
		elapsed := lc.answered.Sub(start)
		s.metrics.observe(routeBlob, method, http.StatusOK, elapsed, 0)
		s.pacing.observeReadTier(method, http.StatusOK, lc.answered, elapsed, 0, tier)
		if werr != nil || closeConn {
			return leanEnd
		}
		return leanKeep
	}

	rw, ok := obj.(RangeWriter)
	if !ok || info.Size == 0 {
		return leanHandOff // an empty blob's tier is the open's: net/http's answer
	}
	b := &lc.body
	*b = leanBody{lc: lc, obj: obj, info: info, contentType: contentType, closeConn: closeConn, progress: progress, start: start}
	_, rerr := rw.WriteRange(b, 0, info.Size)
	lc.bufArr = [2][]byte{} // do not hold the cached item
	if !b.committed {
		// Nothing sent: net/http answers it (the read failure, typically).
		return leanHandOff
	}
	if lc.answered = b.wrote; rerr != nil || lc.answered.IsZero() {
		// The clock as the last write ended is the answer's end, unless
		// a read failed after it.
		lc.answered = time.Now()
	}
	elapsed := lc.answered.Sub(start)
	s.metrics.observe(routeBlob, method, http.StatusOK, elapsed, b.sent)
	s.pacing.observeReadTier(method, http.StatusOK, lc.answered, elapsed, b.sent, b.tier)
	switch {
	case rerr != nil && b.werr == nil:
		// Bytes went out under a 200: cut the connection so the client
		// sees a truncated answer, never bad or missing bytes (getBlob's
		// panic(http.ErrAbortHandler)).
		s.log.Warn("read failed mid-response; aborting connection", "key", key, "err", rerr)
		return leanEnd
	case b.werr != nil || rerr != nil || closeConn:
		return leanEnd
	}
	return leanKeep
}

// loopbackHost is isLoopbackHostHeader(host), remembered for the
// connection's last Host value (clients send the same one every time).
func (lc *leanConn) loopbackHost(host []byte) bool {
	if lc.host == nil || !bytes.Equal(lc.host, host) {
		lc.host = append(lc.host[:0], host...)
		lc.hostOK = isLoopbackHostHeader(string(host))
	}
	return lc.hostOK
}

// hasStoredHeaders reports whether meta holds a representation header
// the answer would carry (setStoredHeaders): those answers are net/http's.
func hasStoredHeaders(meta map[string]string) bool {
	for _, name := range storedHeaders {
		if meta[name] != "" {
			return true
		}
	}
	return false
}

// plainHeaderValue reports whether v goes out unchanged through
// http.Header.Write: printable ASCII without surrounding spaces.
func plainHeaderValue(v string) bool {
	if v == "" || v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < ' ' || v[i] > '~' {
			return false
		}
	}
	return true
}

// appendLeanHead appends the head of a plain 200 blob answer, byte for
// byte what net/http writes for getBlob's: the status line, the handler's
// headers in net/http's sorted order, then Date and Connection: close.
// now is the request's time, for the Date header.
func appendLeanHead(b []byte, info blockstore.Info, contentType, tier string, closeConn bool, now time.Time) []byte {
	b = append(b, "HTTP/1.1 200 OK\r\nAccept-Ranges: bytes\r\nContent-Length: "...)
	b = strconv.AppendInt(b, info.Size, 10)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, contentType...)
	b = append(b, "\r\nEtag: "...)
	b = append(b, info.ETag()...)
	if t := info.ModTime; !t.IsZero() && !t.Equal(time.Unix(0, 0)) {
		b = append(b, "\r\nLast-Modified: "...)
		b = appendHTTPDate(b, t)
	}
	b = append(b, "\r\nX-Content-Type-Options: nosniff\r\nX-Strata-Tier: "...)
	b = append(b, tier...)
	b = append(b, "\r\nDate: "...)
	b = appendHTTPDate(b, now)
	if closeConn {
		b = append(b, "\r\nConnection: close"...)
	}
	return append(b, "\r\n\r\n"...)
}

// leanBody is the io.Writer a lean GET's Object.WriteRange writes to. At
// the first bytes, when the object knows the tier that served them, it
// sends the head and those bytes in one writev; it sends the body in
// blobWriter's pieces, each under a write deadline progress ahead
// (minWritePiece first, then what the client took in a quarter of the
// progress timeout), so a slow reader is cut off as on the net/http path.
type leanBody struct {
	lc          *leanConn
	obj         Object
	info        blockstore.Info
	contentType string
	closeConn   bool
	progress    time.Duration
	start       time.Time // the request's: its Date, and the first write's deadline

	committed bool
	tier      string
	piece     int
	sent      int64
	werr      error
	// wrote is when the last Write's last timed write ended; zero when
	// it timed none.
	wrote time.Time
}

func (b *leanBody) Write(p []byte) (int, error) {
	if b.werr != nil {
		return 0, b.werr
	}
	lc := b.lc
	total := 0
	// last is when this call's previous write ended: the next one's
	// start, so a run of writes reads the clock once per write. Not
	// across calls: a disk read may come between them.
	var last time.Time
	defer func() { b.wrote = last }()
	if !b.committed {
		b.committed = true
		b.tier = b.obj.Tier()
		if b.tier == "" {
			b.tier = fallbackTier
		}
		lc.head = appendLeanHead(lc.head[:0], b.info, b.contentType, b.tier, b.closeConn, b.start)
		first := min(len(p), minWritePiece)
		start := b.start
		if first >= minWritePiece && b.tier != string(tiering.TierRAM) {
			// nextPiece times this write: from now, not from a request
			// start that may be a disk read ago. From RAM the request
			// began microseconds ago, which does for a rate measured
			// against a quarter of the progress timeout; a short answer's
			// write is not timed, and the request's time does for its
			// deadline.
			start = time.Now()
		}
		lc.setWriteDeadline(start, b.progress)
		lc.bufArr = [2][]byte{lc.head, p[:first]}
		lc.bufs = lc.bufArr[:]
		n, err := lc.bufs.WriteTo(lc.raw)
		body := max(0, int(n)-len(lc.head))
		b.sent += int64(body)
		total += body
		if err != nil {
			b.werr = err
			return total, err
		}
		last = b.nextPiece(first, start)
		p = p[first:]
	}
	for len(p) > 0 {
		piece := min(len(p), b.piece)
		start := last
		if start.IsZero() {
			start = time.Now()
		}
		lc.setWriteDeadline(start, b.progress)
		n, err := lc.raw.Write(p[:piece])
		b.sent += int64(n)
		total += n
		if err != nil {
			b.werr = err
			return total, err
		}
		last = b.nextPiece(n, start)
		p = p[n:]
	}
	return total, nil
}

// nextPiece sizes the next write as blobWriter.nextPiece does, after a
// write of n bytes that began at start. It returns when that write ended,
// zero when it was too short to time.
func (b *leanBody) nextPiece(n int, start time.Time) time.Time {
	if b.piece == 0 {
		b.piece = minWritePiece
	}
	if n < minWritePiece {
		return time.Time{}
	}
	end := time.Now()
	b.piece = nextPieceSize(n, end.Sub(start), b.progress)
	return end
}
