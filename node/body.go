package node

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// uploadBody is a request body as the store reads it. It
//   - fails with errBodyTooLarge once more than limit bytes arrive, so a
//     chunked body cannot grow past the maximum blob size (the store then
//     discards the partial write: nothing is stored);
//   - keeps pushing the connection's read deadline forward while bytes
//     arrive, so an upload is cut off when it stalls for the progress
//     timeout, however long it takes overall;
//   - classifies read failures (errBodyStalled, errBodyRead) and remembers
//     the first, so the handler answers for the client's fault rather than
//     for whatever the store made of it.
type uploadBody struct {
	body     io.Reader
	rc       readDeadliner // nil: no deadlines
	progress time.Duration
	limit    int64
	onRead   func(n int)

	n          int64
	err        error // first failure, classified; sticky
	extendedAt time.Time
}

// readDeadliner sets the read deadline of the connection a body arrives
// on: *http.ResponseController on the net/http path, the lean
// connection's setter on the lean PUT path (leanput.go).
type readDeadliner interface {
	SetReadDeadline(t time.Time) error
}

// newUploadBody wraps body; a nil rc sets no deadlines.
func newUploadBody(body io.Reader, rc readDeadliner, progress time.Duration, limit int64, onRead func(int)) *uploadBody {
	return &uploadBody{body: body, rc: rc, progress: progress, limit: limit, onRead: onRead}
}

// controllerDeadliner is rc as a readDeadliner: nil when rc is nil, so a
// nil controller sets no deadline rather than panicking.
func controllerDeadliner(rc *http.ResponseController) readDeadliner {
	if rc == nil {
		return nil
	}
	return rc
}

func (b *uploadBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	b.extendDeadline()
	if room := b.limit - b.n + 1; int64(len(p)) > room {
		p = p[:room] // read at most one byte past the limit: enough to know it was crossed
	}
	n, err := b.body.Read(p)
	b.n += int64(n)
	if n > 0 && b.onRead != nil {
		b.onRead(n)
	}
	if b.n > b.limit {
		b.err = fmt.Errorf("%w: more than %d bytes", errBodyTooLarge, b.limit)
		return 0, b.err
	}
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		// The server now watches the connection for the client going away;
		// a deadline left armed would cancel the request while the store
		// syncs, so disarm it.
		b.clearDeadline()
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.err = fmt.Errorf("%w: no bytes for %v", errBodyStalled, b.progress)
		return n, b.err
	default:
		b.err = fmt.Errorf("%w: %w", errBodyRead, err)
		return n, b.err
	}
	return n, err
}

// extendDeadline moves the read deadline to now+progress, at most a few
// times per progress period (setting it on every small read is wasted work).
func (b *uploadBody) extendDeadline() {
	if b.rc == nil {
		return
	}
	now := time.Now()
	if !b.extendedAt.IsZero() && now.Sub(b.extendedAt) < b.progress/8 {
		return
	}
	b.extendedAt = now
	_ = b.rc.SetReadDeadline(now.Add(b.progress)) // ErrNotSupported (e.g. in tests): no deadline
}

func (b *uploadBody) clearDeadline() {
	if b.rc != nil {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}
