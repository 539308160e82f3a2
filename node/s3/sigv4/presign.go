package sigv4

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// presignedQuery is the parsed authentication of a presigned URL.
type presignedQuery struct {
	scope     scope
	date      time.Time
	iso       string
	expires   time.Duration
	signed    []string
	signature string
	payload   string
	// explicitPayload: the query named the payload (X-Amz-Content-Sha256).
	explicitPayload bool
}

// parsePresigned reads the X-Amz-* authentication parameters of q.
func parsePresigned(q query) (presignedQuery, error) {
	var p presignedQuery
	get := func(name string) (string, error) {
		v, ok, err := q.get(name)
		if err != nil {
			return "", err
		}
		if !ok || v == "" {
			return "", fmt.Errorf("%w: presigned URL without %s", ErrMalformed, name)
		}
		return v, nil
	}
	alg, err := get("X-Amz-Algorithm")
	if err != nil {
		return p, err
	}
	switch alg {
	case algorithm:
	case "AWS4-ECDSA-P256-SHA256":
		return p, fmt.Errorf("%w: SigV4A presigned URL", ErrUnsupported)
	default:
		return p, fmt.Errorf("%w: X-Amz-Algorithm %q", ErrMalformed, alg)
	}
	cred, err := get("X-Amz-Credential")
	if err != nil {
		return p, err
	}
	if p.scope, err = parseCredential(cred); err != nil {
		return p, err
	}
	if p.iso, err = get("X-Amz-Date"); err != nil {
		return p, err
	}
	if p.date, err = parseAmzDate(p.iso); err != nil {
		return p, err
	}
	if p.iso[:8] != p.scope.date {
		return p, fmt.Errorf("%w: credential date %s is not X-Amz-Date's %s", ErrMalformed, p.scope.date, p.iso[:8])
	}
	exp, err := get("X-Amz-Expires")
	if err != nil {
		return p, err
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || secs < 1 || secs > int64(MaxPresignExpires/time.Second) {
		return p, fmt.Errorf("%w: X-Amz-Expires %q must be 1 to %d seconds", ErrMalformed, exp, int64(MaxPresignExpires/time.Second))
	}
	p.expires = time.Duration(secs) * time.Second
	sh, err := get("X-Amz-SignedHeaders")
	if err != nil {
		return p, err
	}
	if p.signed, err = parseSignedHeaders(sh); err != nil {
		return p, err
	}
	sig, err := get("X-Amz-Signature")
	if err != nil {
		return p, err
	}
	if p.signature, err = parseSignature(sig); err != nil {
		return p, err
	}
	p.payload = UnsignedPayload
	if v, ok, err := q.get("X-Amz-Content-Sha256"); err != nil {
		return p, err
	} else if ok {
		switch {
		case v == UnsignedPayload, isHexSHA256(strings.ToLower(v)):
			p.payload, p.explicitPayload = v, true
		default:
			return p, fmt.Errorf("%w: presigned X-Amz-Content-Sha256 %q", ErrMalformed, v)
		}
	}
	return p, nil
}

// verifyPresigned verifies a request signed in its query (a presigned URL).
func (v *Verifier) verifyPresigned(r *http.Request, q query) (*Auth, error) {
	p, err := parsePresigned(q)
	if err != nil {
		return nil, err
	}
	key, err := v.keyFor(p.scope)
	if err != nil {
		return nil, err
	}
	now := v.now()
	if p.date.Sub(now) > v.maxSkew() {
		return nil, fmt.Errorf("%w: presigned URL dated %s, server time %s", ErrSkew, p.iso, now.UTC().Format(amzDateFormat))
	}
	if now.After(p.date.Add(p.expires)) {
		return nil, fmt.Errorf("%w: presigned URL expired at %s", ErrExpired, p.date.Add(p.expires).UTC().Format(time.RFC3339))
	}
	if name := unsignedAmzHeader(r, p.signed, "x-amz-content-sha256"); name != "" {
		return nil, fmt.Errorf("%w: header %s is present but not signed", ErrSignature, name)
	}
	signingKey := v.cache().get(key.SecretKey, p.scope)
	cq := canonicalQuery(q, "X-Amz-Signature")
	switch {
	case matchesAnyPath(r, cq, p.signed, p.payload, p.iso, p.scope, signingKey, p.signature):
	case !p.explicitPayload && matchesAnyPath(r, cq, p.signed, emptySHA256, p.iso, p.scope, signingKey, p.signature):
		// Some presigners sign the hash of an empty body instead of
		// UNSIGNED-PAYLOAD; the body is then held to being empty.
		p.payload = emptySHA256
	default:
		return nil, fmt.Errorf("%w: access key %q (presigned)", ErrSignature, p.scope.accessKey)
	}
	payload := p.payload
	if h := strings.TrimSpace(r.Header.Get("X-Amz-Content-Sha256")); payload == UnsignedPayload && isHexSHA256(strings.ToLower(h)) {
		payload = h // the client named the body's hash: hold it to it
	}
	body, length, err := plainBody(r, payload, q...)
	if err != nil {
		return nil, err
	}
	return &Auth{Key: key, Presigned: true, Body: body, DecodedLength: length, ContentSHA256: p.payload}, nil
}
