package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// This file is what the S3 handler (node/s3) uses of the node: the same
// admission budgets, key locks, body guard, range and precondition rules as
// the blob API, so each rule stays in one place.

// Errors the S3 handler branches on (the blob API's own sentinels).
var (
	// ErrBusy: an admission budget (limits.max_uploads or max_reads) is full.
	ErrBusy = errBusy
	// ErrBodyTooLarge: a body grew past its limit.
	ErrBodyTooLarge = errBodyTooLarge
	// ErrBodyStalled: the client stopped sending for the progress timeout.
	ErrBodyStalled = errBodyStalled
	// ErrBodyRead: reading the body failed (client went away, bad framing).
	ErrBodyRead = errBodyRead
	// ErrRangeNotSatisfiable: a Range header no byte of the blob satisfies.
	ErrRangeNotSatisfiable = errRangeNotSatisfiable
	// ErrNodeReadOnly: the node runs with read_only; client writes are refused.
	ErrNodeReadOnly = errNodeReadOnly
)

// Admit takes a slot of the node's upload budget (write) or read budget,
// waiting at most limits.admission_wait; the error wraps ErrBusy past it (and
// counts in strata_http_rejected_total) or is ctx's; a write on a node
// started with read_only fails with ErrNodeReadOnly. On success the caller
// calls release once.
func (s *Server) Admit(ctx context.Context, write bool) (release func(), err error) {
	if write && s.cfg.ReadOnly {
		return nil, errNodeReadOnly
	}
	sem, class := s.reads, "read"
	if write {
		sem, class = s.uploads, "upload"
	}
	if err := sem.acquire(ctx); err != nil {
		if errors.Is(err, errBusy) {
			s.metrics.rejected.WithLabelValues(class).Inc()
		}
		return nil, err
	}
	return sem.release, nil
}

// LockKey takes the per-key write lock the blob API's PUT and DELETE take,
// so a conditional write through S3 and one through the blob API exclude
// each other. The caller calls unlock once.
func (s *Server) LockKey(ctx context.Context, key string) (unlock func(), err error) {
	return s.locks.Lock(ctx, key)
}

// PaceUpload wraps an upload body in the node's upload pacing ([pacing]):
// its reads wait while the controller holds uploads back (a wait ended by
// ctx fails the read with ctx's error). With pacing off it returns body.
func (s *Server) PaceUpload(ctx context.Context, body io.Reader) io.Reader {
	return s.pacing.body(ctx, body)
}

// LockKeyShared takes key's lock shared: with other shared holders, never
// with LockKey's. The S3 handler holds a bucket's registry key shared while
// it writes an object into the bucket and exclusive (LockKey) while it
// deletes the bucket. The caller calls unlock once.
func (s *Server) LockKeyShared(ctx context.Context, key string) (unlock func(), err error) {
	return s.locks.RLock(ctx, key)
}

// ProgressTimeout is http.progress_timeout.
func (s *Server) ProgressTimeout() time.Duration { return s.cfg.HTTP.ProgressTimeout }

// UploadBody guards a request body as the blob API's PUT does: it fails
// with ErrBodyTooLarge past limit bytes, keeps the connection's read
// deadline progress ahead while bytes arrive (ErrBodyStalled when they
// stop) and classifies other failures as ErrBodyRead. Err returns the first
// failure.
type UploadBody struct{ b *uploadBody }

// NewUploadBody wraps body; rc may be nil (no deadlines), onRead may be nil.
func NewUploadBody(body io.Reader, rc *http.ResponseController, progress time.Duration, limit int64, onRead func(n int)) UploadBody {
	return UploadBody{newUploadBody(body, controllerDeadliner(rc), progress, limit, onRead)}
}

func (u UploadBody) Read(p []byte) (int, error) { return u.b.Read(p) }

// Err is the first failure of the body, nil if none.
func (u UploadBody) Err() error { return u.b.err }

// ByteRange is the inclusive span [First, Last] of a blob.
type ByteRange struct{ First, Last int64 }

// ParseRange reads the Range fields of a GET on a blob of size bytes with
// the blob API's rules (RFC 9110 section 14): ok false means serve the whole
// blob (no Range, several fields, a unit other than bytes); otherwise the
// coalesced ranges, or an error wrapping ErrRangeNotSatisfiable.
func ParseRange(values []string, size int64) (ranges []ByteRange, ok bool, err error) {
	if len(values) != 1 {
		return nil, false, nil
	}
	h, ok := normalizeRange(values[0])
	if !ok {
		return nil, false, nil
	}
	rs, err := parseByteRanges(strings.TrimPrefix(h, "bytes="), size)
	if err != nil {
		return nil, true, err
	}
	out := make([]ByteRange, len(rs))
	for i, r := range rs {
		out[i] = ByteRange{First: r.first, Last: r.last}
	}
	return out, true, nil
}

// Conditional is the outcome of a request's preconditions.
type Conditional int

// Outcomes of CheckPreconditions.
const (
	CondProceed            Conditional = iota // serve the request
	CondNotModified                           // 304 (If-None-Match or If-Modified-Since, on GET/HEAD)
	CondPreconditionFailed                    // 412 (If-Match or If-Unmodified-Since)
)

// Preconditions are the four conditional header values of a request
// (GetObject's If-* or CopyObject's x-amz-copy-source-if-*).
type Preconditions struct {
	IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince []string
}

// HeaderPreconditions takes the If-* fields of h.
func HeaderPreconditions(h http.Header) Preconditions {
	return Preconditions{IfMatch: h.Values("If-Match"), IfNoneMatch: h.Values("If-None-Match"),
		IfModifiedSince: h.Values("If-Modified-Since"), IfUnmodifiedSince: h.Values("If-Unmodified-Since")}
}

// Check evaluates p against an existing blob with entity-tag etag (quoted)
// and modification time modTime, in the order of RFC 9110 section 13.2.2:
// If-Match (else If-Unmodified-Since) fails with 412; then If-None-Match
// (else If-Modified-Since) yields 304. A malformed entity-tag list wraps
// errBadRequest; an invalid date is ignored, as the RFC says.
func (p Preconditions) Check(etag string, modTime time.Time) (Conditional, error) {
	ifMatch, err := parseETagList(p.IfMatch)
	if err != nil {
		return CondProceed, err
	}
	ifNoneMatch, err := parseETagList(p.IfNoneMatch)
	if err != nil {
		return CondProceed, err
	}
	mod := modTime.Truncate(time.Second)
	if ifMatch.present {
		if !ifMatch.any && !ifMatch.matchesStrong(etag) {
			return CondPreconditionFailed, nil
		}
	} else if t := parseIfUnmodifiedSince(p.IfUnmodifiedSince, false); !t.IsZero() && mod.After(t) {
		return CondPreconditionFailed, nil
	}
	if ifNoneMatch.present {
		if ifNoneMatch.any || ifNoneMatch.matchesWeak(etag) {
			return CondNotModified, nil
		}
	} else if t := parseIfUnmodifiedSince(p.IfModifiedSince, false); !t.IsZero() && !mod.After(t) {
		return CondNotModified, nil
	}
	return CondProceed, nil
}

// IsBadRequest reports whether err is a malformed-request error of this
// package (a bad entity-tag list, say).
func IsBadRequest(err error) bool { return errors.Is(err, errBadRequest) }

// ServeExtra serves h on ln like Serve serves the blob API: the [http]
// timeouts, header limit and connection bounds (http.max_connections,
// max_connections_per_client) and the same graceful drain when ctx is
// cancelled. It is for listeners whose handler does its own
// authentication (the S3 API), so it has no loopback rule. It closes ln.
func (s *Server) ServeExtra(ctx context.Context, ln net.Listener, h http.Handler, name string) error {
	hc := s.cfg.HTTP
	hs := s.newHTTPServer(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inflight.add()
		defer s.inflight.done()
		h.ServeHTTP(w, r)
	}), hc, nil)
	var limited net.Listener = ln
	if n := hc.MaxConnectionsPerClient; n > 0 {
		limited = newClientLimitListener(limited, n, hc.LimitLoopbackClients, s.refusedConns.Inc)
	}
	limited = newLimitListener(limited, hc.MaxConnections)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(limited) }()
	s.log.Info("serving", "listener", name, "addr", ln.Addr().String())
	select {
	case err := <-served:
		return fmt.Errorf("node: serve %s: %w", name, err)
	case <-ctx.Done():
	}
	err := s.shutdown([]drainer{hs})
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("node: serve %s: %w", name, serr))
	}
	return err
}

// ResponseRecorder is the blob API's response wrapper (it remembers the
// status and the body bytes written), for handlers beside node that
// count and log answers the same way.
type ResponseRecorder = responseRecorder

// NewResponseRecorder wraps w.
func NewResponseRecorder(w http.ResponseWriter) *ResponseRecorder {
	return &responseRecorder{ResponseWriter: w}
}

// Status is the status sent so far (0 before any).
func (w *responseRecorder) Status() int { return w.status }
