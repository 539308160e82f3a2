package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxQueryParams bounds how many query parameters a request may carry.
const maxQueryParams = 1000

// param is one decoded query parameter.
type param struct{ name, value string }

// query is a request's query parameters in their order on the wire.
type query []param

// parseQuery decodes a raw query string the way net/url does for the
// handler ('+' is a space), so what is verified is what the handler reads.
func parseQuery(raw string) (query, error) {
	if raw == "" {
		return nil, nil
	}
	var q query
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		if len(q) == maxQueryParams {
			return nil, fmt.Errorf("%w: more than %d query parameters", ErrMalformed, maxQueryParams)
		}
		name, value, _ := strings.Cut(part, "=")
		n, err := url.QueryUnescape(name)
		if err != nil {
			return nil, fmt.Errorf("%w: query parameter name %q: %v", ErrMalformed, name, err)
		}
		val, err := url.QueryUnescape(value)
		if err != nil {
			return nil, fmt.Errorf("%w: query parameter %q: %v", ErrMalformed, n, err)
		}
		q = append(q, param{n, val})
	}
	return q, nil
}

func (q query) has(name string) bool {
	for _, p := range q {
		if p.name == name {
			return true
		}
	}
	return false
}

// get returns the only value of name; a parameter given twice is an error.
func (q query) get(name string) (string, bool, error) {
	var v string
	found := false
	for _, p := range q {
		if p.name == name {
			if found {
				return "", false, fmt.Errorf("%w: query parameter %s given twice", ErrMalformed, name)
			}
			v, found = p.value, true
		}
	}
	return v, found, nil
}

// canonicalQuery is the canonical query string: names and values
// URI-encoded, sorted by name then value, without skip (the presigned
// signature itself).
func canonicalQuery(q query, skip string) string {
	enc := make([]param, 0, len(q))
	for _, p := range q {
		if p.name == skip {
			continue
		}
		enc = append(enc, param{URIEncode(p.name, true), URIEncode(p.value, true)})
	}
	slices.SortFunc(enc, func(a, b param) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// URIEncode is AWS's UriEncode: every byte but A-Z a-z 0-9 - _ . ~ as
// %XX (upper-case hex); '/' kept as is unless encodeSlash.
func URIEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// canonicalPaths are the canonical URIs to try, best first: the decoded
// path encoded by S3's rules (never double-encoded), then the path as the
// client escaped it on the wire when that differs.
func canonicalPaths(u *url.URL) []string {
	p := URIEncode(u.Path, false)
	if p == "" {
		p = "/"
	}
	wire := u.EscapedPath()
	if wire == "" {
		wire = "/"
	}
	if wire == p {
		return []string{p}
	}
	return []string{p, wire}
}

// parseSignedHeaders checks a SignedHeaders list: lower-case names
// separated by ';', no duplicates, host among them.
func parseSignedHeaders(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty SignedHeaders", ErrMalformed)
	}
	names := strings.Split(s, ";")
	if len(names) > 200 {
		return nil, fmt.Errorf("%w: too many signed headers", ErrMalformed)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" || n != strings.ToLower(n) || !validHeaderName(n) {
			return nil, fmt.Errorf("%w: signed header name %q", ErrMalformed, n)
		}
		if seen[n] {
			return nil, fmt.Errorf("%w: signed header %q listed twice", ErrMalformed, n)
		}
		seen[n] = true
	}
	if !seen["host"] {
		return nil, fmt.Errorf("%w: host is not a signed header", ErrMalformed)
	}
	return names, nil
}

func validHeaderName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || c == ':' || c == ';' || c == ',' {
			return false
		}
	}
	return true
}

// appendHeaderValue appends the canonical value of one signed header to
// b: its values trimmed, inner runs of spaces collapsed, joined by ','.
func appendHeaderValue(b []byte, r *http.Request, name string) []byte {
	if name == "host" {
		return append(b, trimAll(r.Host)...)
	}
	var keyBuf [64]byte
	vals := r.Header[string(appendCanonicalHeaderKey(keyBuf[:0], name))]
	if len(vals) == 0 {
		switch name {
		case "content-length":
			if r.ContentLength >= 0 {
				return strconv.AppendInt(b, r.ContentLength, 10)
			}
		case "transfer-encoding":
			return append(b, strings.Join(r.TransferEncoding, ",")...)
		}
		return b
	}
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, trimAll(v)...)
	}
	return b
}

// appendCanonicalHeaderKey appends textproto.CanonicalMIMEHeaderKey(name)
// to b without building a string (every signed header name is lower case,
// so that function allocates for each): a name with a byte outside
// RFC 7230's token is kept as is, as there.
func appendCanonicalHeaderKey(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return append(b, name...)
		}
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
		upper = c == '-'
	}
	return b
}

// isTokenByte reports whether c may appear in an RFC 7230 token.
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// trimAll trims s and collapses each inner run of spaces and tabs to one
// space.
func trimAll(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") && !strings.ContainsAny(s, "\t") {
		return s
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// unsignedAmzHeader names an x-amz-* header present in r but not signed,
// or "" when there is none. except lists names allowed unsigned.
func unsignedAmzHeader(r *http.Request, signed []string, except ...string) string {
	for name := range r.Header {
		if !hasPrefixFold(name, "x-amz-") || containsFold(signed, name) || containsFold(except, name) {
			continue
		}
		return strings.ToLower(name)
	}
	return ""
}

// hasPrefixFold reports whether s begins with prefix (lower case), in any
// case, without a lower-case copy of s.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// containsFold reports whether names (lower case) holds name in any case.
func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// appendCanonicalRequest appends the canonical request of r to b.
func appendCanonicalRequest(b []byte, r *http.Request, path, query string, signed []string, payloadHash string) []byte {
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = append(b, path...)
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	for _, h := range signed {
		b = append(b, h...)
		b = append(b, ':')
		b = appendHeaderValue(b, r, h)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	for i, h := range signed {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, h...)
	}
	b = append(b, '\n')
	return append(b, payloadHash...)
}

// appendStringToSign appends the string to sign of a canonical request to b.
func appendStringToSign(b []byte, amzDate string, s scope, canonical []byte) []byte {
	sum := sha256.Sum256(canonical)
	b = append(b, algorithm+"\n"...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = s.appendTo(b)
	b = append(b, '\n')
	return hex.AppendEncode(b, sum[:])
}
