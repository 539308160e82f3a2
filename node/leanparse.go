package node

import "bytes"

// leanRequest is a request head the lean path may answer itself: a GET or
// HEAD of a blob over HTTP/1.1 with no body and only headers that cannot
// change the answer net/http would give (parseLeanHead).
type leanRequest struct {
	head   bool   // HEAD; else GET
	target []byte // the escaped path, "/blobs/..."; no query
	host   []byte // the one Host header's value
	auth   []byte // the Authorization header's value, trimmed; nil: none
	close  bool   // Connection: close

	// PUT only (leanput.go): a request with a Content-Length body.
	put           bool
	contentLength int64  // -1: no Content-Length
	contentType   []byte // the one Content-Type's value, trimmed; nil: none
}

// method is the request's method name.
func (r *leanRequest) method() string {
	switch {
	case r.put:
		return "PUT"
	case r.head:
		return "HEAD"
	}
	return "GET"
}

// leanHeadEnd returns the length of the request head at the start of buf,
// up to and including the blank line ending it; 0 when buf holds no
// complete head yet, -1 when buf is not a head the lean path reads (a bare
// LF line ending, or an empty line first): net/http reads those.
func leanHeadEnd(buf []byte) int {
	if len(buf) >= 1 && (buf[0] == '\r' || buf[0] == '\n') {
		return -1
	}
	from := 0
	for {
		i := bytes.IndexByte(buf[from:], '\n')
		if i < 0 {
			return 0
		}
		i += from
		if i == 0 || buf[i-1] != '\r' {
			return -1
		}
		// buf[i-1:i+1] is a CRLF; a head ends with CRLF CRLF.
		if i >= 3 && buf[i-3] == '\r' && buf[i-2] == '\n' {
			return i + 1
		}
		from = i + 1
	}
}

// parseLeanHead parses a complete request head (leanHeadEnd's bytes). It
// reports false for anything the lean path leaves to net/http: another
// method or version, a target outside /blobs/ or with a query or a byte
// net/http would escape or refuse, a missing or repeated Host, a repeated
// Authorization, a Connection other than close or keep-alive, a header
// outside leanHeaders (Range, the If-* conditions, Content-Length,
// Transfer-Encoding, Expect, Upgrade, X-Strata-Consistency among them),
// and any malformed line (net/http then answers 400). The request's
// slices point into head.
func parseLeanHead(head []byte) (leanRequest, bool) {
	req := leanRequest{contentLength: -1}
	line, rest, ok := cutLine(head)
	if !ok {
		return req, false
	}
	switch {
	case bytes.HasPrefix(line, []byte("GET ")):
		line = line[len("GET "):]
	case bytes.HasPrefix(line, []byte("HEAD ")):
		req.head = true
		line = line[len("HEAD "):]
	case bytes.HasPrefix(line, []byte("PUT ")):
		req.put = true
		line = line[len("PUT "):]
	default:
		return req, false
	}
	target, version, ok := bytes.Cut(line, []byte(" "))
	if !ok || string(version) != "HTTP/1.1" || !leanTarget(target) {
		return req, false
	}
	req.target = target
	hosts, auths, lengths, types := 0, 0, 0, 0
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return req, false
		}
		if len(line) == 0 {
			break // the blank line: end of head
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || !isToken(name) || !validFieldValue(value) {
			return req, false
		}
		value = trimOWS(value)
		switch leanHeader(name) {
		case leanHdrHost:
			hosts++
			if len(value) == 0 || !leanHost(value) {
				return req, false
			}
			req.host = value
		case leanHdrAuthorization:
			auths++
			req.auth = value
		case leanHdrConnection:
			switch {
			case asciiEqualFold(value, "close"):
				req.close = true
			case asciiEqualFold(value, "keep-alive"):
			default:
				return req, false
			}
		case leanHdrContentLength:
			lengths++
			n, ok := leanContentLength(value)
			if !req.put || !ok {
				return req, false
			}
			req.contentLength = n
		case leanHdrContentType:
			types++
			if !req.put {
				return req, false
			}
			req.contentType = value
		case leanHdrHarmless:
		default:
			return req, false
		}
	}
	if hosts != 1 || auths > 1 || lengths > 1 || types > 1 || len(rest) != 0 {
		return req, false
	}
	if req.put && req.contentLength < 0 {
		return req, false
	}
	return req, true
}

// The request headers parseLeanHead knows.
const (
	leanHdrUnknown = iota
	leanHdrHost
	leanHdrAuthorization
	leanHdrConnection
	leanHdrContentLength // PUT only
	leanHdrContentType   // PUT only
	leanHdrHarmless      // read by neither net/http nor the GET handler
)

// leanHeaders are the headers of a lean request besides Host,
// Authorization and Connection: none of them changes the answer.
var leanHeaders = [...]string{"User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "Pragma", "Referer", "X-Request-Id"}

// leanHeader classifies a header name (case-insensitive).
func leanHeader(name []byte) int {
	switch {
	case asciiEqualFold(name, "Host"):
		return leanHdrHost
	case asciiEqualFold(name, "Authorization"):
		return leanHdrAuthorization
	case asciiEqualFold(name, "Connection"):
		return leanHdrConnection
	case asciiEqualFold(name, "Content-Length"):
		return leanHdrContentLength
	case asciiEqualFold(name, "Content-Type"):
		return leanHdrContentType
	}
	for _, h := range leanHeaders {
		if asciiEqualFold(name, h) {
			return leanHdrHarmless
		}
	}
	return leanHdrUnknown
}

// leanContentLength parses a Content-Length value of 1 to 18 decimal
// digits (net/http reads others, and answers 400 for the bad ones).
func leanContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// cutLine splits b at its first CRLF.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return nil, nil, false
	}
	return b[:i], b[i+2:], true
}

// leanTarget reports whether t is a blob path net/http takes as it is:
// "/blobs/" and a non-empty rest of bytes url.URL.EscapedPath keeps
// unchanged (unreserved, the sub-delimiters, ':', '@', '/', and '%'
// followed by two hex digits). No query, no fragment.
func leanTarget(t []byte) bool {
	if !bytes.HasPrefix(t, []byte(blobsPrefix)) || len(t) == len(blobsPrefix) {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '/':
		case c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' ||
			c == '*' || c == '+' || c == ',' || c == ';' || c == '=' || c == ':' || c == '@':
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

// leanHost reports whether h is a Host value of plain name, address and
// port characters (net/http accepts more; those go to it).
func leanHost(h []byte) bool {
	for _, c := range h {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == ':' || c == '[' || c == ']' || c == '_':
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isToken reports whether b is an RFC 9110 token (a header name).
func isToken(b []byte) bool {
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}

// validFieldValue reports whether v holds no control byte but HTAB (what
// net/http accepts in a header value).
func validFieldValue(v []byte) bool {
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// trimOWS drops leading and trailing spaces and tabs.
func trimOWS(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// asciiEqualFold compares b and s ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
