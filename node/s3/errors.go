package s3

import (
	"context"
	"errors"
	"net/http"
	"syscall"

	"strata/blockstore"
	"strata/node"
	"strata/node/replication"
	"strata/node/s3/sigv4"
	"strata/tiering"
)

// Error is an S3 error answer: its code, HTTP status and fixed message.
// Handlers return one (wrapped with %w and detail for logs when useful);
// errorOf maps anything else to one, so internals never reach a client.
type Error struct {
	Code    string
	Status  int
	Message string
}

func (e *Error) Error() string { return "s3: " + e.Code + ": " + e.Message }

func s3err(code string, status int, msg string) *Error {
	return &Error{Code: code, Status: status, Message: msg}
}

// The S3 errors this handler answers, by code.
var (
	ErrAccessDenied          = s3err("AccessDenied", http.StatusForbidden, "Access Denied")
	ErrExpiredRequest        = s3err("AccessDenied", http.StatusForbidden, "Request has expired")
	ErrAnonymous             = s3err("AccessDenied", http.StatusForbidden, "Anonymous access is not allowed; sign the request (AWS Signature Version 4)")
	ErrInvalidAccessKeyID    = s3err("InvalidAccessKeyId", http.StatusForbidden, "The AWS Access Key Id you provided does not exist in our records.")
	ErrSignatureDoesNotMatch = s3err("SignatureDoesNotMatch", http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	ErrRequestTimeTooSkewed  = s3err("RequestTimeTooSkewed", http.StatusForbidden, "The difference between the request time and the server's time is too large.")
	ErrContentSHA256Mismatch = s3err("XAmzContentSHA256Mismatch", http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	ErrBadDigest             = s3err("BadDigest", http.StatusBadRequest, "The Content-MD5 or checksum you specified did not match what we received.")
	ErrAuthMalformed         = s3err("AuthorizationHeaderMalformed", http.StatusBadRequest, "The authorization header is malformed.")
	ErrNotImplemented        = s3err("NotImplemented", http.StatusNotImplemented, "A header or operation you provided implies functionality that is not implemented.")
	ErrNoSuchBucket          = s3err("NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist")
	ErrNoSuchKey             = s3err("NoSuchKey", http.StatusNotFound, "The specified key does not exist.")
	ErrNoSuchUpload          = s3err("NoSuchUpload", http.StatusNotFound, "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.")
	ErrBucketNotEmpty        = s3err("BucketNotEmpty", http.StatusConflict, "The bucket you tried to delete is not empty")
	ErrBucketAlreadyOwned    = s3err("BucketAlreadyOwnedByYou", http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it.")
	ErrBucketAlreadyExists   = s3err("BucketAlreadyExists", http.StatusConflict, "The requested bucket name is not available.")
	ErrInvalidBucketName     = s3err("InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid.")
	ErrKeyTooLong            = s3err("KeyTooLongError", http.StatusBadRequest, "Your key is too long")
	ErrInvalidKey            = s3err("InvalidArgument", http.StatusBadRequest, "Object keys must be valid UTF-8 without control characters")
	ErrInvalidArgument       = s3err("InvalidArgument", http.StatusBadRequest, "Invalid Argument")
	ErrInvalidRequest        = s3err("InvalidRequest", http.StatusBadRequest, "Invalid Request")
	ErrInvalidRange          = s3err("InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable")
	ErrPreconditionFailed    = s3err("PreconditionFailed", http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold")
	ErrEntityTooLarge        = s3err("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size.")
	ErrEntityTooSmall        = s3err("EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size.")
	ErrIncompleteBody        = s3err("IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	ErrRequestTimeout        = s3err("RequestTimeout", http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period.")
	ErrMalformedXML          = s3err("MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema.")
	ErrInvalidPart           = s3err("InvalidPart", http.StatusBadRequest, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.")
	ErrInvalidPartOrder      = s3err("InvalidPartOrder", http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
	ErrInvalidCopySource     = s3err("InvalidArgument", http.StatusBadRequest, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	ErrCopyToItself          = s3err("InvalidRequest", http.StatusBadRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	ErrMethodNotAllowed      = s3err("MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource.")
	ErrMissingContentLength  = s3err("MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header.")
	ErrMetadataTooLarge      = s3err("MetadataTooLarge", http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size.")
	ErrSlowDown              = s3err("SlowDown", http.StatusServiceUnavailable, "Please reduce your request rate.")
	ErrServiceUnavailable    = s3err("ServiceUnavailable", http.StatusServiceUnavailable, "Please reduce your request rate.")
	ErrInsufficientStorage   = s3err("InsufficientStorage", http.StatusInsufficientStorage, "Insufficient storage to complete the request.")
	ErrInternal              = s3err("InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again.")
	ErrNotModified           = s3err("NotModified", http.StatusNotModified, "Not Modified")
	ErrInvalidLocation       = s3err("InvalidLocationConstraint", http.StatusBadRequest, "The specified location-constraint is not valid")
)

// statusClientClosed is logged (never sent) for a request its client gave up.
const statusClientClosed = 499

// errorOf maps err to the S3 error to answer: an *Error in its chain, the
// signature verifier's and the store's sentinels, the node's body and
// admission errors. The one place that decides statuses.
func errorOf(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, sigv4.ErrMissingAuth):
		return ErrAnonymous
	case errors.Is(err, sigv4.ErrUnknownKey):
		return ErrInvalidAccessKeyID
	case errors.Is(err, sigv4.ErrSignature):
		return ErrSignatureDoesNotMatch
	case errors.Is(err, sigv4.ErrSkew):
		return ErrRequestTimeTooSkewed
	case errors.Is(err, sigv4.ErrExpired):
		return ErrExpiredRequest
	case errors.Is(err, sigv4.ErrBadDigest):
		return ErrContentSHA256Mismatch
	case errors.Is(err, sigv4.ErrMalformed):
		return ErrAuthMalformed
	case errors.Is(err, sigv4.ErrUnsupported):
		return ErrNotImplemented
	case errors.Is(err, node.ErrBodyTooLarge), errors.Is(err, blockstore.ErrTooLarge):
		return ErrEntityTooLarge
	case errors.Is(err, node.ErrBodyStalled):
		return ErrRequestTimeout
	case errors.Is(err, node.ErrBodyRead), errors.Is(err, blockstore.ErrSizeMismatch), errors.Is(err, errShortBody):
		return ErrIncompleteBody
	case errors.Is(err, node.ErrRangeNotSatisfiable):
		return ErrInvalidRange
	case errors.Is(err, blockstore.ErrInvalidKey):
		return ErrInvalidKey
	case errors.Is(err, blockstore.ErrInvalidArgument):
		return ErrInvalidArgument
	case node.IsBadRequest(err):
		return ErrInvalidArgument
	case errors.Is(err, blockstore.ErrNotFound):
		return ErrNoSuchKey
	case errors.Is(err, node.ErrBusy):
		return ErrSlowDown
	case errors.Is(err, blockstore.ErrNoSpace), errors.Is(err, syscall.ENOSPC):
		return ErrInsufficientStorage
	case errors.Is(err, node.ErrNodeReadOnly):
		return errReadOnlyNode
	case errors.Is(err, replication.ErrNoQuorum), errors.Is(err, blockstore.ErrDiskFailed),
		errors.Is(err, blockstore.ErrReadOnly), errors.Is(err, syscall.EROFS),
		errors.Is(err, blockstore.ErrCorrupt), errors.Is(err, blockstore.ErrClosed),
		errors.Is(err, tiering.ErrClosed), errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.EIO):
		return ErrServiceUnavailable
	case errors.Is(err, context.Canceled):
		return &Error{Code: "RequestCanceled", Status: statusClientClosed, Message: "request cancelled"}
	}
	return ErrInternal
}

// errShortBody: the body ended before its announced length.
var errShortBody = errors.New("s3: request body shorter than its length")

// errReadOnlyNode: the node runs with read_only.
var errReadOnlyNode = s3err("ServiceUnavailable", http.StatusServiceUnavailable, "The node is read-only: writes are refused.")

// errNoStore: the node is still opening its store.
var errNoStore = s3err("ServiceUnavailable", http.StatusServiceUnavailable, "The node is starting; retry later.")
