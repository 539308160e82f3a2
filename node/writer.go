package node

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// responseRecorder remembers the status and body size of a response for
// metrics and logs. It is the outermost wrapper of every request.
type responseRecorder struct {
	http.ResponseWriter
	status  int
	written int64
}

func (w *responseRecorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseRecorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// maxPendingBody bounds what blobWriter holds back while the serving tier is
// still unknown (multipart part headers, short error texts).
const maxPendingBody = 4 << 10

// blobWriter sits between http.ServeContent and the client for GET and HEAD.
//
// It defers the status line until the first body byte, by which time the
// object has been read and knows which tier served it, so X-Strata-Tier is
// true for the response. Small writes that come before any read (the part
// headers of a multipart/byteranges answer) are held back, up to
// maxPendingBody, for the same reason.
//
// It swallows the plain-text bodies ServeContent writes for error statuses
// (412, 416): the handler replaces them with the JSON error every endpoint
// answers with.
//
// It keeps the connection's write deadline moving while the client accepts
// bytes, so a reader that stops reading is cut off after the progress
// timeout, however long the download takes overall.
type blobWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	obj      *readRecorder
	progress time.Duration
	pool     *sync.Pool // of *[]byte copy buffers

	status    int // status ServeContent asked for; 0 = none yet
	committed bool
	swallowed bool // ServeContent answered an error status; its body is dropped
	pending   []byte
	deadline  WriteDeadline
}

// fallbackTier is reported when a response carries no blob bytes (HEAD,
// 304, empty blobs) and the object named no tier on open: the metadata then
// came from the blockstore's index, which is the HDD tier's.
const fallbackTier = "hdd"

func newBlobWriter(w http.ResponseWriter, rc *http.ResponseController, obj *readRecorder, progress time.Duration, pool *sync.Pool) *blobWriter {
	return &blobWriter{w: w, rc: rc, obj: obj, progress: progress, pool: pool, deadline: WriteDeadline{RC: rc, Progress: progress}}
}

func (b *blobWriter) Header() http.Header { return b.w.Header() }

func (b *blobWriter) WriteHeader(code int) {
	if b.committed || b.status != 0 || code < 200 {
		return
	}
	b.status = code
	b.swallowed = code >= 400
}

func (b *blobWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if b.swallowed {
		return len(p), nil
	}
	if !b.committed {
		if b.obj.tier() == "" && len(b.pending)+len(p) <= maxPendingBody {
			b.pending = append(b.pending, p...)
			return len(p), nil
		}
		if err := b.commit(); err != nil {
			return 0, err
		}
	}
	return b.write(p)
}

// commit sends the status line with the tier known now, then anything held back.
func (b *blobWriter) commit() error {
	b.committed = true
	tier := b.obj.tier()
	if tier == "" {
		tier = fallbackTier
	}
	b.w.Header().Set("X-Strata-Tier", tier)
	b.w.WriteHeader(b.status)
	if len(b.pending) > 0 {
		p := b.pending
		b.pending = nil
		if _, err := b.write(p); err != nil {
			return err
		}
	}
	return nil
}

// ReadFrom copies the blob through a pooled buffer, so io.Copy (inside
// ServeContent) does not allocate a fresh one per request.
func (b *blobWriter) ReadFrom(r io.Reader) (int64, error) {
	bufp := b.pool.Get().(*[]byte)
	defer b.pool.Put(bufp)
	buf := *bufp
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			w, werr := b.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

func (b *blobWriter) write(p []byte) (int, error) {
	b.extendDeadline()
	return b.w.Write(p)
}

func (b *blobWriter) extendDeadline() { b.deadline.Extend() }

// WriteDeadline keeps a response's write deadline Progress ahead while
// bytes go out, resetting it at most every Progress/8 (a timer reset per
// buffer written costs measurable CPU on large downloads). The blob API's
// GET and the S3 API's GetObject use it.
type WriteDeadline struct {
	RC       *http.ResponseController // nil: no deadlines
	Progress time.Duration
	at       time.Time
}

// Extend moves the deadline Progress ahead of now, unless it was moved
// less than Progress/8 ago.
func (d *WriteDeadline) Extend() {
	if d.RC == nil {
		return
	}
	now := time.Now()
	if !d.at.IsZero() && now.Sub(d.at) < d.Progress/8 {
		return
	}
	d.at = now
	_ = d.RC.SetWriteDeadline(now.Add(d.Progress))
}

// swallowedStatus returns the error status ServeContent answered, or 0.
func (b *blobWriter) swallowedStatus() int {
	if b.swallowed {
		return b.status
	}
	return 0
}

// finish commits a response that wrote no body (HEAD, 304, empty blob).
// It reports whether the status line had already gone out.
func (b *blobWriter) finish() error {
	if b.committed || b.swallowed {
		return nil
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.commit()
}

// Unwrap lets http.ResponseController reach the connection.
func (b *blobWriter) Unwrap() http.ResponseWriter { return b.w }

// readRecorder remembers the first read failure of an object, which
// ServeContent itself drops, and the tier that served the reads so far. For
// multipart answers ServeContent reads in a goroutine of its own, hence the
// mutex: the object's own Tier need not be safe for concurrent use.
type readRecorder struct {
	Object
	mu       sync.Mutex
	err      error
	lastTier string
}

func newReadRecorder(obj Object) *readRecorder {
	return &readRecorder{Object: obj, lastTier: obj.Tier()}
}

func (r *readRecorder) Read(p []byte) (int, error) {
	n, err := r.Object.Read(p)
	r.note(err)
	return n, err
}

func (r *readRecorder) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.Object.ReadAt(p, off)
	r.note(err)
	return n, err
}

func (r *readRecorder) note(err error) {
	tier := r.Object.Tier()
	r.mu.Lock()
	defer r.mu.Unlock()
	if tier != "" {
		r.lastTier = tier
	}
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
}

// tier is the tier that served the reads so far, or what the object named on open.
func (r *readRecorder) tier() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastTier
}

// readErr is the first read failure, if any.
func (r *readRecorder) readErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
