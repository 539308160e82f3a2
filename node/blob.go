package node

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"strata/blockstore"
)

// defaultContentType is served for blobs stored without one.
const defaultContentType = "application/octet-stream"

// blobJSON describes one blob in PUT answers and listings.
type blobJSON struct {
	Key          string `json:"key"`
	Size         int64  `json:"size"`
	ETag         string `json:"etag"`
	LastModified string `json:"last_modified"`
}

func blobJSONOf(info blockstore.Info) blobJSON {
	return blobJSON{Key: info.Key, Size: info.Size, ETag: info.ETag(), LastModified: info.ModTime.UTC().Format(time.RFC3339Nano)}
}

// handleBlob serves /blobs/{key}. Order of checks: method, auth, key,
// headers, admission; nothing reaches the store before all pass.
func (s *Server) handleBlob(w http.ResponseWriter, r *http.Request, st *requestState) {
	write := false
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPut, http.MethodDelete:
		write = true
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		s.writeError(w, r, errMethod)
		return
	}
	if !s.authorize(w, r, st, accessFor(write)) {
		return
	}
	if write && s.cfg.ReadOnly {
		// Before the key or the body is looked at: nothing changes.
		s.writeError(w, r, errNodeReadOnly)
		return
	}
	key, err := keyFromEscapedPath(r.URL.EscapedPath())
	if err == nil && write {
		err = checkWritableKey(key)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		one, err := consistencyOne(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if one {
			r = r.WithContext(WithConsistencyOne(r.Context()))
		}
		s.getBlob(w, r, st, key)
	case http.MethodPut:
		s.putBlob(w, r, st, key)
	case http.MethodDelete:
		s.deleteBlob(w, r, st, key)
	}
}

// putBlob streams the body into the store and answers 201 only after the
// store reports the blob durable.
func (s *Server) putBlob(w http.ResponseWriter, r *http.Request, st *requestState, key string) {
	pre, err := parseWritePreconditions(r.Header)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	contentType, err := validContentType(r.Header.Values("Content-Type"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	maxSize := int64(s.cfg.MaxBlobSize)
	if r.ContentLength > maxSize {
		// Refused before any byte is read (and before 100 Continue goes out).
		s.writeError(w, r, fmt.Errorf("%w: Content-Length %d", errBodyTooLarge, r.ContentLength))
		return
	}
	done, ok := s.beginWrite(w, r, st, key, pre)
	if !ok {
		return
	}
	defer done()

	ctx := r.Context()
	body := newUploadBody(r.Body, controllerDeadliner(st.rc), st.http.ProgressTimeout, maxSize, func(n int) { st.received.Add(int64(n)) })
	// The read deadline stays armed after Put: if the store stopped early,
	// the server's discard of the unread body is bounded by it too. (At the
	// body's EOF uploadBody disarms it.)
	info, err := st.store.Put(ctx, key, s.pacing.body(ctx, body), r.ContentLength, blockstore.PutOptions{ContentType: contentType})
	if err != nil {
		if body.err != nil {
			// The client's fault explains whatever the store made of it.
			s.log.Debug("upload body failed", "key", key, "body", body.err, "store", err)
			err = body.err
		}
		s.writeError(w, r, err)
		return
	}
	writePutAnswer(w, info)
}

// deleteBlob removes the blob: 204, or 404 when there is none.
func (s *Server) deleteBlob(w http.ResponseWriter, r *http.Request, st *requestState, key string) {
	pre, err := parseWritePreconditions(r.Header)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	done, ok := s.beginWrite(w, r, st, key, pre)
	if !ok {
		return
	}
	defer done()
	ctx := r.Context()
	if err := st.store.Delete(ctx, key, blockstore.DeleteOptions{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// beginWrite admits a PUT or DELETE, takes the key's lock and checks the
// request's preconditions under it, so the check and the write are atomic.
// When it reports false it has answered the request; otherwise the caller
// must call done when the write is over.
func (s *Server) beginWrite(w http.ResponseWriter, r *http.Request, st *requestState, key string, pre writePreconditions) (done func(), ok bool) {
	if !s.admit(w, r, s.uploads, "upload") {
		return nil, false
	}
	unlock, err := s.locks.Lock(r.Context(), key)
	if err != nil {
		s.writeError(w, r, err)
		s.uploads.release()
		return nil, false
	}
	done = func() {
		unlock()
		s.uploads.release()
	}
	if err := s.checkWritePreconditions(r, st.store, key, pre); err != nil {
		s.writeError(w, r, err)
		done()
		return nil, false
	}
	return done, true
}

// checkWritePreconditions evaluates If-Match, If-None-Match and
// If-Unmodified-Since against the current blob. The caller holds the key's
// lock, so the answer still holds when its write lands.
func (s *Server) checkWritePreconditions(r *http.Request, store Store, key string, pre writePreconditions) error {
	if !pre.conditional() {
		return nil
	}
	info, err := store.Stat(r.Context(), key)
	switch {
	case err == nil:
		return pre.check(true, info.ETag(), info.ModTime)
	case errors.Is(err, blockstore.ErrNotFound):
		return pre.check(false, "", time.Time{})
	default:
		return err
	}
}

// validContentType accepts at most one Content-Type that
// blockstore.ValidateContentType accepts; none means "" (served as
// octet-stream).
func validContentType(values []string) (string, error) {
	switch {
	case len(values) == 0:
		return "", nil
	case len(values) > 1:
		return "", fmt.Errorf("%w: more than one Content-Type", errBadRequest)
	}
	v := strings.TrimSpace(values[0])
	// The store's rule, so a header the store would refuse is refused
	// here with the same answer (400 invalid_argument), before any body.
	if err := blockstore.ValidateContentType(v); err != nil {
		return "", err
	}
	return v, nil
}

// getBlob answers GET and HEAD through http.ServeContent, which handles
// Range (single and multipart), If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since and If-Range against the ETag and Last-Modified set here.
func (s *Server) getBlob(w http.ResponseWriter, r *http.Request, st *requestState, key string) {
	if !s.admit(w, r, s.reads, "read") {
		return
	}
	defer s.reads.release()

	obj, err := st.store.Open(r.Context(), key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer obj.Close()
	info := obj.Info()
	h := w.Header()
	resp := &blobResponse{}
	setBlobHeaders(h, &resp.vals, info)

	if vs := r.Header.Values("Range"); len(vs) > 0 {
		if rng := rangeForServeContent(vs, info.Size); rng != "" {
			r.Header.Set("Range", rng)
		} else {
			r.Header.Del("Range") // unknown unit or several Range fields: serve it all
		}
	}
	content := &resp.content
	content.init(obj)
	if r.Method == http.MethodHead {
		// HEAD reads nothing; ask the tiers where a GET's bytes would come from.
		content.lastTier = obj.Locate()
	}
	bw := &resp.bw
	bw.init(w, st.rc, content, st.http.ProgressTimeout, &s.copyBufs)
	if plainGet(r, h) {
		// What ServeContent answers when no precondition or Range applies,
		// without its work: 200, Last-Modified, Content-Length, the bytes.
		setPlainGetHeaders(h, &resp.vals, info)
		bw.WriteHeader(http.StatusOK)
		_, _ = content.copyTo(bw, info.Size)
	} else {
		http.ServeContent(bw, r, "", info.ModTime, content)
	}

	if status := bw.swallowedStatus(); status != 0 {
		if status == http.StatusRequestedRangeNotSatisfiable {
			// ServeContent omits it for malformed ranges; RFC 9110 wants it.
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
		}
		clearStoredHeaders(h)
		s.writeError(w, r, serveContentError(status))
		return
	}
	if readErr := content.readErr(); readErr != nil {
		if !bw.committed {
			// Nothing sent yet: a clean error answer instead of a 200.
			for _, k := range []string{"ETag", "Last-Modified", "Content-Range", "Accept-Ranges", "Content-Length"} {
				h.Del(k)
			}
			clearStoredHeaders(h)
			s.writeError(w, r, readErr)
			return
		}
		// Bytes already went out under a 200/206: abort the connection so
		// the client sees a truncated response, never bad or missing bytes
		// passed off as complete.
		s.log.Warn("read failed mid-response; aborting connection", "key", key, "err", readErr)
		panic(http.ErrAbortHandler)
	}
	if err := bw.finish(); err != nil {
		s.log.Debug("writing response failed", "key", key, "err", err)
	}
}

// blobResponse is the per-request state of a GET or HEAD, allocated once.
type blobResponse struct {
	bw      blobWriter
	content readRecorder
	vals    headerValues
}

// serveContentError names the error status ServeContent chose.
func serveContentError(status int) error {
	switch status {
	case http.StatusRequestedRangeNotSatisfiable:
		return errRangeNotSatisfiable
	case http.StatusPreconditionFailed:
		return errPrecondition
	case http.StatusBadRequest:
		return errBadRequest
	default:
		return fmt.Errorf("node: ServeContent answered %d", status)
	}
}

// listResponse is the JSON answer of GET /blobs.
type listResponse struct {
	Keys           []blobJSON `json:"keys"`
	NextStartAfter string     `json:"next_start_after"`
	Truncated      bool       `json:"truncated"`
}

// List limits.
const (
	defaultListLimit = 1000
	maxListLimit     = 10000
)

// handleList serves GET /blobs?prefix=&start-after=&limit=: keys in order,
// at most limit (default 1000, capped at 10000); when truncated,
// next_start_after is the start-after of the next page.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request, st *requestState) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.writeError(w, r, errMethod)
		return
	}
	if !s.authorize(w, r, st, accessRead) {
		return
	}
	q, err := parseListQuery(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.admit(w, r, s.reads, "read") {
		return
	}
	defer s.reads.release()
	infos, err := st.store.List(r.Context(), q.prefix, q.startAfter, q.limit+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := listResponse{Keys: make([]blobJSON, 0, min(len(infos), q.limit))}
	if len(infos) > q.limit {
		infos = infos[:q.limit]
		resp.Truncated = true
		resp.NextStartAfter = infos[len(infos)-1].Key
	}
	for _, info := range infos {
		resp.Keys = append(resp.Keys, blobJSONOf(info))
	}
	writeJSON(w, http.StatusOK, resp)
}
