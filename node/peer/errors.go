package peer

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"strata/blockstore"
	"strata/node/replication"
)

// Errors of this package; callers branch on them with errors.Is. Errors a
// peer answered with come back wrapping the same sentinel the peer's
// Backend returned (blockstore.ErrNotFound, replication.ErrVersionGone,
// blockstore.ErrCorrupt, ...), found through wireErrors.
var (
	// ErrUnauthenticated: a request carried no valid signature (missing or
	// malformed headers, wrong secret, a date outside the skew window, a
	// signed field changed on the way). The handler answers 401 and does
	// nothing; the Client returns it when a peer answered 401.
	ErrUnauthenticated = errors.New("peer: request not authenticated")
	// ErrBodyMAC: a request body's trailer MAC was missing or did not match
	// the bytes received, so the body is refused before the store sees its
	// end. It wraps ErrUnauthenticated (the answer is 401 too).
	ErrBodyMAC = errBodyMAC{}
	// ErrBadRequest: a malformed route, query parameter or header of an
	// authenticated request (400).
	ErrBadRequest = errors.New("peer: bad request")
	// ErrNoRoute: no internal route at that path (404 no_route), or the
	// route does not take the method (405).
	ErrNoRoute = errors.New("peer: no such internal route")
	// ErrShortBody: a response body ended before the length its headers
	// announced (the peer aborted the stream, or the connection broke), or
	// a request body was shorter than its declared size.
	ErrShortBody = errors.New("peer: body ended early")
	// ErrBadResponse: a peer's answer could not be decoded.
	ErrBadResponse = errors.New("peer: malformed response")
	// ErrUnreachable: no answer came (refused or broken connection, a
	// timeout, the caller's context ended); the transport's error is
	// wrapped too, so context.Canceled and DeadlineExceeded still match.
	ErrUnreachable = errors.New("peer: no answer")
	// ErrPeerFailed: a peer answered an error this package has no sentinel
	// for (a 500, say); the wrapping error carries status and code.
	ErrPeerFailed = errors.New("peer: request failed on the peer")
	// ErrBadOptions: ClientOptions or HandlerOptions are unusable (no
	// secret, an invalid node id), or an address is not host:port. Every
	// call fails with it rather than sending unauthenticated traffic.
	ErrBadOptions = errors.New("peer: bad options")
)

// Refinements with their own status; each wraps the sentinel callers test.
var (
	// errMethod: the route exists but does not take the method (405).
	errMethod = fmt.Errorf("%w: method not allowed", ErrNoRoute)
	// errRange: a Range outside the blob (416).
	errRange = fmt.Errorf("%w: range not satisfiable", blockstore.ErrInvalidArgument)
)

// errBodyMAC is ErrBodyMAC's type, so it can wrap ErrUnauthenticated.
type errBodyMAC struct{}

func (errBodyMAC) Error() string { return "peer: request body MAC missing or wrong" }
func (errBodyMAC) Unwrap() error { return ErrUnauthenticated }

// headerErrorCode repeats an error answer's code, for HEAD answers (no body).
const headerErrorCode = "X-Strata-Error-Code"

// statusClientClosed is logged (as nginx does) when the caller went away;
// it never reaches a client.
const statusClientClosed = 499

// wireError is one error as it travels: the handler answers the first
// entry whose err matches (errors.Is, in order) with status and code; the
// Client turns a code back into err.
type wireError struct {
	err     error
	status  int
	code    string
	message string
}

// wireErrors is the one table both sides read: status mapping on the
// handler, sentinel mapping on the Client. Order matters on the handler
// side (the first match wins): ErrUnauthenticated (which ErrBodyMAC wraps)
// comes before anything a store may have wrapped around a body failure.
var wireErrors = []wireError{
	{ErrUnauthenticated, http.StatusUnauthorized, "unauthorized", "request not authenticated"},
	{ErrBadRequest, http.StatusBadRequest, "bad_request", "malformed request"},
	{ErrShortBody, http.StatusBadRequest, "short_body", "request body ended early"},
	{errRange, http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable", "range not satisfiable"},
	{blockstore.ErrInvalidKey, http.StatusBadRequest, "invalid_key", "invalid key"},
	{blockstore.ErrSizeMismatch, http.StatusBadRequest, "size_mismatch", "body length does not match its declared size"},
	{blockstore.ErrInvalidArgument, http.StatusBadRequest, "invalid_argument", "invalid argument"},
	{errMethod, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed"},
	{ErrNoRoute, http.StatusNotFound, "no_route", "no such internal route"},
	{blockstore.ErrNotFound, http.StatusNotFound, "not_found", "no such key"},
	{replication.ErrVersionGone, http.StatusGone, "version_gone", "replica does not hold the version asked for"},
	{blockstore.ErrTooLarge, http.StatusRequestEntityTooLarge, "too_large", "blob exceeds the maximum blob size"},
	{blockstore.ErrNoSpace, http.StatusInsufficientStorage, "no_space", "no space left for the blob"},
	{blockstore.ErrCorrupt, http.StatusServiceUnavailable, "corrupt", "stored copy failed verification"},
	{blockstore.ErrReadOnly, http.StatusServiceUnavailable, "read_only", "storage is read-only"},
	{blockstore.ErrClosed, http.StatusServiceUnavailable, "shutting_down", "node is shutting down"},
	{replication.ErrNoQuorum, http.StatusServiceUnavailable, "no_quorum", "quorum not reached"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", "storage timed out"},
	{context.Canceled, statusClientClosed, "client_closed", "request cancelled"},
}

// errorFor picks the wire form of err: status, code and a fixed message
// (internals never leak); 500 "internal" for anything unknown.
func errorFor(err error) wireError {
	for _, we := range wireErrors {
		if errors.Is(err, we.err) {
			return we
		}
	}
	return wireError{err: ErrPeerFailed, status: http.StatusInternalServerError, code: "internal", message: "internal error"}
}

// sentinelFor is the Client's inverse of errorFor: the sentinel for a code
// a peer answered with, ErrPeerFailed when the code is unknown.
func sentinelFor(code string) error {
	for _, we := range wireErrors {
		if we.code == code {
			return we.err
		}
	}
	return ErrPeerFailed
}
