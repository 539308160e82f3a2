package node

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"strata/blockstore"
)

// writePutAnswer answers a stored PUT: 201 with ETag, Last-Modified and
// the blob's JSON (blobJSON, the same bytes encoding/json writes, newline
// included). It is built with appends into one buffer and the headers set
// under their canonical names, because every acknowledged PUT pays for it:
// reflection, fmt and header canonicalisation were a tenth of a small
// PUT's CPU.
func writePutAnswer(w http.ResponseWriter, info blockstore.Info) {
	var scratch [256]byte
	b := appendBlobJSON(scratch[:0], info)
	b = append(b, '\n')
	// The header values share one string and one slice array: two
	// allocations instead of seven.
	var vb [96]byte
	v := appendETag(vb[:0], info.Version)
	etagEnd := len(v)
	if !info.ModTime.IsZero() {
		v = appendHTTPDate(v, info.ModTime)
	}
	modEnd := len(v)
	v = strconv.AppendInt(v, int64(len(b)), 10)
	vs := string(v)
	vals := [5]string{vs[:etagEnd], vs[etagEnd:modEnd], "application/json", vs[modEnd:], "no-store"}
	h := w.Header()
	h["Etag"] = vals[0:1:1]
	if modEnd > etagEnd {
		h["Last-Modified"] = vals[1:2:2]
	}
	h["Content-Type"] = vals[2:3:3]
	h["Content-Length"] = vals[3:4:4]
	h["Cache-Control"] = vals[4:5:5]
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(b)
}

// appendBlobJSON appends blobJSONOf(info) as encoding/json marshals it.
func appendBlobJSON(b []byte, info blockstore.Info) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, info.Key)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, info.Size, 10)
	b = append(b, `,"etag":"\"`...)
	b = appendHex16(b, info.Version)
	b = append(b, `\"","last_modified":"`...)
	b = info.ModTime.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// appendETag appends blockstore.Info.ETag's form of version: the 16 hex
// digits in double quotes.
func appendETag(b []byte, version uint64) []byte {
	b = append(b, '"')
	b = appendHex16(b, version)
	return append(b, '"')
}

func appendHex16(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[v>>uint(shift)&0xf])
	}
	return b
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it: HTML-safe (<, > and & escaped), control characters escaped,
// invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const digits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', digits[c>>4], digits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', digits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
