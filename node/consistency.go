package node

import (
	"context"
	"fmt"
	"net/http"
)

// consistencyKey marks a request context that asked for ?consistency=one.
type consistencyKey struct{}

// WithConsistencyOne returns ctx marked for a single-replica read: the
// request asked for ?consistency=one (or X-Strata-Consistency: one). A
// cluster Store reads its own copy when it is a home replica, else the
// nearest one, without asking a read quorum for the version.
func WithConsistencyOne(ctx context.Context) context.Context {
	return context.WithValue(ctx, consistencyKey{}, true)
}

// ConsistencyOne reports whether ctx asked for a single-replica read.
func ConsistencyOne(ctx context.Context) bool {
	one, _ := ctx.Value(consistencyKey{}).(bool)
	return one
}

// consistencyOne reads the read consistency a GET or HEAD asked for:
// ?consistency= on the URL, else the X-Strata-Consistency header. "one"
// asks for a single-replica read; "quorum" or nothing is the default; any
// other value is a bad request.
func consistencyOne(r *http.Request) (bool, error) {
	v := r.Header.Get("X-Strata-Consistency")
	if r.URL.RawQuery != "" { // parsing an empty query still costs a map
		if q := r.URL.Query(); q.Has("consistency") {
			v = q.Get("consistency")
		}
	}
	switch v {
	case "", "quorum":
		return false, nil
	case "one":
		return true, nil
	}
	return false, fmt.Errorf("%w: consistency %q (want one or quorum)", errBadRequest, v)
}
