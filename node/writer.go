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
	w    http.ResponseWriter
	obj  *readRecorder
	pool *sync.Pool // of *[]byte copy buffers

	status    int // status ServeContent asked for; 0 = none yet
	committed bool
	swallowed bool // ServeContent answered an error status; its body is dropped
	pending   []byte
	out       PieceWriter // the body's writes to the connection
	werr      error       // the first failed write to the client
}

// fallbackTier is reported when a response carries no blob bytes (HEAD,
// 304, empty blobs) and the object named no tier on open: the metadata then
// came from the blockstore's index, which is the HDD tier's.
const fallbackTier = "hdd"

// init sets up a zero blobWriter in place.
func (b *blobWriter) init(w http.ResponseWriter, rc *http.ResponseController, obj *readRecorder, progress time.Duration, pool *sync.Pool) {
	b.w, b.obj, b.pool = w, obj, pool
	b.out = PieceWriter{W: w, Deadline: WriteDeadline{RC: rc, Progress: progress}}
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

// ReadFrom sends what ServeContent copies. When that is the blob itself
// (io.CopyN's LimitedReader over obj) it goes out through obj.copyTo,
// which hands the writer the store's own bytes when it can; anything else
// (a multipart body) is copied through a pooled buffer, so io.Copy does not
// allocate a fresh one per request.
func (b *blobWriter) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok && lr.R == io.Reader(b.obj) {
		n, err := b.obj.copyTo(b, lr.N)
		lr.N -= n
		return n, err
	}
	return b.copyFrom(r)
}

// copyFrom copies r to the client through a pooled buffer.
func (b *blobWriter) copyFrom(r io.Reader) (int64, error) {
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

// Write sizes: a response body goes to the connection in pieces, each under
// a write deadline renewed for it, so a client that stops reading is cut
// off after the progress timeout. The first piece of a response is
// minWritePiece (what any client that moves at all accepts in a progress
// timeout: the bound of a copy through a 64 KiB buffer); later ones are
// what the client took in a quarter of the progress timeout at the rate it
// accepted the previous piece, within [minWritePiece, maxWritePiece]. A
// fast reader thus gets a 1 MiB blob in two writes instead of sixteen, and a
// slow one in pieces it drains well within its deadline.
const (
	minWritePiece = copyBufSize
	maxWritePiece = 4 << 20
)

func (b *blobWriter) write(p []byte) (int, error) {
	n, err := b.out.Write(p)
	if err != nil {
		b.werr = err
	}
	return n, err
}

// PieceWriter writes a response body to W in pieces sized as above, each
// under the write deadline Deadline keeps ahead. The blob API's GET and
// the S3 API's GetObject send their bodies through it (the lean GET path
// sizes its own writes with the same nextPieceSize).
type PieceWriter struct {
	W        io.Writer
	Deadline WriteDeadline
	piece    int // size of the next write; 0 = minWritePiece
}

func (pw *PieceWriter) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if pw.piece == 0 {
			pw.piece = minWritePiece
		}
		piece := p[:min(len(p), pw.piece)]
		start := pw.Deadline.Extend()
		n, err := pw.W.Write(piece)
		total += n
		if err != nil {
			return total, err
		}
		p = p[n:]
		// Without deadlines, or after a small write that says nothing
		// about the client's rate, the size stays.
		if pw.Deadline.RC != nil && n >= minWritePiece {
			pw.piece = nextPieceSize(n, time.Since(start), pw.Deadline.Progress)
		}
	}
	return total, nil
}

// nextPieceSize is what a client that took n bytes in took accepts in a
// quarter of the progress timeout, within [minWritePiece, maxWritePiece].
func nextPieceSize(n int, took, progress time.Duration) int {
	budget := progress / 4
	if took <= 0 {
		return maxWritePiece
	}
	fit := float64(n) * float64(budget) / float64(took)
	return int(min(max(fit, minWritePiece), maxWritePiece))
}

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
// less than Progress/8 ago, and returns now (zero without deadlines).
func (d *WriteDeadline) Extend() time.Time {
	if d.RC == nil {
		return time.Time{}
	}
	now := time.Now()
	if !d.at.IsZero() && now.Sub(d.at) < d.Progress/8 {
		return now
	}
	d.at = now
	_ = d.RC.SetWriteDeadline(now.Add(d.Progress))
	return now
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
	out      tierNotingWriter // copyTo's writer, kept here to save an allocation
}

// RangeWriter is implemented by objects that can hand their bytes to a
// writer without copying them through a buffer (tiering.Object: a RAM hit
// is written straight from the cached item). The blob API and the S3 API
// send a GET through it when the object has it.
type RangeWriter interface {
	WriteRange(w io.Writer, off, n int64) (int64, error)
}

// copyTo sends the next n bytes from the read position to bw and moves
// the position past them. It records a read failure (never a write
// failure) as Read does, and the serving tier before bw sees a byte.
// Like io.Copy it reports a short object as fewer bytes, not as io.EOF.
func (r *readRecorder) copyTo(bw *blobWriter, n int64) (int64, error) {
	rw, ok := r.Object.(RangeWriter)
	if !ok {
		return bw.copyFrom(io.LimitReader(r, n))
	}
	pos, err := r.Object.Seek(0, io.SeekCurrent)
	if err != nil {
		r.note(err)
		return 0, err
	}
	r.out = tierNotingWriter{r: r, w: bw}
	written, err := rw.WriteRange(&r.out, pos, n)
	if _, serr := r.Object.Seek(pos+written, io.SeekStart); err == nil && serr != nil {
		err = serr
	}
	switch {
	case err == io.EOF:
		err = nil
	case err != nil && !r.out.failed:
		r.note(err) // the object's failure, not the client's
	}
	return written, err
}

// tierNotingWriter updates the recorder's tier before every write, so the
// status line, held back until the first body byte, names the tier that
// served it.
type tierNotingWriter struct {
	r      *readRecorder
	w      io.Writer
	failed bool // a write failed: errors from WriteRange are then the writer's
}

func (t *tierNotingWriter) Write(p []byte) (int, error) {
	t.r.note(nil)
	n, err := t.w.Write(p)
	if err != nil {
		t.failed = true
	}
	return n, err
}

// init sets up a zero readRecorder in place.
func (r *readRecorder) init(obj Object) {
	r.Object, r.lastTier = obj, obj.Tier()
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
