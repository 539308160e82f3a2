package peer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"strata/blockstore"
)

// Headers and the trailer of a signed request.
const (
	headerNode = "X-Strata-Node" // sender's node id
	headerDate = "X-Strata-Date" // unix milliseconds at signing
	headerAuth = "X-Strata-Auth" // hex HMAC-SHA256 of the canonical request
	headerBody = "X-Strata-Body" // body mode: "none" or "mac"
	headerSize = "X-Strata-Size" // declared body size of a "mac" body, -1 unknown

	trailerBodyMAC = "X-Strata-Body-Mac" // hex HMAC over the signature and the body's SHA-256
)

// Body modes: a request without a body, or one streamed with a trailer MAC.
const (
	bodyNone = "none"
	bodyMAC  = "mac"
)

// MaxClockSkew is how far a request's date may be from the receiver's
// clock. It bounds how long a captured request can be replayed; replaying a
// versioned write within it re-applies the same version, which changes
// nothing (last writer wins).
const MaxClockSkew = 5 * time.Minute

// maxNodeIDLen bounds a sender id (it is logged and signed).
const maxNodeIDLen = 256

// keyLabel separates the request-signing key from every other key derived
// from the cluster secret (the gossip key uses its own label).
const keyLabel = "strata/internal-routes/v1 hmac-sha256 key"

// Labels that make a request MAC and a body MAC different messages even
// over equal bytes.
const (
	requestLabel = "strata/internal-routes/v1 request"
	bodyLabel    = "strata/internal-routes/v1 body"
)

// deriveKey is the HMAC key of the internal routes: SHA-256 over a fixed
// label and the cluster secret, so the secret file's bytes are never used
// as a key directly and the gossip key (another label) is independent.
func deriveKey(secret []byte) []byte {
	h := sha256.New()
	h.Write([]byte(keyLabel))
	h.Write([]byte{0})
	h.Write(secret)
	return h.Sum(nil)
}

// signedRequest is what a request signature covers.
type signedRequest struct {
	method string
	path   string // escaped path, as routed
	query  string // raw query, verbatim
	date   int64  // unix ms
	node   string // sender id
	size   int64  // declared body size ("mac" mode; -1 unknown), else 0
	body   string // bodyNone or bodyMAC
	ctype  string // Content-Type: it is stored with the blob
}

// canonical encodes the signed fields, each length-prefixed, so no two
// different requests have the same encoding whatever bytes they hold.
func (s signedRequest) canonical() []byte {
	b := make([]byte, 0, 64+len(s.path)+len(s.query)+len(s.node))
	b = append(b, requestLabel...)
	for _, f := range []string{s.method, s.path, s.query, s.node, s.body, s.ctype} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(s.date))
	b = binary.BigEndian.AppendUint64(b, uint64(s.size))
	return b
}

// authKey signs and verifies with one derived key.
type authKey struct{ key []byte }

func newAuthKey(secret []byte) authKey { return authKey{key: deriveKey(secret)} }

// sign is the request MAC.
func (k authKey) sign(s signedRequest) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write(s.canonical())
	return m.Sum(nil)
}

// bodyMAC binds a body (by its SHA-256) to the request signature, so a
// body cannot be moved to another request.
func (k authKey) bodyMAC(signature, bodySum []byte) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(bodyLabel))
	m.Write(signature)
	m.Write(bodySum)
	return m.Sum(nil)
}

// setHeaders signs s and writes the auth headers.
func (k authKey) setHeaders(h http.Header, s signedRequest) (signature []byte) {
	signature = k.sign(s)
	h.Set(headerNode, s.node)
	h.Set(headerDate, strconv.FormatInt(s.date, 10))
	h.Set(headerBody, s.body)
	if s.body == bodyMAC {
		h.Set(headerSize, strconv.FormatInt(s.size, 10))
	}
	h.Set(headerAuth, hex.EncodeToString(signature))
	return signature
}

// authHeaders are the auth headers of a request, parsed.
type authHeaders struct {
	node      string
	date      int64
	body      string
	size      int64
	signature []byte
}

// parseAuthHeaders reads the auth headers strictly: each present exactly
// once, the signature 64 hex digits, the date a decimal count of unix ms,
// the size a decimal >= -1 (and only with a "mac" body). Every refusal
// wraps ErrUnauthenticated.
func parseAuthHeaders(h http.Header) (authHeaders, error) {
	var a authHeaders
	one := func(name string) (string, error) {
		v := h.Values(name)
		if len(v) != 1 {
			return "", fmt.Errorf("%w: want one %s header, got %d", ErrUnauthenticated, name, len(v))
		}
		return v[0], nil
	}
	var err error
	if a.node, err = one(headerNode); err != nil {
		return a, err
	}
	if err := ValidateNodeID(a.node); err != nil {
		return a, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	date, err := one(headerDate)
	if err != nil {
		return a, err
	}
	if a.date, err = parseDecimal(date); err != nil {
		return a, fmt.Errorf("%w: %s: %w", ErrUnauthenticated, headerDate, err)
	}
	if a.body, err = one(headerBody); err != nil {
		return a, err
	}
	switch a.body {
	case bodyNone:
		if len(h.Values(headerSize)) != 0 {
			return a, fmt.Errorf("%w: %s without a body", ErrUnauthenticated, headerSize)
		}
	case bodyMAC:
		size, err := one(headerSize)
		if err != nil {
			return a, err
		}
		if size == "-1" {
			a.size = -1
		} else if a.size, err = parseDecimal(size); err != nil {
			return a, fmt.Errorf("%w: %s: %w", ErrUnauthenticated, headerSize, err)
		}
	default:
		return a, fmt.Errorf("%w: %s %q", ErrUnauthenticated, headerBody, a.body)
	}
	sig, err := one(headerAuth)
	if err != nil {
		return a, err
	}
	if a.signature, err = parseMAC(sig); err != nil {
		return a, fmt.Errorf("%w: %s: %w", ErrUnauthenticated, headerAuth, err)
	}
	return a, nil
}

// parseDecimal reads a non-negative decimal int64 of plain digits (no
// sign, no spaces, no leading zeros but "0").
func parseDecimal(s string) (int64, error) {
	if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("not a decimal: %q", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("not a decimal: %q", s)
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// parseMAC reads a MAC as 64 lowercase hex digits.
func parseMAC(s string) ([]byte, error) {
	if len(s) != 2*sha256.Size {
		return nil, fmt.Errorf("want %d hex digits, got %d bytes", 2*sha256.Size, len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, errors.New("not lowercase hex")
		}
	}
	return hex.DecodeString(s)
}

// ValidateNodeID checks a sender id: 1 to 256 bytes of UTF-8 without
// control or space characters (it travels in a header and in logs).
func ValidateNodeID(id string) error {
	if id == "" || len(id) > maxNodeIDLen || !utf8.ValidString(id) {
		return fmt.Errorf("%w: node id must be 1 to %d bytes of UTF-8", ErrBadOptions, maxNodeIDLen)
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%w: node id has a control or space character", ErrBadOptions)
		}
	}
	return nil
}

// verify authenticates r at now: its headers parse, its date is within
// MaxClockSkew, and the signature over method, escaped path, raw query,
// date, node, body mode, declared size and Content-Type matches (constant
// time). A
// bodyless mode must come with no body. It returns the parsed headers
// (the signature keys the body MAC).
func (k authKey) verify(r *http.Request, now time.Time) (authHeaders, error) {
	a, err := parseAuthHeaders(r.Header)
	if err != nil {
		return a, err
	}
	if skew := now.Sub(time.UnixMilli(a.date)); skew > MaxClockSkew || skew < -MaxClockSkew {
		return a, fmt.Errorf("%w: date %s is %v from this node's clock (limit %v)", ErrUnauthenticated,
			time.UnixMilli(a.date).UTC().Format(time.RFC3339), skew.Round(time.Second), MaxClockSkew)
	}
	want := k.sign(signedRequest{
		method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery,
		date: a.date, node: a.node, size: a.size, body: a.body, ctype: r.Header.Get("Content-Type"),
	})
	if !hmac.Equal(want, a.signature) {
		return a, fmt.Errorf("%w: signature does not match (wrong secret, or the request changed on the way)", ErrUnauthenticated)
	}
	if a.body == bodyNone && (r.ContentLength != 0 || len(r.TransferEncoding) != 0) {
		return a, fmt.Errorf("%w: a body on a request signed without one", ErrUnauthenticated)
	}
	return a, nil
}

// verifiedBody is a "mac" request body as the store reads it: it hashes
// what passes and, before it hands over the last byte (the declared size
// reached) or io.EOF, reads the sender's trailer and checks the body MAC.
// A missing or wrong MAC, or a length other than the signed size, makes
// that Read fail with ErrBodyMAC instead: the store sees an error, never
// the end of a body that was not the one signed, and stores nothing.
type verifiedBody struct {
	body    io.Reader
	trailer func() string // the trailer MAC, valid once body returned io.EOF
	key     authKey
	sig     []byte
	size    int64 // declared; -1 unknown
	n       int64
	sum     hash.Hash
	err     error // sticky
	done    bool  // verified: only io.EOF from now on
	stall   *progress
}

func newVerifiedBody(r *http.Request, key authKey, a authHeaders, stall *progress) *verifiedBody {
	return &verifiedBody{
		body:    r.Body,
		trailer: func() string { return r.Trailer.Get(trailerBodyMAC) },
		key:     key, sig: a.signature, size: a.size, sum: sha256.New(), stall: stall,
	}
}

func (b *verifiedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if b.size >= 0 && int64(len(p)) > b.size-b.n {
		p = p[:b.size-b.n] // never take a byte past the declared size
	}
	n, err := 0, error(nil)
	if len(p) > 0 || b.size < 0 {
		b.stall.extend()
		n, err = b.body.Read(p)
	}
	b.n += int64(n)
	b.sum.Write(p[:n])
	atEnd := errors.Is(err, io.EOF) || (b.size >= 0 && b.n == b.size)
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		b.err = fmt.Errorf("%w: after %d bytes: %w", ErrShortBody, b.n, err)
		return 0, b.err
	case !atEnd:
		return n, nil
	}
	if err := b.finish(errors.Is(err, io.EOF)); err != nil {
		b.err = err
		return 0, err // withhold the last bytes: they are not proven
	}
	b.done = true
	return n, nil
}

// finish reads the body to its end if it is not there yet (expecting
// nothing more), then checks the length and the trailer MAC.
func (b *verifiedBody) finish(atEOF bool) error {
	if !atEOF {
		var one [1]byte
		b.stall.extend()
		m, err := io.ReadAtLeast(b.body, one[:], 1)
		switch {
		case m > 0:
			return fmt.Errorf("%w: %w: body longer than its signed size %d", ErrBodyMAC, blockstore.ErrSizeMismatch, b.size)
		case !errors.Is(err, io.EOF):
			return fmt.Errorf("%w: after %d bytes: %w", ErrShortBody, b.n, err)
		}
	}
	b.stall.clear()
	if b.size >= 0 && b.n != b.size {
		return fmt.Errorf("%w: %w: body of %d bytes, signed size %d", ErrBodyMAC, blockstore.ErrSizeMismatch, b.n, b.size)
	}
	got, err := parseMAC(b.trailer())
	if err != nil {
		return fmt.Errorf("%w: trailer %s: %w", ErrBodyMAC, trailerBodyMAC, err)
	}
	if !hmac.Equal(got, b.key.bodyMAC(b.sig, b.sum.Sum(nil))) {
		return fmt.Errorf("%w: the body is not the one signed", ErrBodyMAC)
	}
	return nil
}

// verified reports whether the whole body was read and its MAC held.
func (b *verifiedBody) verified() bool { return b.done }

// signedBody is a request body as the Client sends it: the caller's reader
// (exactly size bytes when size >= 0), hashed on the way, with the body
// MAC put in the request's trailer when it ends (net/http sends trailers
// the body set before returning io.EOF). A source shorter or longer than
// size fails the read, which aborts the request: the peer sees a broken
// body and stores nothing.
type signedBody struct {
	src     io.Reader
	size    int64
	n       int64
	sum     hash.Hash
	key     authKey
	sig     []byte
	trailer http.Header
	err     error                 // sticky, io.EOF at the end; touched only by the transport's reads
	failed  atomic.Pointer[error] // the first failure (not io.EOF), for the caller: reads may outlive Do
	stop    chan struct{}         // closed when the call returned: start no more reads of src
}

// failure is the error the source (or its size) caused, nil if none.
func (b *signedBody) failure() error {
	if p := b.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (b *signedBody) Read(p []byte) (int, error) {
	n, err := b.read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.failed.CompareAndSwap(nil, &err)
	}
	return n, err
}

func (b *signedBody) read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	select {
	case <-b.stop:
		b.err = errors.New("peer: request finished")
		return 0, b.err
	default:
	}
	if b.size >= 0 && int64(len(p)) > b.size-b.n {
		p = p[:b.size-b.n]
	}
	n, err := 0, error(nil)
	if len(p) > 0 || b.size < 0 {
		n, err = b.src.Read(p)
	}
	b.n += int64(n)
	b.sum.Write(p[:n])
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		b.err = fmt.Errorf("peer: reading the body to send: %w", err)
		return n, b.err
	case errors.Is(err, io.EOF):
		if b.size >= 0 && b.n != b.size {
			b.err = fmt.Errorf("%w: %w: source gave %d of %d bytes", ErrShortBody, blockstore.ErrSizeMismatch, b.n, b.size)
			return n, b.err
		}
	case b.size < 0 || b.n < b.size:
		return n, nil
	default: // size reached: the source must end here
		var one [1]byte
		m, err := io.ReadAtLeast(b.src, one[:], 1)
		if m > 0 {
			b.err = fmt.Errorf("%w: source longer than %d bytes", blockstore.ErrSizeMismatch, b.size)
			return n, b.err
		}
		if !errors.Is(err, io.EOF) {
			b.err = fmt.Errorf("peer: reading the body to send: %w", err)
			return n, b.err
		}
	}
	b.trailer.Set(trailerBodyMAC, hex.EncodeToString(b.key.bodyMAC(b.sig, b.sum.Sum(nil))))
	b.err = io.EOF
	return n, io.EOF
}

// Close does not close the caller's reader: it is the caller's.
func (b *signedBody) Close() error { return nil }
