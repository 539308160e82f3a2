package node

import (
	"net/http"
	"strconv"
	"time"

	"strata/blockstore"
)

// The headers of a blob answer, assigned under their canonical keys (the
// form http.Header.Set would store them in) without canonicalizing again.
const (
	hdrETag        = "Etag"
	hdrContentType = "Content-Type"
	hdrNoSniff     = "X-Content-Type-Options"
	hdrAcceptRange = "Accept-Ranges"
	hdrLastMod     = "Last-Modified"
	hdrLength      = "Content-Length"
)

// headerValues backs the header values of one blob answer: one allocation
// instead of one per header. Each header gets a one-element slice of it
// with its capacity cut to one, so an Add to that header reallocates
// rather than writing into the next one's value.
type headerValues [6]string

const (
	valETag = iota
	valContentType
	valNoSniff
	valAcceptRanges
	valLastModified
	valLength
)

func (v *headerValues) set(h http.Header, key string, i int, value string) {
	v[i] = value
	h[key] = v[i : i+1 : i+1]
}

// setBlobHeaders sets what every GET and HEAD answer of the blob carries:
// ETag, Content-Type (always: otherwise ServeContent would read 512 bytes
// to sniff one), nosniff, Accept-Ranges and the stored representation
// headers.
func setBlobHeaders(h http.Header, v *headerValues, info blockstore.Info) {
	v.set(h, hdrETag, valETag, info.ETag())
	contentType := info.ContentType
	if contentType == "" {
		contentType = defaultContentType
	}
	v.set(h, hdrContentType, valContentType, contentType)
	v.set(h, hdrNoSniff, valNoSniff, "nosniff")
	v.set(h, hdrAcceptRange, valAcceptRanges, "bytes")
	setStoredHeaders(h, info.Meta)
}

// plainGet reports whether r is a GET that http.ServeContent would answer
// with the whole blob and nothing to decide: no Range (as left after
// rangeForServeContent), no precondition (If-Range matters only with a
// Range), and no stored Content-Encoding (with one, ServeContent leaves
// Content-Length out; that answer stays its own). The request's header
// keys are canonical (the server parsed them; ServeContent looks them up
// the same way).
func plainGet(r *http.Request, resp http.Header) bool {
	if r.Method != http.MethodGet {
		return false
	}
	q := r.Header
	if len(q["Range"]) > 0 || len(q["If-Match"]) > 0 || len(q["If-None-Match"]) > 0 ||
		len(q["If-Modified-Since"]) > 0 || len(q["If-Unmodified-Since"]) > 0 {
		return false
	}
	return len(resp["Content-Encoding"]) == 0
}

// setPlainGetHeaders adds what ServeContent would to a plain GET's answer:
// Last-Modified (unless the time is zero or the Unix epoch, as
// ServeContent does) and Content-Length.
func setPlainGetHeaders(h http.Header, v *headerValues, info blockstore.Info) {
	if t := info.ModTime; !t.IsZero() && !t.Equal(time.Unix(0, 0)) {
		var buf [len(http.TimeFormat) + 4]byte
		v.set(h, hdrLastMod, valLastModified, string(appendHTTPDate(buf[:0], t)))
	}
	v.set(h, hdrLength, valLength, strconv.FormatInt(info.Size, 10))
}
