package node

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// maxRanges caps the range-specs of one Range header. RFC 9110 section
// 14.2 lets a server reject "many small ranges" and overlapping sets as
// a likely denial of service, and section 15.5.17 names 416 as the answer;
// a header with more than this many specs (before coalescing) gets it.
const maxRanges = 16

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

// byteRange is the inclusive span [first, last] of a blob.
type byteRange struct{ first, last int64 }

// parseByteRanges reads the range-set of a "bytes=" Range header (the part
// after "=") against a blob of size bytes, per RFC 9110 section 14.1:
//
//   - "a-b" is [a, min(b, size-1)]; b < a is malformed;
//   - "a-" is [a, size-1];
//   - "-n" is the last n bytes, the whole blob when n >= size;
//   - a first position at or past the end, "-0", and any suffix of an
//     empty blob are unsatisfiable, and are dropped;
//   - numbers too large for int64 count as "past any end", so they clip
//     a last position and make a first position unsatisfiable.
//
// The satisfiable ranges come back sorted, with overlapping and adjacent
// ones coalesced (section 15.3.7.2 allows it, whatever their order). The
// error wraps errRangeNotSatisfiable when the set is malformed, holds more
// than maxRanges specs, or has no satisfiable range.
func parseByteRanges(set string, size int64) ([]byteRange, error) {
	var ranges []byteRange
	specs := 0
	for elem := range strings.SplitSeq(set, ",") {
		elem = strings.Trim(elem, " \t")
		if elem == "" {
			continue // list syntax allows empty elements (RFC 9110 section 5.6.1)
		}
		if specs++; specs > maxRanges {
			return nil, fmt.Errorf("%w: more than %d ranges", errRangeNotSatisfiable, maxRanges)
		}
		firstText, lastText, ok := strings.Cut(elem, "-")
		if !ok {
			return nil, fmt.Errorf("%w: range %q has no '-'", errRangeNotSatisfiable, elem)
		}
		var r byteRange
		switch {
		case firstText == "":
			n, ok := parseRangeNumber(lastText)
			if !ok {
				return nil, fmt.Errorf("%w: bad suffix length in %q", errRangeNotSatisfiable, elem)
			}
			if n == 0 || size == 0 {
				continue // unsatisfiable
			}
			r = byteRange{first: size - min(n, size), last: size - 1}
		default:
			first, ok := parseRangeNumber(firstText)
			if !ok {
				return nil, fmt.Errorf("%w: bad first position in %q", errRangeNotSatisfiable, elem)
			}
			last := int64(math.MaxInt64)
			if lastText != "" {
				if last, ok = parseRangeNumber(lastText); !ok || last < first {
					return nil, fmt.Errorf("%w: bad last position in %q", errRangeNotSatisfiable, elem)
				}
			}
			if first >= size {
				continue // unsatisfiable
			}
			r = byteRange{first: first, last: min(last, size-1)}
		}
		ranges = append(ranges, r)
	}
	if specs == 0 {
		return nil, fmt.Errorf("%w: empty range set", errRangeNotSatisfiable)
	}
	if len(ranges) == 0 {
		return nil, fmt.Errorf("%w: no range overlaps the %d-byte blob", errRangeNotSatisfiable, size)
	}
	return coalesceRanges(ranges), nil
}

// parseRangeNumber reads 1*DIGIT; a value past int64 saturates at MaxInt64
// (it is past the end of any blob either way).
func parseRangeNumber(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return math.MaxInt64, true // only digits, so the error is range
	}
	return n, true
}

// coalesceRanges sorts ranges and merges those that overlap or touch.
func coalesceRanges(ranges []byteRange) []byteRange {
	slices.SortFunc(ranges, func(a, b byteRange) int {
		return cmp.Or(cmp.Compare(a.first, b.first), cmp.Compare(a.last, b.last))
	})
	out := ranges[:1]
	for _, r := range ranges[1:] {
		cur := &out[len(out)-1]
		if r.first <= cur.last+1 { // cur.last < size <= MaxInt64, so no overflow
			cur.last = max(cur.last, r.last)
			continue
		}
		out = append(out, r)
	}
	return out
}

// formatByteRanges writes ranges back as a Range header value.
func formatByteRanges(ranges []byteRange) string {
	var b strings.Builder
	b.WriteString("bytes=")
	for i, r := range ranges {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(r.first, 10))
		b.WriteByte('-')
		b.WriteString(strconv.FormatInt(r.last, 10))
	}
	return b.String()
}

// refusedRange is a Range value http.ServeContent answers with 416 for any
// size. (An unsatisfiable but well-formed one would not do: on an empty
// file ServeContent ignores it and answers 200.)
const refusedRange = "bytes=-"

// rangeForServeContent rewrites the Range fields of a GET on a blob of size
// bytes into what http.ServeContent should see, which then still applies
// the preconditions and If-Range before the range (RFC 9110 section 13.2.2):
// "" (drop the header, serve the whole blob) for no Range, several Range
// fields or a unit other than bytes; the parsed, coalesced ranges in
// canonical form; or, for a set to refuse (malformed, too many ranges,
// none satisfiable, which ServeContent gets wrong for "-0" and for empty
// blobs), refusedRange; the caller adds "Content-Range: bytes */size".
func rangeForServeContent(values []string, size int64) string {
	if len(values) != 1 {
		return ""
	}
	h, ok := normalizeRange(values[0])
	if !ok {
		return ""
	}
	ranges, err := parseByteRanges(strings.TrimPrefix(h, "bytes="), size)
	if err != nil {
		return refusedRange
	}
	return formatByteRanges(ranges)
}
