package sigv4

import "errors"

// Errors Verify and the body readers return, wrapped with %w and details.
// The S3 handler maps each to its S3 error code with errors.Is; the
// comments name the code S3 answers.
var (
	// ErrMissingAuth: the request carries no signature at all (an
	// anonymous request). Verify returns an Auth with Anonymous set beside
	// it, so a handler that serves anonymous requests can go on.
	// S3: AccessDenied (403).
	ErrMissingAuth = errors.New("sigv4: request is not signed")
	// ErrUnknownKey: the access key is not configured.
	// S3: InvalidAccessKeyId (403).
	ErrUnknownKey = errors.New("sigv4: unknown access key")
	// ErrSignature: a signature (of the request, of a chunk or of the
	// trailer) does not match. S3: SignatureDoesNotMatch (403).
	ErrSignature = errors.New("sigv4: signature does not match")
	// ErrSkew: the request's date is further from the server's clock than
	// MaxSkew. S3: RequestTimeTooSkewed (403).
	ErrSkew = errors.New("sigv4: request time too skewed")
	// ErrExpired: a presigned URL's X-Amz-Expires has passed.
	// S3: AccessDenied "Request has expired" (403).
	ErrExpired = errors.New("sigv4: request has expired")
	// ErrBadDigest: the body does not match x-amz-content-sha256,
	// Content-MD5 or an x-amz-checksum-* value. S3:
	// XAmzContentSHA256Mismatch (400) for the SHA-256, BadDigest (400) for
	// Content-MD5, InvalidRequest/BadDigest for a checksum.
	ErrBadDigest = errors.New("sigv4: payload digest mismatch")
	// ErrMalformed: the Authorization header, the presigned query, a date,
	// a payload header or the aws-chunked framing cannot be parsed or
	// breaks a rule. S3: AuthorizationHeaderMalformed / InvalidRequest /
	// IncompleteBody (400).
	ErrMalformed = errors.New("sigv4: malformed request")
	// ErrUnsupported: a scheme this package does not verify (Signature
	// Version 2, SigV4A/ECDSA). S3: NotImplemented (501) or AccessDenied.
	ErrUnsupported = errors.New("sigv4: unsupported authentication scheme")
)

// DigestError is the ErrBadDigest of one value the body failed, so the
// handler can answer XAmzContentSHA256Mismatch for the SHA-256 and
// BadDigest for the others: errors.As(err, &de).
type DigestError struct {
	// Name is "x-amz-content-sha256", "Content-MD5" or the
	// x-amz-checksum-<alg> header or trailer.
	Name string
}

func (e *DigestError) Error() string {
	return ErrBadDigest.Error() + ": " + e.Name + " does not match the body"
}

func (e *DigestError) Unwrap() error { return ErrBadDigest }

// An aws-chunked body that ends before its final chunk fails with an
// error that wraps both ErrMalformed and io.ErrUnexpectedEOF (S3's
// IncompleteBody); a read error of the request body itself (the client
// went away) is passed on as it is.
