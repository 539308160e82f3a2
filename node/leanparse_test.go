package node

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

func TestParseLeanHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		head string
		ok   bool
		want leanRequest
	}{
		{"get", "GET /blobs/k HTTP/1.1\r\nHost: h\r\n\r\n", true, leanRequest{target: []byte("/blobs/k"), host: []byte("h")}},
		{"head close auth", "HEAD /blobs/a%2Fb HTTP/1.1\r\nhost:  h:1 \r\nConnection: CLOSE\r\nAuthorization: Bearer x\r\n\r\n", true,
			leanRequest{head: true, target: []byte("/blobs/a%2Fb"), host: []byte("h:1"), auth: []byte("Bearer x"), close: true}},
		{"http/1.0", "GET /blobs/k HTTP/1.0\r\nHost: h\r\n\r\n", false, leanRequest{}},
		{"put", "PUT /blobs/k HTTP/1.1\r\nHost: h\r\n\r\n", false, leanRequest{}},
		{"lower method", "get /blobs/k HTTP/1.1\r\nHost: h\r\n\r\n", false, leanRequest{}},
		{"query", "GET /blobs/k?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", false, leanRequest{}},
		{"not a blob", "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n", false, leanRequest{}},
		{"no key", "GET /blobs/ HTTP/1.1\r\nHost: h\r\n\r\n", false, leanRequest{}},
		{"bad escape", "GET /blobs/%g0 HTTP/1.1\r\nHost: h\r\n\r\n", false, leanRequest{}},
		{"two spaces", "GET  /blobs/k HTTP/1.1\r\nHost: h\r\n\r\n", false, leanRequest{}},
		{"no host", "GET /blobs/k HTTP/1.1\r\n\r\n", false, leanRequest{}},
		{"two hosts", "GET /blobs/k HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", false, leanRequest{}},
		{"two auths", "GET /blobs/k HTTP/1.1\r\nHost: h\r\nAuthorization: a\r\nAuthorization: a\r\n\r\n", false, leanRequest{}},
		{"range", "GET /blobs/k HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\r\n", false, leanRequest{}},
		{"if-match", "GET /blobs/k HTTP/1.1\r\nHost: h\r\nIf-Match: *\r\n\r\n", false, leanRequest{}},
		{"content-length", "GET /blobs/k HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", false, leanRequest{}},
		{"upgrade", "GET /blobs/k HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n", false, leanRequest{}},
		{"space before colon", "GET /blobs/k HTTP/1.1\r\nHost : h\r\n\r\n", false, leanRequest{}},
		{"control in value", "GET /blobs/k HTTP/1.1\r\nHost: h\r\nUser-Agent: a\x01\r\n\r\n", false, leanRequest{}},
		{"odd host", "GET /blobs/k HTTP/1.1\r\nHost: h/x\r\n\r\n", false, leanRequest{}},
		{"bytes after head", "GET /blobs/k HTTP/1.1\r\nHost: h\r\n\r\nx", false, leanRequest{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseLeanHead([]byte(tc.head))
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			if ok && (got.head != tc.want.head || got.close != tc.want.close || string(got.target) != string(tc.want.target) ||
				string(got.host) != string(tc.want.host) || string(got.auth) != string(tc.want.auth)) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLeanHeadEnd(t *testing.T) {
	for _, tc := range []struct {
		buf  string
		want int
	}{
		{"", 0},
		{"GET / HTTP/1.1\r\nHost: h\r\n", 0},
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET", 27},
		{"GET / HTTP/1.1\nHost: h\n\n", -1},
		{"\r\nGET / HTTP/1.1\r\n\r\n", -1},
		{"GET / HTTP/1.1\r\n\r", 0},
	} {
		if got := leanHeadEnd([]byte(tc.buf)); got != tc.want {
			t.Errorf("leanHeadEnd(%q) = %d, want %d", tc.buf, got, tc.want)
		}
	}
}

// FuzzParseLeanHead holds the parser to net/http's: every head it takes,
// http.ReadRequest reads as the same GET or HEAD of the same path, host,
// authorization and connection, with no body, or as the same PUT with the
// same Content-Length and Content-Type.
func FuzzParseLeanHead(f *testing.F) {
	for _, s := range []string{
		"GET /blobs/k HTTP/1.1\r\nHost: h\r\n\r\n",
		"HEAD /blobs/a%2Fb HTTP/1.1\r\nhost:  127.0.0.1:80 \r\nConnection: close\r\nAuthorization: Bearer x\r\n\r\n",
		"GET /blobs/k HTTP/1.1\r\nHost: h\r\nUser-Agent: \t\xff\r\nAccept: */*\r\n\r\n",
		"GET /blobs/k?q HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\r\n",
		"PUT /blobs/k HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
		"PUT /blobs/k HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /blobs/k HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		end := leanHeadEnd(data)
		if end <= 0 {
			return
		}
		head := data[:end]
		req, ok := parseLeanHead(head)
		if !ok {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("lean took %q; net/http refuses it: %v", head, err)
		}
		wantLength := int64(0)
		if req.put {
			wantLength = req.contentLength
		}
		if r.Method != req.method() || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.URL.RawQuery != "" ||
			r.URL.EscapedPath() != string(req.target) || r.Host != string(req.host) || r.ContentLength != wantLength ||
			r.Close != req.close || len(r.TransferEncoding) != 0 {
			t.Fatalf("lean %+v; net/http %s %q host %q close %v length %d", req, r.Method, r.URL.EscapedPath(), r.Host, r.Close, r.ContentLength)
		}
		auth := r.Header.Values("Authorization")
		if (req.auth == nil) != (len(auth) == 0) || (len(auth) == 1 && auth[0] != string(req.auth)) || len(auth) > 1 {
			t.Fatalf("lean auth %q; net/http %q", req.auth, auth)
		}
		if ct := r.Header.Values("Content-Type"); (req.contentType == nil) != (len(ct) == 0) ||
			(len(ct) == 1 && ct[0] != string(req.contentType)) || len(ct) > 1 {
			t.Fatalf("lean content type %q; net/http %q", req.contentType, ct)
		}
		for name := range r.Header {
			switch name {
			case "Host", "Authorization", "Connection":
				continue
			case "Content-Length", "Content-Type":
				if req.put {
					continue
				}
			}
			if leanHeader([]byte(name)) != leanHdrHarmless {
				t.Fatalf("lean took header %q", name)
			}
		}
	})
}
