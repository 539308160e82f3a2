package sigv4

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of a zero Verifier's fields.
const (
	DefaultMaxSkew      = 15 * time.Minute
	DefaultRegion       = "us-east-1"
	DefaultMaxChunkSize = 16 << 20
	// MaxPresignExpires is the longest X-Amz-Expires S3 accepts: 7 days.
	MaxPresignExpires = 7 * 24 * time.Hour
)

// Payload hash values of x-amz-content-sha256 other than a hex SHA-256.
const (
	UnsignedPayload          = "UNSIGNED-PAYLOAD"
	StreamingPayload         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingPayloadTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

const (
	algorithm = "AWS4-HMAC-SHA256"
	service   = "s3"
	terminal  = "aws4_request"
)

// Verifier checks AWS Signature V4 on requests. The zero value of every
// field but Keys has a default; a Verifier is safe for concurrent use and
// must not be copied after first use.
type Verifier struct {
	// Keys looks an access key up; nil knows no key.
	Keys func(accessKey string) (Key, bool)
	// Now is the server's clock; nil is time.Now.
	Now func() time.Time
	// MaxSkew is how far a request's date may be from Now (15 minutes).
	MaxSkew time.Duration
	// Region is the region clients sign for; "us-east-1" is accepted too.
	Region string
	// MaxChunkSize bounds one aws-chunked chunk (16 MiB).
	MaxChunkSize int

	keysOnce sync.Once
	keys     *keyCache
}

// Auth is what Verify learned about a request.
type Auth struct {
	// Key is the key that signed the request (zero when Anonymous).
	Key Key
	// Anonymous: the request carried no signature (Verify returned
	// ErrMissingAuth with this Auth).
	Anonymous bool
	// Presigned: the signature came in the query (a presigned URL).
	Presigned bool
	// Body is the request's payload, decoded (aws-chunked framing
	// removed) and verified as it is read; read it instead of r.Body. It
	// closes r.Body.
	Body io.ReadCloser
	// DecodedLength is the payload's length: x-amz-decoded-content-length
	// for aws-chunked bodies, else the request's Content-Length; -1 when
	// unknown.
	DecodedLength int64
	// ContentSHA256 is the payload hash the request was signed with: a
	// hex SHA-256 or one of UnsignedPayload, StreamingPayload,
	// StreamingPayloadTrailer, StreamingUnsignedTrailer.
	ContentSHA256 string
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

func (v *Verifier) region() string {
	if v.Region != "" {
		return v.Region
	}
	return DefaultRegion
}

func (v *Verifier) maxChunk() int {
	if v.MaxChunkSize > 0 {
		return v.MaxChunkSize
	}
	return DefaultMaxChunkSize
}

// ChunkBufferBytes is what one aws-chunked body being read holds in memory
// at most (one chunk), for the caller's memory budget.
func (v *Verifier) ChunkBufferBytes() int64 { return int64(v.maxChunk()) }

func (v *Verifier) cache() *keyCache {
	v.keysOnce.Do(func() { v.keys = newKeyCache(keyCacheEntries) })
	return v.keys
}

// Verify checks r's signature and returns its Auth. With no signature at
// all it returns an anonymous Auth and ErrMissingAuth; on any other error
// the Auth is nil and r.Body is left to the caller. Verify reads nothing
// of the body: the payload's checks happen as Auth.Body is read.
func (v *Verifier) Verify(r *http.Request) (*Auth, error) {
	if r == nil || r.URL == nil || r.Header == nil {
		return nil, fmt.Errorf("%w: incomplete request", ErrMalformed)
	}
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	authz := r.Header.Values("Authorization")
	presigned := q.has("X-Amz-Algorithm") || q.has("X-Amz-Signature") || q.has("X-Amz-Credential")
	switch {
	case len(authz) > 1:
		return nil, fmt.Errorf("%w: more than one Authorization header", ErrMalformed)
	case len(authz) == 1 && presigned:
		return nil, fmt.Errorf("%w: both an Authorization header and a presigned query", ErrMalformed)
	case len(authz) == 1:
		return v.verifyHeader(r, q, authz[0])
	case presigned:
		return v.verifyPresigned(r, q)
	case q.has("AWSAccessKeyId") || q.has("Signature"):
		return nil, fmt.Errorf("%w: Signature Version 2 presigned URL", ErrUnsupported)
	}
	body, length, err := plainBody(r, UnsignedPayload)
	if err != nil {
		return nil, err
	}
	return &Auth{Anonymous: true, Body: body, DecodedLength: length, ContentSHA256: UnsignedPayload}, ErrMissingAuth
}

// scope is a parsed credential: access key and its scope.
type scope struct {
	accessKey, date, region, service string
}

func (s scope) String() string { return string(s.appendTo(nil)) }

// appendTo appends the scope string ("20130524/us-east-1/s3/aws4_request") to b.
func (s scope) appendTo(b []byte) []byte {
	b = append(b, s.date...)
	b = append(b, '/')
	b = append(b, s.region...)
	b = append(b, '/')
	b = append(b, s.service...)
	b = append(b, '/')
	return append(b, terminal...)
}

// parseCredential splits "AKID/20130524/us-east-1/s3/aws4_request". The
// access key is everything before the last four parts.
func parseCredential(c string) (scope, error) {
	parts := strings.Split(c, "/")
	if len(parts) < 5 {
		return scope{}, fmt.Errorf("%w: credential %q is not key/date/region/service/aws4_request", ErrMalformed, c)
	}
	n := len(parts)
	s := scope{
		accessKey: strings.Join(parts[:n-4], "/"),
		date:      parts[n-4],
		region:    parts[n-3],
		service:   parts[n-2],
	}
	switch {
	case s.accessKey == "":
		return scope{}, fmt.Errorf("%w: empty access key in credential", ErrMalformed)
	case parts[n-1] != terminal:
		return scope{}, fmt.Errorf("%w: credential ends in %q, not %s", ErrMalformed, parts[n-1], terminal)
	case len(s.date) != 8 || !allDigits(s.date):
		return scope{}, fmt.Errorf("%w: credential date %q is not YYYYMMDD", ErrMalformed, s.date)
	case s.region == "":
		return scope{}, fmt.Errorf("%w: empty region in credential", ErrMalformed)
	}
	return s, nil
}

// checkScope refuses a scope for another service or region.
func (v *Verifier) checkScope(s scope) error {
	if s.service != service {
		return fmt.Errorf("%w: credential is for service %q, not %s", ErrMalformed, s.service, service)
	}
	if s.region != v.region() && s.region != DefaultRegion {
		return fmt.Errorf("%w: the region %q is wrong; expecting %q", ErrMalformed, s.region, v.region())
	}
	return nil
}

// keyFor checks a credential's scope and finds the key of its access key.
func (v *Verifier) keyFor(s scope) (Key, error) {
	if err := v.checkScope(s); err != nil {
		return Key{}, err
	}
	if v.Keys == nil {
		return Key{}, fmt.Errorf("%w: %q", ErrUnknownKey, s.accessKey)
	}
	k, ok := v.Keys(s.accessKey)
	if !ok || k.SecretKey == "" {
		return Key{}, fmt.Errorf("%w: %q", ErrUnknownKey, s.accessKey)
	}
	return k, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseDecodedLength reads x-amz-decoded-content-length.
func parseDecodedLength(r *http.Request) (int64, error) {
	s := r.Header.Get("X-Amz-Decoded-Content-Length")
	if s == "" {
		return 0, fmt.Errorf("%w: aws-chunked payload without x-amz-decoded-content-length", ErrMalformed)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: x-amz-decoded-content-length %q", ErrMalformed, s)
	}
	return n, nil
}
