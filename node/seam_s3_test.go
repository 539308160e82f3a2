package node_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"strata/node"
)

func TestReservedPrefixRefusesWrites(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPut, "/blobs/.s3/buckets/x", http.StatusBadRequest},
		{http.MethodPut, "/blobs/.s3%2Fbuckets%2Fx", http.StatusBadRequest},
		{http.MethodDelete, "/blobs/.s3/uploads/u", http.StatusBadRequest},
		{http.MethodPut, "/blobs/.s3x", http.StatusCreated},
		// A part co-located with its object is S3 state too.
		{http.MethodPut, "/blobs/.p/0123456789abcdef/.s3/uploads/u/00001", http.StatusBadRequest},
		{http.MethodDelete, "/blobs/.p%2F0123456789abcdef%2F.s3%2Fuploads%2Fu", http.StatusBadRequest},
		{http.MethodPut, "/blobs/.p/0123456789abcdef/plain", http.StatusCreated},
		{http.MethodPut, "/blobs/.p/0123456789ABCDEF/.s3/x", http.StatusCreated}, // not a co-located key

		{http.MethodGet, "/blobs/.s3/buckets/x", http.StatusNotFound}, // reads are served
	} {
		rec := e.do(tc.method, tc.path, strings.NewReader("v"))
		if rec.Code != tc.want {
			t.Errorf("%s %s = %d, want %d (%s)", tc.method, tc.path, rec.Code, tc.want, rec.Body)
		}
		if tc.want == http.StatusBadRequest && !strings.Contains(rec.Body.String(), "reserved_key") {
			t.Errorf("%s %s: body %s lacks reserved_key", tc.method, tc.path, rec.Body)
		}
	}
	if _, ok := e.store.Bytes(".p/0123456789abcdef/.s3/uploads/u/00001"); ok {
		t.Error("a co-located reserved key was stored")
	}
	if _, ok := e.store.Bytes(".s3/buckets/x"); ok {
		t.Error("a reserved key was stored")
	}
}

func TestPreconditionsCheck(t *testing.T) {
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	before, after := mod.Add(-time.Hour).Format(http.TimeFormat), mod.Add(time.Hour).Format(http.TimeFormat)
	at := mod.Format(http.TimeFormat)
	const tag = `"abc"`
	for _, tc := range []struct {
		name string
		p    node.Preconditions
		want node.Conditional
		bad  bool
	}{
		{"none", node.Preconditions{}, node.CondProceed, false},
		{"if-match hit", node.Preconditions{IfMatch: []string{tag}}, node.CondProceed, false},
		{"if-match miss", node.Preconditions{IfMatch: []string{`"x"`}}, node.CondPreconditionFailed, false},
		{"if-match star", node.Preconditions{IfMatch: []string{"*"}}, node.CondProceed, false},
		{"if-none-match hit", node.Preconditions{IfNoneMatch: []string{tag}}, node.CondNotModified, false},
		{"if-none-match miss", node.Preconditions{IfNoneMatch: []string{`"x"`}}, node.CondProceed, false},
		{"unmodified-since past", node.Preconditions{IfUnmodifiedSince: []string{before}}, node.CondPreconditionFailed, false},
		{"unmodified-since at", node.Preconditions{IfUnmodifiedSince: []string{at}}, node.CondProceed, false},
		{"modified-since after", node.Preconditions{IfModifiedSince: []string{after}}, node.CondNotModified, false},
		{"modified-since before", node.Preconditions{IfModifiedSince: []string{before}}, node.CondProceed, false},
		// S3: If-Match true and If-Unmodified-Since false: served.
		{"match overrides unmodified", node.Preconditions{IfMatch: []string{tag}, IfUnmodifiedSince: []string{before}}, node.CondProceed, false},
		// S3: If-None-Match false and If-Modified-Since true: 304? No: If-None-Match decides.
		{"none-match overrides modified", node.Preconditions{IfNoneMatch: []string{`"x"`}, IfModifiedSince: []string{after}}, node.CondProceed, false},
		{"bad tag", node.Preconditions{IfMatch: []string{"abc"}}, node.CondProceed, true},
		{"bad date ignored", node.Preconditions{IfModifiedSince: []string{"yesterday"}}, node.CondProceed, false},
	} {
		got, err := tc.p.Check(tag, mod)
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("%s: %v, %v; want %v, bad=%v", tc.name, got, err, tc.want, tc.bad)
		}
		if tc.bad && !node.IsBadRequest(err) {
			t.Errorf("%s: %v is not a bad request", tc.name, err)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		h      []string
		ok     bool
		ranges []node.ByteRange
		err    bool
	}{
		{nil, false, nil, false},
		{[]string{"bytes=0-9"}, true, []node.ByteRange{{0, 9}}, false},
		{[]string{"bytes=-5"}, true, []node.ByteRange{{95, 99}}, false},
		{[]string{"bytes=90-"}, true, []node.ByteRange{{90, 99}}, false},
		{[]string{"bytes=100-"}, true, nil, true},
		{[]string{"items=1-2"}, false, nil, false},
	} {
		rs, ok, err := node.ParseRange(tc.h, 100)
		if ok != tc.ok || (err != nil) != tc.err || len(rs) != len(tc.ranges) || (len(rs) == 1 && rs[0] != tc.ranges[0]) {
			t.Errorf("ParseRange(%q) = %v, %v, %v", tc.h, rs, ok, err)
		}
	}
}
