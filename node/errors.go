package node

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"syscall"

	"strata/blockstore"
	"strata/node/replication"
	"strata/tiering"
)

// Errors the HTTP layer itself raises, mapped by statusOf like the store's.
var (
	// errBodyTooLarge: a chunked body grew past the maximum blob size.
	errBodyTooLarge = errors.New("node: request body exceeds the maximum blob size")
	// errBodyStalled: the client stopped sending the body for longer than the progress timeout.
	errBodyStalled = errors.New("node: request body stalled")
	// errBodyRead: reading the request body failed (client went away, bad chunking).
	errBodyRead = errors.New("node: reading request body failed")
	// errPrecondition: If-Match, If-None-Match or If-Unmodified-Since did not hold.
	errPrecondition = errors.New("node: precondition failed")
	// errBadRequest: a malformed header or query parameter.
	errBadRequest = errors.New("node: bad request")
	// errReservedKey: a write or delete under ReservedPrefix (S3 internals).
	errReservedKey = errors.New("node: key under the reserved prefix")
	// errUnauthorized: no token, or an unknown one.
	errUnauthorized = errors.New("node: missing or unknown bearer token")
	// errForbidden: the token's scope does not allow the request.
	errForbidden = errors.New("node: token scope does not allow this request")
	// errBusy: no admission slot free.
	errBusy = errors.New("node: too many concurrent requests")
	// errNoRoute: no such endpoint.
	errNoRoute = errors.New("node: no such endpoint")
	// errWouldBlock: a lean connection's raw read found the socket empty
	// (leanSource); the request loop waits for it and reads again.
	errWouldBlock = errors.New("node: socket has no bytes to read yet")
	// errMethod: the endpoint does not take this method.
	errMethod = errors.New("node: method not allowed")
	// errRangeNotSatisfiable: the Range header does not overlap the blob.
	errRangeNotSatisfiable = errors.New("node: range not satisfiable")
	// errNotReady: the node is stopping, or its store is unhealthy.
	errNotReady = errors.New("node: not ready")
	// errHostNotLoopback: without tokens, a request named a Host that is
	// not loopback (as a DNS-rebinding page in a browser would).
	errHostNotLoopback = errors.New("node: Host is not a loopback name")
	// errReadListener: a write (or another method) sent to listen_read.
	errReadListener = errors.New("node: this listener serves reads only")
	// errWriteListener: a read sent to listen_write.
	errWriteListener = errors.New("node: this listener serves writes only")
	// errNodeReadOnly: a client write to a node started with read_only.
	errNodeReadOnly = errors.New("node: read-only mode: client writes are refused")
	// errStarting: no store attached yet (recovery is running).
	errStarting = errors.New("node: starting: store still recovering")
)

// Errors of the service-manager integration (systemd*.go); callers log
// them and keep serving.
var (
	// ErrNotify: $NOTIFY_SOCKET or $WATCHDOG_USEC is malformed, or a
	// message could not be sent.
	ErrNotify = errors.New("node: systemd notify")
	// ErrLivenessTimeout: the watchdog's liveness check did not answer
	// within its deadline (a hung store), or the previous check is still
	// running.
	ErrLivenessTimeout = errors.New("node: liveness check did not answer in time")
)

// statusClientClosed is logged and counted (as nginx does) when the client
// went away before an answer; it never reaches a client.
const statusClientClosed = 499

// apiError is the JSON body of every error answer.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// statusOf maps an error to its HTTP status, a stable machine-readable code
// and a message safe to show a client. It is the one place that decides
// statuses; messages are fixed strings, so internals (paths, offsets,
// syscall errors) never leak.
func statusOf(err error) (status int, code, message string) {
	switch {
	case err == nil:
		return http.StatusOK, "", ""
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest, "bad_request", "malformed request"
	case errors.Is(err, errReservedKey):
		return http.StatusBadRequest, "reserved_key", "keys under \".s3/\" belong to the S3 API and cannot be written or deleted here"
	case errors.Is(err, blockstore.ErrInvalidKey):
		return http.StatusBadRequest, "invalid_key", "key must be 1 to 1024 bytes of UTF-8 without control characters"
	case errors.Is(err, blockstore.ErrSizeMismatch):
		return http.StatusBadRequest, "size_mismatch", "body length does not match Content-Length"
	case errors.Is(err, blockstore.ErrInvalidArgument):
		return http.StatusBadRequest, "invalid_argument", "invalid request argument (for example a Content-Type too long)"
	case errors.Is(err, errBodyRead):
		return http.StatusBadRequest, "bad_body", "reading the request body failed"
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized, "unauthorized", "missing or unknown bearer token"
	case errors.Is(err, errHostNotLoopback):
		return http.StatusMisdirectedRequest, "host_not_loopback", "without auth tokens this node answers only loopback host names (localhost, 127.0.0.1, [::1]); configure [[auth.tokens]] to serve other names"
	case errors.Is(err, errForbidden):
		return http.StatusForbidden, "forbidden", "token scope does not allow this request"
	case errors.Is(err, blockstore.ErrNotFound):
		return http.StatusNotFound, "not_found", "no such blob"
	case errors.Is(err, blockstore.ErrUnknownPass):
		return http.StatusNotFound, "unknown_pass", "no such pass (a node remembers its last 16 passes of a kind since it started)"
	case errors.Is(err, tiering.ErrNoPasses):
		return http.StatusNotFound, "no_passes", "this store runs no compaction or scrub passes"
	case errors.Is(err, blockstore.ErrPassRunning):
		return http.StatusConflict, "pass_running", "a pass of this kind is already running"
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, "no_route", "no such endpoint"
	case errors.Is(err, errReadListener):
		return http.StatusMethodNotAllowed, "method_not_allowed", "this listener serves reads only (GET, HEAD); send PUT and DELETE to the write listener"
	case errors.Is(err, errWriteListener):
		return http.StatusMethodNotAllowed, "method_not_allowed", "this listener serves writes only (PUT, DELETE, HEAD of a blob); send reads and listings to the read listener"
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed"
	case errors.Is(err, errBodyStalled):
		return http.StatusRequestTimeout, "body_stalled", "request body stalled"
	case errors.Is(err, errPrecondition):
		return http.StatusPreconditionFailed, "precondition_failed", "precondition failed"
	case errors.Is(err, blockstore.ErrTooLarge), errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large", "blob exceeds the maximum blob size"
	case errors.Is(err, errRangeNotSatisfiable):
		return http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable", "range not satisfiable"
	case errors.Is(err, blockstore.ErrNoSpace), errors.Is(err, syscall.ENOSPC):
		return http.StatusInsufficientStorage, "no_space", "no space left for the blob"
	case errors.Is(err, errBusy):
		return http.StatusServiceUnavailable, "busy", "too many concurrent requests, retry later"
	case errors.Is(err, replication.ErrNoQuorum):
		return http.StatusServiceUnavailable, "no_quorum", "too few replicas answered, retry later"
	case errors.Is(err, blockstore.ErrDiskFailed):
		// The disk holding the local copy is out of service; another
		// replica has the blob.
		return http.StatusServiceUnavailable, "disk_failed", "the disk holding the blob has failed"
	case errors.Is(err, errNodeReadOnly):
		return http.StatusServiceUnavailable, "read_only", "node is read-only: it serves reads; send writes to another node"
	case errors.Is(err, blockstore.ErrReadOnly), errors.Is(err, syscall.EROFS):
		return http.StatusServiceUnavailable, "read_only", "storage is read-only"
	case errors.Is(err, blockstore.ErrCorrupt):
		// The local copy failed its checksum; another replica (or a repair)
		// can serve it, so this is "unavailable here", not a client error.
		return http.StatusServiceUnavailable, "corrupt", "stored copy failed verification"
	case errors.Is(err, blockstore.ErrClosed), errors.Is(err, tiering.ErrClosed):
		return http.StatusServiceUnavailable, "shutting_down", "node is shutting down"
	case errors.Is(err, errStarting):
		return http.StatusServiceUnavailable, "starting", "node is starting, retry later"
	case errors.Is(err, errNotReady):
		return http.StatusServiceUnavailable, "not_ready", "node is not ready"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "timeout", "storage timed out"
	case errors.Is(err, context.Canceled):
		return statusClientClosed, "client_closed", "request cancelled"
	case errors.Is(err, syscall.EIO):
		return http.StatusServiceUnavailable, "io_error", "storage I/O error"
	default:
		return http.StatusInternalServerError, "internal", "internal error"
	}
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal error","code":"internal"}`)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
