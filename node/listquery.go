package node

import (
	"fmt"
	"net/url"
	"strconv"

	"strata/blockstore"
)

// listQuery is a parsed GET /blobs query.
type listQuery struct {
	prefix, startAfter string
	limit              int
}

// parseListQuery reads prefix, start-after and limit. Unknown parameters
// and repeated ones are errors (a misspelt "startafter" must not silently
// restart the listing). prefix and start-after follow the key rules but may
// be empty; limit is 1 or more, default 1000, capped at 10000.
func parseListQuery(raw string) (listQuery, error) {
	q := listQuery{limit: defaultListLimit}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("%w: query: bad escaping", errBadRequest)
	}
	for name, vs := range values {
		if len(vs) > 1 {
			return q, fmt.Errorf("%w: query parameter %q repeated", errBadRequest, name)
		}
		v := vs[0]
		switch name {
		case "prefix":
			q.prefix = v
		case "start-after":
			q.startAfter = v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return q, fmt.Errorf("%w: limit must be a positive integer", errBadRequest)
			}
			q.limit = min(n, maxListLimit)
		default:
			return q, fmt.Errorf("%w: unknown query parameter %q", errBadRequest, name)
		}
	}
	for _, v := range []string{q.prefix, q.startAfter} {
		if v != "" && blockstore.ValidateKey(v) != nil {
			return q, fmt.Errorf("%w: prefix and start-after must be keys or empty", errBadRequest)
		}
	}
	return q, nil
}
