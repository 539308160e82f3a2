package node

import "strings"

// normalizeRange prepares a Range header for http.ServeContent, which
// parses it. RFC 9110 section 14.2: a server must ignore a Range whose unit
// it does not understand, and units are case-insensitive; ServeContent
// instead answers 416 to anything not starting with exactly "bytes=". So:
// a "bytes" range in any case is rewritten to start "bytes=", and anything
// else (another unit, no unit at all) is dropped (ok false): the whole
// blob is served.
func normalizeRange(h string) (string, bool) {
	unit, spec, found := strings.Cut(h, "=")
	if !found || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return "", false
	}
	return "bytes=" + spec, true
}
