package node

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// etagList is a parsed If-Match or If-None-Match header (RFC 9110 section 13.1).
type etagList struct {
	present bool     // the header was sent
	any     bool     // "*"
	tags    []string // entity-tags as sent, quotes and any W/ prefix included
}

// parseETagList parses the values of one conditional header: "*" or a
// comma-separated list of entity-tags (W/"x" or "x"), with optional
// whitespace and empty list elements. Anything else wraps errBadRequest.
func parseETagList(values []string) (etagList, error) {
	var l etagList
	if len(values) == 0 {
		return l, nil
	}
	l.present = true
	s := strings.Join(values, ",")
	if strings.TrimSpace(s) == "*" {
		l.any = true
		return l, nil
	}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		tag, rest, err := scanETag(s)
		if err != nil {
			return etagList{}, err
		}
		l.tags = append(l.tags, tag)
		s = strings.TrimLeft(rest, " \t")
		if s != "" && s[0] != ',' {
			return etagList{}, fmt.Errorf("%w: entity-tags must be separated by commas", errBadRequest)
		}
	}
	if len(l.tags) == 0 {
		return etagList{}, fmt.Errorf("%w: empty entity-tag list", errBadRequest)
	}
	return l, nil
}

// scanETag reads one entity-tag from the start of s.
func scanETag(s string) (tag, rest string, err error) {
	start := s
	if strings.HasPrefix(s, "W/") {
		s = s[2:]
	}
	if len(s) < 2 || s[0] != '"' {
		return "", "", fmt.Errorf("%w: entity-tag must be quoted", errBadRequest)
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			n := len(start) - len(s) + i + 1
			return start[:n], start[n:], nil
		case c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80:
		default:
			return "", "", fmt.Errorf("%w: bad character in entity-tag", errBadRequest)
		}
	}
	return "", "", fmt.Errorf("%w: unterminated entity-tag", errBadRequest)
}

// matchesStrong reports whether current (a strong tag) strongly matches a listed tag.
func (l etagList) matchesStrong(current string) bool {
	for _, t := range l.tags {
		if t == current && !strings.HasPrefix(t, "W/") {
			return true
		}
	}
	return false
}

// matchesWeak reports whether current weakly matches a listed tag.
func (l etagList) matchesWeak(current string) bool {
	cur := strings.TrimPrefix(current, "W/")
	for _, t := range l.tags {
		if strings.TrimPrefix(t, "W/") == cur {
			return true
		}
	}
	return false
}

// writePreconditions holds a write request's If-Match, If-None-Match and
// If-Unmodified-Since.
type writePreconditions struct {
	ifMatch, ifNoneMatch etagList
	// ifUnmodifiedSince is zero when absent, invalid, or overridden by
	// If-Match (RFC 9110 section 13.1.4: all three are then ignored).
	ifUnmodifiedSince time.Time
}

func parseWritePreconditions(h http.Header) (writePreconditions, error) {
	var p writePreconditions
	var err error
	if p.ifMatch, err = parseETagList(h.Values("If-Match")); err != nil {
		return p, err
	}
	if p.ifNoneMatch, err = parseETagList(h.Values("If-None-Match")); err != nil {
		return p, err
	}
	p.ifUnmodifiedSince = parseIfUnmodifiedSince(h.Values("If-Unmodified-Since"), p.ifMatch.present)
	return p, nil
}

// parseIfUnmodifiedSince returns the date of an If-Unmodified-Since header,
// or zero when it must be ignored (RFC 9110 section 13.1.4): If-Match is
// present, or the value is not one valid HTTP-date (a list of dates, or
// several fields, is not).
func parseIfUnmodifiedSince(values []string, ifMatch bool) time.Time {
	if ifMatch || len(values) != 1 {
		return time.Time{}
	}
	t, err := http.ParseTime(strings.TrimSpace(values[0]))
	if err != nil {
		return time.Time{}
	}
	return t
}

// conditional reports whether the request needs the current state checked.
func (p writePreconditions) conditional() bool {
	return p.ifMatch.present || p.ifNoneMatch.present || !p.ifUnmodifiedSince.IsZero()
}

// check evaluates the preconditions against the current blob (exists false
// when there is none, etag "" and modTime zero then), in the order of RFC
// 9110 section 13.2.2. It returns errPrecondition when they fail.
func (p writePreconditions) check(exists bool, etag string, modTime time.Time) error {
	if p.ifMatch.present {
		if !exists || (!p.ifMatch.any && !p.ifMatch.matchesStrong(etag)) {
			return fmt.Errorf("%w: If-Match", errPrecondition)
		}
	}
	// HTTP dates have whole seconds: compare at that precision, so the
	// Last-Modified a client was given passes. A missing blob has no
	// modification date, so the condition does not apply to it.
	if !p.ifUnmodifiedSince.IsZero() && exists && modTime.Truncate(time.Second).After(p.ifUnmodifiedSince) {
		return fmt.Errorf("%w: If-Unmodified-Since", errPrecondition)
	}
	if p.ifNoneMatch.present && exists {
		if p.ifNoneMatch.any || p.ifNoneMatch.matchesWeak(etag) {
			return fmt.Errorf("%w: If-None-Match", errPrecondition)
		}
	}
	return nil
}
