package s3

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"strata/blockstore"
)

func TestOperationOf(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		hdr            map[string]string
		op             string
	}{
		{"GET", "/", nil, opListBuckets},
		{"PUT", "/", nil, opMethodNotAllowed},
		{"PUT", "/b", nil, opCreateBucket},
		{"HEAD", "/b", nil, opHeadBucket},
		{"DELETE", "/b", nil, opDeleteBucket},
		{"GET", "/b?location", nil, opGetBucketLocation},
		{"GET", "/b?list-type=2&prefix=a", nil, opListObjectsV2},
		{"GET", "/b?prefix=a", nil, opListObjects},
		{"GET", "/b?uploads", nil, opListMultipartUploads},
		{"POST", "/b?delete", nil, opDeleteObjects},
		{"GET", "/b?versioning", nil, opGetBucketVersioning},
		{"PUT", "/b?versioning", nil, opNotImplemented},
		{"GET", "/b?acl", nil, opGetBucketACL},
		{"PUT", "/b?acl", nil, opNotImplemented},
		{"GET", "/b?policy", nil, opNotImplemented},
		{"PUT", "/b?lifecycle", nil, opNotImplemented},
		{"GET", "/b?versions", nil, opNotImplemented},
		{"PUT", "/b/k", nil, opPutObject},
		{"PUT", "/b/k", map[string]string{"X-Amz-Copy-Source": "/b/j"}, opCopyObject},
		{"PUT", "/b/k?partNumber=1&uploadId=x", nil, opUploadPart},
		{"PUT", "/b/k?partNumber=1&uploadId=x", map[string]string{"X-Amz-Copy-Source": "/b/j"}, opUploadPartCopy},
		{"GET", "/b/k", nil, opGetObject},
		{"GET", "/b/k?response-content-type=x", nil, opGetObject},
		{"GET", "/b/k?versionId=null", nil, opGetObject},
		{"GET", "/b/k?versionId=3", nil, opNotImplemented},
		{"GET", "/b/k?partNumber=2", nil, opNotImplemented},
		{"GET", "/b/k?uploadId=x", nil, opListParts},
		{"GET", "/b/k?tagging", nil, opNotImplemented},
		{"PUT", "/b/k?tagging", nil, opNotImplemented},
		{"GET", "/b/k?acl", nil, opGetObjectACL},
		{"HEAD", "/b/k", nil, opHeadObject},
		{"DELETE", "/b/k", nil, opDeleteObject},
		{"DELETE", "/b/k?uploadId=x", nil, opAbortMultipart},
		{"POST", "/b/k?uploads", nil, opCreateMultipart},
		{"POST", "/b/k?uploadId=x", nil, opCompleteMultipart},
		{"POST", "/b/k?select&select-type=2", nil, opNotImplemented},
		{"PATCH", "/b/k", nil, opMethodNotAllowed},
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		tg, ok := addressOf(r, "")
		if !ok {
			t.Fatalf("%s %s: no address", tc.method, tc.target)
		}
		if got := operationOf(r, tg); got != tc.op {
			t.Errorf("%s %s = %s, want %s", tc.method, tc.target, got, tc.op)
		}
	}
}

func TestAddressOf(t *testing.T) {
	for _, tc := range []struct {
		host, target, domain string
		want                 target
	}{
		{"127.0.0.1:9000", "/", "", target{}},
		{"127.0.0.1:9000", "/b", "", target{bucket: "b"}},
		{"127.0.0.1:9000", "/b/", "", target{bucket: "b"}},
		{"127.0.0.1:9000", "/b/a/b%2Fc%20d", "", target{bucket: "b", key: "a/b/c d"}},
		{"127.0.0.1:9000", "/b/a/../c", "", target{bucket: "b", key: "a/../c"}},
		{"bkt.s3.example.com:9000", "/k/x", "s3.example.com", target{bucket: "bkt", key: "k/x"}},
		{"BKT.S3.Example.com", "/", "s3.example.com", target{bucket: "bkt"}},
		{"s3.example.com", "/bkt/k", "s3.example.com", target{bucket: "bkt", key: "k"}},
		{"other.host", "/bkt/k", "s3.example.com", target{bucket: "bkt", key: "k"}},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		r.Host = tc.host
		got, ok := addressOf(r, tc.domain)
		if !ok || got != tc.want {
			t.Errorf("%s%s (domain %q) = %+v %v, want %+v", tc.host, tc.target, tc.domain, got, ok, tc.want)
		}
	}
}

func TestCommonPrefix(t *testing.T) {
	for _, tc := range []struct {
		key, prefix, delim, want string
		ok                       bool
	}{
		{"a/b/c", "", "/", "a/", true},
		{"a/b/c", "a/", "/", "a/b/", true},
		{"a/b", "a/", "/", "", false},
		{"a/b", "", "", "", false},
		{"x--y--z", "x", "--", "x--", true},
		{"dir/", "", "/", "dir/", true},
	} {
		got, ok := commonPrefix(tc.key, tc.prefix, tc.delim)
		if got != tc.want || ok != tc.ok {
			t.Errorf("commonPrefix(%q, %q, %q) = %q %v", tc.key, tc.prefix, tc.delim, got, ok)
		}
	}
}

func TestValidBucketName(t *testing.T) {
	for name, ok := range map[string]bool{
		"abc": true, "a.b-c": true, "1bucket": true, "ab": false, "a_b": false, "-ab": false,
		"ab.": false, "a..b": false, "10.0.0.1": false, "ABC": false, "a b": false, "": false,
	} {
		if err := validBucketName(name); (err == nil) != ok {
			t.Errorf("validBucketName(%q) = %v", name, err)
		} else if err != nil && !errors.Is(err, ErrInvalidBucketName) {
			t.Errorf("validBucketName(%q): %v is not InvalidBucketName", name, err)
		}
	}
}

func TestParseCopySource(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want target
		err  *Error
	}{
		{"bkt/key", target{"bkt", "key"}, nil},
		{"/bkt/a%20b/c%2Bd", target{"bkt", "a b/c+d"}, nil},
		{"bkt/k?versionId=null", target{"bkt", "k"}, nil},
		{"bkt/k%3Fx", target{"bkt", "k?x"}, nil},
		{"bkt/k?versionId=abc", target{}, ErrNotImplemented},
		{"bkt", target{}, ErrInvalidCopySource},
		{"bkt/", target{}, ErrInvalidCopySource},
		{"bkt/%zz", target{}, ErrInvalidCopySource},
	} {
		got, err := parseCopySource(tc.in)
		if got != tc.want || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("parseCopySource(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestParseCompleteRequest(t *testing.T) {
	for _, tc := range []struct {
		body string
		n    int
		err  *Error
	}{
		{`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part><Part><PartNumber>3</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>`, 2, nil},
		{`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a"</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`, 1, nil},
		{`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber></Part><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`, 0, ErrInvalidPartOrder},
		{`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`, 0, ErrInvalidPartOrder},
		{`<CompleteMultipartUpload><Part><PartNumber>0</PartNumber></Part></CompleteMultipartUpload>`, 0, ErrInvalidPart},
		{`<CompleteMultipartUpload></CompleteMultipartUpload>`, 0, ErrMalformedXML},
		{`<Other/>`, 0, ErrMalformedXML},
		{`<CompleteMultipartUpload><Part>`, 0, ErrMalformedXML},
	} {
		req, err := parseCompleteRequest([]byte(tc.body))
		if (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) || len(req.Parts) != tc.n {
			t.Errorf("parseCompleteRequest(%s) = %d parts, %v; want %d, %v", tc.body, len(req.Parts), err, tc.n, tc.err)
		}
	}
}

func FuzzParseCompleteRequest(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>99999999999999999999</PartNumber></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber></Part></CompleteMultipartUpload>`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := parseCompleteRequest(raw)
		if err != nil {
			if errorOf(err).Status != http.StatusBadRequest {
				t.Fatalf("a bad body answered %d", errorOf(err).Status)
			}
			return
		}
		if len(req.Parts) == 0 || len(req.Parts) > MaxParts {
			t.Fatalf("accepted %d parts", len(req.Parts))
		}
		for i, p := range req.Parts {
			if p.PartNumber < 1 || p.PartNumber > MaxParts || (i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber) {
				t.Fatalf("accepted part numbers out of order or range: %+v", req.Parts)
			}
		}
	})
}

func TestParseDeleteRequest(t *testing.T) {
	many := "<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", maxBatchDelete+1) + "</Delete>"
	for _, tc := range []struct {
		body  string
		n     int
		quiet bool
		ok    bool
	}{
		{`<Delete><Object><Key>a</Key></Object><Object><Key>b/c</Key></Object></Delete>`, 2, false, true},
		{`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>`, 1, true, true},
		{`<Delete><Object><Key></Key></Object></Delete>`, 0, false, false},
		{`<Delete></Delete>`, 0, false, false},
		{many, 0, false, false},
		{`not xml`, 0, false, false},
	} {
		req, err := parseDeleteRequest([]byte(tc.body))
		if (err == nil) != tc.ok || len(req.Objects) != tc.n || req.Quiet != tc.quiet {
			t.Errorf("parseDeleteRequest(%.60s) = %+v, %v", tc.body, req, err)
		}
		if err != nil && !errors.Is(err, ErrMalformedXML) {
			t.Errorf("parseDeleteRequest(%.60s): %v is not MalformedXML", tc.body, err)
		}
	}
}

func FuzzParseDeleteRequest(f *testing.F) {
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>null</VersionId></Object></Delete>`))
	f.Add([]byte(`<Delete><Object><Key>&#0;</Key></Object></Delete>`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := parseDeleteRequest(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformedXML) {
				t.Fatalf("error %v is not MalformedXML", err)
			}
			return
		}
		if len(req.Objects) == 0 || len(req.Objects) > maxBatchDelete {
			t.Fatalf("accepted %d objects", len(req.Objects))
		}
		for _, o := range req.Objects {
			if o.Key == "" {
				t.Fatal("accepted an empty key")
			}
		}
	})
}

func FuzzContinuationToken(f *testing.F) {
	f.Add("a/b", encodeToken("a/b"))
	f.Add("\u2603", "!!")
	f.Add("k", "")
	f.Fuzz(func(t *testing.T, key, token string) {
		if key != "" && utf8.ValidString(key) && len(key) <= 1024 {
			got, err := decodeToken(encodeToken(key))
			if err != nil || got != key {
				t.Fatalf("round trip of %q: %q, %v", key, got, err)
			}
		}
		got, err := decodeToken(token)
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("decodeToken(%q): %v is not InvalidArgument", token, err)
			}
			return
		}
		if got == "" || !utf8.ValidString(got) || len(got) > 1024 {
			t.Fatalf("decodeToken(%q) accepted %q", token, got)
		}
	})
}

// User metadata goes out lowercase, as S3 sends it (botocore keeps the case
// after the prefix as the key); stored headers keep their names; the
// multipart ETag stays internal.
func TestSetObjectHeaders(t *testing.T) {
	hdr := http.Header{}
	setObjectHeaders(hdr, blockstore.Info{Meta: map[string]string{"X-Amz-Meta-Color": "blue", "Cache-Control": "no-cache", metaETag: "abc-2"}})
	if got := hdr["x-amz-meta-color"]; len(got) != 1 || got[0] != "blue" {
		t.Fatalf("user metadata on the wire: %v", hdr)
	}
	if hdr.Get("Cache-Control") != "no-cache" || hdr.Get("ETag") != `"abc-2"` || hdr.Get(metaETag) != "" {
		t.Fatalf("headers %v", hdr)
	}
}

func TestURLEncode(t *testing.T) {
	for _, s := range []string{"a b", "a+b", "ü/ø", "100%", "x?y&z=1", "~._-/"} {
		e := urlEncode(s)
		if q, err := url.QueryUnescape(e); err != nil || q != s {
			t.Errorf("QueryUnescape(urlEncode(%q)) = %q, %v", s, q, err)
		}
		if p, err := url.PathUnescape(e); err != nil || p != s {
			t.Errorf("PathUnescape(urlEncode(%q)) = %q, %v", s, p, err)
		}
	}
}
