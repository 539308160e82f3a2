package sigv4

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// maxAuthorizationLen bounds the Authorization header parsed.
const maxAuthorizationLen = 16 << 10

// authorization is a parsed AWS4-HMAC-SHA256 Authorization header.
type authorization struct {
	scope     scope
	signed    []string
	signature string
}

// parseAuthorization parses
// "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=<64 hex>". Other schemes are
// ErrUnsupported (AWS, AWS4-ECDSA-P256-SHA256) or ErrMalformed.
func parseAuthorization(h string) (authorization, error) {
	if len(h) > maxAuthorizationLen {
		return authorization{}, fmt.Errorf("%w: Authorization header longer than %d bytes", ErrMalformed, maxAuthorizationLen)
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	switch scheme {
	case algorithm:
	case "AWS":
		return authorization{}, fmt.Errorf("%w: Signature Version 2", ErrUnsupported)
	case "AWS4-ECDSA-P256-SHA256":
		return authorization{}, fmt.Errorf("%w: SigV4A (%s)", ErrUnsupported, scheme)
	default:
		return authorization{}, fmt.Errorf("%w: Authorization scheme %q", ErrMalformed, scheme)
	}
	var a authorization
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return authorization{}, fmt.Errorf("%w: Authorization component %q has no '='", ErrMalformed, part)
		}
		var err error
		switch k {
		case "Credential":
			if haveCred {
				return authorization{}, fmt.Errorf("%w: Credential given twice", ErrMalformed)
			}
			haveCred = true
			a.scope, err = parseCredential(val)
		case "SignedHeaders":
			if haveSigned {
				return authorization{}, fmt.Errorf("%w: SignedHeaders given twice", ErrMalformed)
			}
			haveSigned = true
			a.signed, err = parseSignedHeaders(val)
		case "Signature":
			if haveSig {
				return authorization{}, fmt.Errorf("%w: Signature given twice", ErrMalformed)
			}
			haveSig = true
			a.signature, err = parseSignature(val)
		default:
			return authorization{}, fmt.Errorf("%w: unknown Authorization component %q", ErrMalformed, k)
		}
		if err != nil {
			return authorization{}, err
		}
	}
	switch {
	case !haveCred:
		return authorization{}, fmt.Errorf("%w: Authorization without Credential", ErrMalformed)
	case !haveSigned:
		return authorization{}, fmt.Errorf("%w: Authorization without SignedHeaders", ErrMalformed)
	case !haveSig:
		return authorization{}, fmt.Errorf("%w: Authorization without Signature", ErrMalformed)
	}
	return a, nil
}

// parseSignature checks a signature is 64 lower-case hex digits.
func parseSignature(s string) (string, error) {
	if !isHexSHA256(s) {
		return "", fmt.Errorf("%w: signature %q is not 64 lower-case hex digits", ErrMalformed, s)
	}
	return s, nil
}

// isHexSHA256 reports whether s is 64 lower-case hex digits.
func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// verifyHeader verifies a request signed in its Authorization header.
func (v *Verifier) verifyHeader(r *http.Request, q query, h string) (*Auth, error) {
	a, err := parseAuthorization(h)
	if err != nil {
		return nil, err
	}
	key, err := v.keyFor(a.scope)
	if err != nil {
		return nil, err
	}
	t, dateHeader, iso, err := requestDate(r)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(a.signed, dateHeader) {
		return nil, fmt.Errorf("%w: %s is not a signed header", ErrMalformed, dateHeader)
	}
	if iso[:8] != a.scope.date {
		return nil, fmt.Errorf("%w: credential date %s is not the request's date %s", ErrMalformed, a.scope.date, iso[:8])
	}
	if err := checkSkew(t, v.now(), v.maxSkew()); err != nil {
		return nil, err
	}
	payload, err := payloadHash(r)
	if err != nil {
		return nil, err
	}
	if name := unsignedAmzHeader(r, a.signed); name != "" {
		return nil, fmt.Errorf("%w: header %s is present but not signed", ErrSignature, name)
	}
	signingKey := v.cache().get(key.SecretKey, a.scope)
	if !matchesAnyPath(r, canonicalQuery(q, ""), a.signed, payload, iso, a.scope, signingKey, a.signature) {
		return nil, fmt.Errorf("%w: access key %q", ErrSignature, a.scope.accessKey)
	}
	auth := &Auth{Key: key, ContentSHA256: payload}
	switch payload {
	case StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedTrailer:
		s := stream{
			signed:     payload != StreamingUnsignedTrailer,
			trailer:    payload != StreamingPayload,
			key:        signingKey,
			scope:      a.scope.String(),
			date:       iso,
			seed:       a.signature,
			maxChunk:   v.maxChunk(),
			trailerSig: payload == StreamingPayloadTrailer,
		}
		auth.Body, auth.DecodedLength, err = chunkedBody(r, s)
	default:
		auth.Body, auth.DecodedLength, err = plainBody(r, payload)
	}
	if err != nil {
		return nil, err
	}
	return auth, nil
}

// matchesAnyPath reports whether sig signs r under one of its candidate
// canonical paths.
func matchesAnyPath(r *http.Request, cq string, signed []string, payload, iso string, s scope, key []byte, sig string) bool {
	var crBuf [1024]byte
	var stsBuf [256]byte
	for _, p := range canonicalPaths(r.URL) {
		cr := appendCanonicalRequest(crBuf[:0], r, p, cq, signed, payload)
		if signatureMatches(key, appendStringToSign(stsBuf[:0], iso, s, cr), sig) {
			return true
		}
	}
	return false
}

// payloadHash is the x-amz-content-sha256 a header-signed request names.
// Without one, only a request without a body can be verified (its hash
// is that of nothing).
func payloadHash(r *http.Request) (string, error) {
	p := strings.TrimSpace(r.Header.Get("X-Amz-Content-Sha256"))
	switch {
	case p == "":
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			return emptySHA256, nil
		}
		return "", fmt.Errorf("%w: missing required header x-amz-content-sha256", ErrMalformed)
	case p == UnsignedPayload, p == StreamingPayload, p == StreamingPayloadTrailer, p == StreamingUnsignedTrailer:
		return p, nil
	case strings.HasPrefix(p, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"):
		return "", fmt.Errorf("%w: SigV4A payload %s", ErrUnsupported, p)
	case isHexSHA256(strings.ToLower(p)):
		return p, nil
	}
	return "", fmt.Errorf("%w: x-amz-content-sha256 %q", ErrMalformed, p)
}
