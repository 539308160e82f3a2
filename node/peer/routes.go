package peer

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"strata/blockstore"
)

// The internal routes, under node.InternalPrefix. Keys are path-escaped
// like /blobs/ keys and unescaped exactly once.
const (
	prefixV1      = "/internal/v1/"
	prefixBlobs   = prefixV1 + "blobs/"
	prefixMeta    = prefixV1 + "meta/"
	prefixCompose = prefixV1 + "compose/"
	pathDigest    = prefixV1 + "digest"
	pathEntries   = prefixV1 + "entries"
	routeBlobs    = "blobs"
	routeMeta     = "meta"
	routeDigest   = "digest"
	routeEntries  = "entries"
	routeCompose  = "compose"
)

// Bounds on what one request may ask for.
const (
	// MaxEntriesLimit caps limit on the entries route; the Client clamps
	// larger limits to it (callers page anyway).
	MaxEntriesLimit = 10000
)

// parseRoute splits an escaped path into its route and, for keyed routes,
// the key (validated).
func parseRoute(escaped string) (route, key string, err error) {
	switch {
	case escaped == pathDigest:
		return routeDigest, "", nil
	case escaped == pathEntries:
		return routeEntries, "", nil
	case strings.HasPrefix(escaped, prefixBlobs):
		key, err = keyFromEscaped(escaped[len(prefixBlobs):])
		return routeBlobs, key, err
	case strings.HasPrefix(escaped, prefixCompose):
		key, err = keyFromEscaped(escaped[len(prefixCompose):])
		return routeCompose, key, err
	case strings.HasPrefix(escaped, prefixMeta):
		key, err = keyFromEscaped(escaped[len(prefixMeta):])
		return routeMeta, key, err
	}
	return "", "", fmt.Errorf("%w: %q", ErrNoRoute, escaped)
}

func keyFromEscaped(rest string) (string, error) {
	key, err := url.PathUnescape(rest)
	if err != nil {
		return "", fmt.Errorf("%w: bad percent-encoding", blockstore.ErrInvalidKey)
	}
	if err := blockstore.ValidateKey(key); err != nil {
		return "", err
	}
	return key, nil
}

// keyURL is the path (raw and escaped) of a keyed route.
func keyURL(prefix, key string) (path, rawPath string) {
	return prefix + key, prefix + url.PathEscape(key)
}

// query is a strictly parsed query string: only the parameters a route
// names, each at most once; anything else is a bad request.
type query struct {
	v   url.Values
	err error
}

func parseQuery(raw string, allowed ...string) query {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return query{err: fmt.Errorf("%w: query: %w", ErrBadRequest, err)}
	}
	for name, vals := range v {
		if len(vals) != 1 {
			return query{err: fmt.Errorf("%w: parameter %q given %d times", ErrBadRequest, name, len(vals))}
		}
		found := false
		for _, a := range allowed {
			found = found || a == name
		}
		if !found {
			return query{err: fmt.Errorf("%w: unknown parameter %q", ErrBadRequest, name)}
		}
	}
	return query{v: v}
}

// version reads a version parameter; required ones must be present and
// above 0 (a replica write always carries the coordinator's version).
func (q *query) version(name string, required bool) uint64 {
	if q.err != nil {
		return 0
	}
	text, ok := q.v[name]
	if !ok {
		if required {
			q.err = fmt.Errorf("%w: %s is required", ErrBadRequest, name)
		}
		return 0
	}
	v, err := strconv.ParseUint(text[0], 10, 64)
	if err != nil || (required && v == 0) {
		q.err = fmt.Errorf("%w: %s %q", ErrBadRequest, name, text[0])
		return 0
	}
	return v
}

// node reads a member id parameter (required).
func (q *query) node(name string) string {
	if q.err != nil {
		return ""
	}
	id := q.v.Get(name)
	if err := ValidateNodeID(id); err != nil {
		q.err = fmt.Errorf("%w: %s: %w", ErrBadRequest, name, err)
	}
	return id
}

// buckets reads a comma-separated list of bucket numbers ("" or absent:
// none), each below maxDigestBuckets.
func (q *query) buckets(name string) []int {
	if q.err != nil || q.v.Get(name) == "" {
		return nil
	}
	parts := strings.Split(q.v.Get(name), ",")
	if len(parts) > maxDigestBuckets {
		q.err = fmt.Errorf("%w: %s: %d buckets, limit %d", ErrBadRequest, name, len(parts), maxDigestBuckets)
		return nil
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		b, err := strconv.Atoi(p)
		if err != nil || b < 0 || b >= maxDigestBuckets {
			q.err = fmt.Errorf("%w: %s: bucket %q", ErrBadRequest, name, p)
			return nil
		}
		out[i] = b
	}
	return out
}

// limit reads a page size in [1, MaxEntriesLimit].
func (q *query) limit(name string) int {
	if q.err != nil {
		return 0
	}
	n, err := strconv.Atoi(q.v.Get(name))
	if err != nil || n < 1 || n > MaxEntriesLimit {
		q.err = fmt.Errorf("%w: %s %q (want 1 to %d)", ErrBadRequest, name, q.v.Get(name), MaxEntriesLimit)
		return 0
	}
	return n
}

// formatBuckets is buckets' wire form.
func formatBuckets(buckets []int) string {
	var b strings.Builder
	for i, v := range buckets {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(v))
	}
	return b.String()
}
