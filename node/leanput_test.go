package node_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// versionRE blanks what differs between two stores' PUTs of the same
// bytes: the version (ETag) and the modification time.
var versionRE = regexp.MustCompile(`(Etag: |Last-Modified: |"etag":"|"last_modified":")[^\r"]*`)

// TestLeanPutMatchesNetHTTP sends the same raw PUTs to a lean server and a
// net/http one and compares the answers byte for byte, versions and times
// blanked; the stored blob is read back on both.
func TestLeanPutMatchesNetHTTP(t *testing.T) {
	const host = "Host: 127.0.0.1\r\n"
	cases := []struct{ name, req string }{
		{"plain", "PUT /blobs/a HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello"},
		{"type", "PUT /blobs/b HTTP/1.1\r\n" + host + "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"},
		{"empty", "PUT /blobs/c HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n"},
		{"close", "PUT /blobs/d HTTP/1.1\r\n" + host + "Connection: close\r\nContent-Length: 2\r\n\r\nhi"},
		{"twice", "PUT /blobs/e HTTP/1.1\r\n" + host + "Content-Length: 1\r\n\r\nx" + "PUT /blobs/e HTTP/1.1\r\n" + host + "Content-Length: 2\r\n\r\nyz"},
		{"bad key", "PUT /blobs/%00 HTTP/1.1\r\n" + host + "Content-Length: 1\r\n\r\nx"},
		{"too large", "PUT /blobs/f HTTP/1.1\r\n" + host + "Content-Length: 99999999999\r\n\r\nx"},
		{"precondition", "PUT /blobs/a HTTP/1.1\r\n" + host + "If-None-Match: *\r\nContent-Length: 1\r\n\r\nx"},
		{"bad type", "PUT /blobs/g HTTP/1.1\r\n" + host + "Content-Type: \x7f\r\nContent-Length: 1\r\n\r\nx"},
		{"chunked", "PUT /blobs/h HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"},
		{"get after", "GET /blobs/a HTTP/1.1\r\n" + host + "\r\n"},
	}
	pLean := newLeanPair(t, nil)
	pHTTP := newLeanPair(t, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := versionRE.ReplaceAllString(exchange(t, pLean.lean, tc.req+closing), "$1X")
			want := versionRE.ReplaceAllString(exchange(t, pHTTP.http, tc.req+closing), "$1X")
			if got != want {
				t.Errorf("lean answer differs:\n got %q\nwant %q", got, want)
			}
			if strings.HasPrefix(tc.name, "plain") && !strings.Contains(got, "201 Created") {
				t.Errorf("no 201: %q", got)
			}
		})
	}
}

// TestLeanPutShortBodyMatchesNetHTTP: a client that sends less than its
// Content-Length and goes away gets net/http's answer, and nothing is
// stored.
func TestLeanPutShortBodyMatchesNetHTTP(t *testing.T) {
	p := newLeanPair(t, nil)
	for _, raw := range []string{
		"PUT /blobs/short HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nhello",
		"PUT /blobs/short HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n",
	} {
		got, want := halfClose(t, p.lean, raw), halfClose(t, p.http, raw)
		if got != want {
			t.Errorf("lean answer differs:\n got %q\nwant %q", got, want)
		}
		if _, err := p.store.Stat(context.Background(), "short"); err == nil {
			t.Errorf("a short body was stored")
		}
	}
}
