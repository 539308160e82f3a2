package peer

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"strata/blockstore"
	"strata/node/replication"
)

// HandlerOptions configure NewHandler.
type HandlerOptions struct {
	// Secret is the cluster secret (the secret file's bytes). Without one
	// every request is refused with 401.
	Secret []byte
	// Backend is the node's replica side. Required.
	Backend Backend
	Logger  *slog.Logger
	// Now is the clock dates are checked against; default time.Now.
	Now func() time.Time
	// ProgressTimeout cuts off a request body or a blob stream that moves
	// no byte for this long (a peer gone without closing its connection).
	// Default 30s; negative: never.
	ProgressTimeout time.Duration
}

// handler serves the internal routes.
type handler struct {
	key     authKey
	noKey   bool
	backend Backend
	log     *slog.Logger
	now     func() time.Time
	stall   time.Duration
	bufs    sync.Pool
}

// streamBufSize is the read size of a blob stream.
const streamBufSize = 256 << 10

// NewHandler returns the internal routes' handler, to be mounted with
// node.Server.SetInternal. Every request is authenticated first (401 and
// nothing done otherwise), then routed:
//
//	PUT    /internal/v1/blobs/{key}?version=V     201 + JSON Info held (V or newer)
//	DELETE /internal/v1/blobs/{key}?version=V     204
//	GET    /internal/v1/meta/{key}                JSON Entry, 404
//	GET    /internal/v1/blobs/{key}?min_version=V bytes (Range: bytes=a-b), 410
//	HEAD   /internal/v1/blobs/{key}?min_version=V the same headers, no bytes
//	GET    /internal/v1/digest?for=ID             binary Digest
//	GET    /internal/v1/entries?for=ID&buckets=1,5&after=K&limit=N  JSON entries
func NewHandler(opts HandlerOptions) http.Handler {
	h := &handler{backend: opts.Backend, log: opts.Logger, now: opts.Now, stall: opts.ProgressTimeout}
	if h.stall == 0 {
		h.stall = 30 * time.Second
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if len(opts.Secret) == 0 {
		h.noKey = true
		h.log.Error("peer: no cluster secret: every internal request will be refused")
	} else {
		h.key = newAuthKey(opts.Secret)
	}
	h.bufs.New = func() any { b := make([]byte, streamBufSize); return &b }
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.noKey {
		h.writeError(w, r, "", fmt.Errorf("%w: no cluster secret configured", ErrUnauthenticated))
		return
	}
	a, err := h.key.verify(r, h.now())
	if err != nil {
		h.writeError(w, r, "", err)
		return
	}
	if h.backend == nil {
		h.writeError(w, r, a.node, errors.New("peer: handler has no backend"))
		return
	}
	route, key, err := parseRoute(r.URL.EscapedPath())
	if err != nil {
		h.writeError(w, r, a.node, err)
		return
	}
	wantBody := bodyNone // only a PUT or a compose carries a body, always MAC'd
	if r.Method == http.MethodPut || (route == routeCompose && r.Method == http.MethodPost) {
		wantBody = bodyMAC
	}
	if a.body != wantBody {
		h.writeError(w, r, a.node, fmt.Errorf("%w: %s with body mode %q, want %q", ErrBadRequest, r.Method, a.body, wantBody))
		return
	}
	switch {
	case route == routeBlobs && r.Method == http.MethodPut:
		err = h.put(w, r, a, key)
	case route == routeBlobs && r.Method == http.MethodDelete:
		err = h.delete(w, r, key)
	case route == routeBlobs && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		err = h.get(w, r, key)
	case route == routeCompose && r.Method == http.MethodPost:
		err = h.compose(w, r, a, key)
	case route == routeMeta && r.Method == http.MethodGet:
		err = h.meta(w, r, key)
	case route == routeDigest && r.Method == http.MethodGet:
		err = h.digest(w, r)
	case route == routeEntries && r.Method == http.MethodGet:
		err = h.entries(w, r)
	default:
		err = fmt.Errorf("%w: %s %s", errMethod, r.Method, route)
	}
	if err != nil {
		h.writeError(w, r, a.node, err)
	}
}

func (h *handler) put(w http.ResponseWriter, r *http.Request, a authHeaders, key string) error {
	q := parseQuery(r.URL.RawQuery, "version", queryMeta, queryMD5)
	version := q.version("version", true)
	if q.err != nil {
		return q.err
	}
	meta, wantMD5, sum, err := metaFromQuery(q.v)
	if err != nil {
		return err
	}
	body := newVerifiedBody(r, h.key, a, &progress{set: http.NewResponseController(w).SetReadDeadline, timeout: h.stall})
	info, err := h.backend.ApplyPut(r.Context(), key, body, a.size, blockstore.PutOptions{
		ContentType: r.Header.Get("Content-Type"), Version: version, Meta: meta, WantMD5: wantMD5, MD5: sum,
	})
	if body.err != nil {
		// The body's own failure decides the answer, whatever the store
		// made of it (it stored nothing: it saw an error, not the end).
		return body.err
	}
	if err != nil {
		return err
	}
	if !body.verified() {
		if info.Version < version {
			// A store that stops reading before the end and reports
			// success without holding the write or anything newer: a bug,
			// and loud.
			h.log.Error("peer: store accepted a body it did not read to the end", "key", key, "read", body.n, "size", a.size, "version", version, "held", info.Version)
			return errors.New("peer: body not read to its end")
		}
		// The store already held this version or a newer one (a blob, or
		// a tombstone that wins at its version) and stored nothing: the
		// write is superseded there, which is durable, so it is
		// acknowledged with what is held. The unread body's MAC does not
		// matter (nothing of it was kept); the connection closes rather
		// than drain the rest of it.
		body.stall.clear()
		w.Header().Set("Connection", "close")
	}
	b, err := EncodeInfo(info)
	if err != nil {
		return internal(err)
	}
	return writeBody(w, http.StatusCreated, b)
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request, key string) error {
	q := parseQuery(r.URL.RawQuery, "version")
	version := q.version("version", true)
	if q.err != nil {
		return q.err
	}
	if err := h.backend.ApplyDelete(r.Context(), key, version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) meta(w http.ResponseWriter, r *http.Request, key string) error {
	if q := parseQuery(r.URL.RawQuery); q.err != nil {
		return q.err
	}
	e, err := h.backend.Lookup(r.Context(), key)
	if err != nil {
		return err
	}
	b, err := EncodeEntry(e)
	if err != nil {
		return internal(err)
	}
	return writeBody(w, http.StatusOK, b)
}

// get streams the current version's bytes (a range of them). Errors before
// the first byte are answered normally; a read error after it aborts the
// connection, so the reader sees a body shorter than Content-Length and
// fails, never bad bytes taken for good ones.
func (h *handler) get(w http.ResponseWriter, r *http.Request, key string) error {
	q := parseQuery(r.URL.RawQuery, "min_version")
	minVersion := q.version("min_version", false)
	if q.err != nil {
		return q.err
	}
	obj, err := h.backend.OpenLocal(r.Context(), key)
	if err != nil {
		return err
	}
	defer obj.Close()
	info := obj.Info()
	if info.Version < minVersion {
		return fmt.Errorf("%w: %q holds version %d, asked for %d or newer", replication.ErrVersionGone, key, info.Version, minVersion)
	}
	first, n, ranged, err := parseRange(r.Header.Get("Range"), info.Size)
	if err != nil {
		return err
	}
	hdr := w.Header()
	setInfoHeaders(hdr, info)
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Content-Length", strconv.FormatInt(n, 10))
	hdr.Set("Cache-Control", "no-store")
	status := http.StatusOK
	if ranged {
		status = http.StatusPartialContent
		if n > 0 {
			hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, first+n-1, info.Size))
		} else {
			hdr.Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
		}
	}
	if r.Method == http.MethodHead || n == 0 {
		w.WriteHeader(status)
		return nil
	}
	bp := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(bp)
	buf := *bp
	src := io.NewSectionReader(obj, first, n)
	stall := &progress{set: http.NewResponseController(w).SetWriteDeadline, timeout: h.stall}
	defer stall.clear()
	// The first read decides whether this is an answer or an error.
	m, err := io.ReadFull(src, buf[:min(int64(len(buf)), n)])
	if err != nil {
		return fmt.Errorf("peer: reading %q at %d: %w", key, first, shortRead(err))
	}
	w.WriteHeader(status)
	stall.extend()
	if _, err := w.Write(buf[:m]); err != nil {
		return nil // the reader went away; nothing to answer
	}
	sent := int64(m)
	for sent < n {
		m, err := io.ReadFull(src, buf[:min(int64(len(buf)), n-sent)])
		if err != nil {
			h.log.Warn("peer: read failed mid-stream, aborting it", "key", key, "version", info.Version, "at", first+sent, "err", shortRead(err))
			panic(http.ErrAbortHandler)
		}
		stall.extend()
		if _, err := w.Write(buf[:m]); err != nil {
			return nil
		}
		sent += int64(m)
	}
	return nil
}

// shortRead names an object that ended before its Info's size: corruption
// of what the store knows about it, never a short answer.
func shortRead(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the blob ended before its size", blockstore.ErrCorrupt)
	}
	return err
}

// parseRange reads the one Range form the Client sends, "bytes=a-b" or
// "bytes=a-", against a blob of size bytes: the span [first, first+n).
// No header is the whole blob. A first position past the end is 416; one
// at the end is an empty span (a reader at EOF).
func parseRange(h string, size int64) (first, n int64, ranged bool, err error) {
	if h == "" {
		return 0, size, false, nil
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	a, b, ok2 := strings.Cut(spec, "-")
	if !ok || !ok2 {
		return 0, 0, false, fmt.Errorf("%w: Range %q", ErrBadRequest, h)
	}
	first, err = parseDecimal(a)
	if err != nil {
		return 0, 0, false, fmt.Errorf("%w: Range %q", ErrBadRequest, h)
	}
	last := size - 1
	if b != "" {
		if last, err = parseDecimal(b); err != nil || last < first {
			return 0, 0, false, fmt.Errorf("%w: Range %q", ErrBadRequest, h)
		}
		last = min(last, size-1)
	}
	if first > size {
		return 0, 0, false, fmt.Errorf("%w: Range %q of a %d-byte blob", errRange, h, size)
	}
	return first, max(0, last-first+1), true, nil
}

func (h *handler) digest(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r.URL.RawQuery, "for")
	forPeer := q.node("for")
	if q.err != nil {
		return q.err
	}
	d, err := h.backend.Digest(r.Context(), forPeer)
	if err != nil {
		return err
	}
	b, err := EncodeDigest(d)
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Content-Length", strconv.Itoa(len(b)))
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

func (h *handler) entries(w http.ResponseWriter, r *http.Request) error {
	q := parseQuery(r.URL.RawQuery, "for", "buckets", "after", "limit")
	forPeer := q.node("for")
	buckets := q.buckets("buckets")
	limit := q.limit("limit")
	if q.err != nil {
		return q.err
	}
	after := q.v.Get("after")
	entries, err := h.backend.Entries(r.Context(), forPeer, buckets, after, limit)
	if err != nil {
		return err
	}
	if len(entries) > limit {
		entries = entries[:limit]
	}
	b, err := encodeEntries(entries)
	if err != nil {
		return internal(err)
	}
	return writeBody(w, http.StatusOK, b)
}

// internal marks a Backend answer this side cannot send (an entry no store
// could hold): a 500, not the 400 its blockstore error would map to, since
// the request was fine. %v on purpose: the cause must not pick the status.
func internal(err error) error { return fmt.Errorf("peer: backend answer cannot be sent: %v", err) }

func writeBody(w http.ResponseWriter, status int, b []byte) error {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(b)))
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// apiError is the JSON body of every error answer (the blob API's shape).
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// writeError is the one place an error becomes an answer: errorFor picks
// status and code, the message is fixed (internals never leak), the real
// error is logged. A request whose body may be unread closes the
// connection after the answer rather than drain it.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, sender string, err error) {
	we := errorFor(err)
	level := slog.LevelDebug
	switch {
	case we.status == http.StatusUnauthorized:
		level = slog.LevelWarn // a wrong secret or a skewed clock: the operator must know
	case we.status >= 500:
		level = slog.LevelWarn
	}
	if h.log.Enabled(r.Context(), level) {
		h.log.Log(r.Context(), level, "peer: internal request failed", "method", r.Method, "path", r.URL.EscapedPath(),
			"sender", sender, "remote", r.RemoteAddr, "status", we.status, "err", err)
	}
	hdr := w.Header()
	if we.status == http.StatusUnauthorized {
		hdr.Set("WWW-Authenticate", `Strata-HMAC realm="strata-internal"`)
	}
	hdr.Set(headerErrorCode, we.code) // a HEAD answer has no body to carry it
	if r.ContentLength != 0 {
		hdr.Set("Connection", "close")
	}
	b, _ := jsonMarshal(apiError{Error: we.message, Code: we.code})
	writeBody(w, we.status, b)
}
