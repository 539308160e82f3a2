package sigv4

import (
	"net/url"
	"slices"
	"testing"
)

func TestURIEncode(t *testing.T) {
	for _, c := range []struct {
		in          string
		encodeSlash bool
		want        string
	}{
		{"", false, ""},
		{"AZaz09-_.~", true, "AZaz09-_.~"},
		{"a/b c", false, "a/b%20c"},
		{"a/b c", true, "a%2Fb%20c"},
		{"+!$&'()*,;=:@%", false, "%2B%21%24%26%27%28%29%2A%2C%3B%3D%3A%40%25"},
		{"ключ", false, "%D0%BA%D0%BB%D1%8E%D1%87"},
		{"\x00\xff", false, "%00%FF"},
	} {
		if got := URIEncode(c.in, c.encodeSlash); got != c.want {
			t.Errorf("URIEncode(%q, %v) = %q, want %q", c.in, c.encodeSlash, got, c.want)
		}
	}
}

func TestCanonicalPaths(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want []string
	}{
		{"http://h", []string{"/"}},
		{"http://h/", []string{"/"}},
		{"http://h/bkt/a%20b", []string{"/bkt/a%20b"}},
		// Never double-encoded: %2520 is a literal "%20" in the key.
		{"http://h/bkt/a%2520b", []string{"/bkt/a%2520b"}},
		// Sent raw, signed escaped: the S3 encoding of the decoded path.
		{"http://h/test$file.text", []string{"/test%24file.text", "/test$file.text"}},
		// An escaped slash: the wire form is the second candidate.
		{"http://h/bkt/a%2Fb", []string{"/bkt/a/b", "/bkt/a%2Fb"}},
		{"http://h/bkt//double//", []string{"/bkt//double//"}},
	} {
		u, err := url.Parse(c.raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := canonicalPaths(u); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.raw, got, c.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	for _, c := range []struct{ raw, skip, want string }{
		{"", "", ""},
		{"uploads", "", "uploads="},
		{"prefix=J&max-keys=2", "", "max-keys=2&prefix=J"},
		{"b=2&a=1&a=0", "", "a=0&a=1&b=2"},
		{"a=x+y&b=x%20y&c=%2B", "", "a=x%20y&b=x%20y&c=%2B"},
		{"k%20=v&&", "", "k%20=v"},
		{"X-Amz-Signature=abc&X-Amz-Date=1", "X-Amz-Signature", "X-Amz-Date=1"},
		{"a=%7E~&b=/", "", "a=~~&b=%2F"},
	} {
		q, err := parseQuery(c.raw)
		if err != nil {
			t.Fatalf("%q: %v", c.raw, err)
		}
		if got := canonicalQuery(q, c.skip); got != c.want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
	for _, bad := range []string{"a=%zz", "%=1"} {
		if _, err := parseQuery(bad); err == nil {
			t.Errorf("parseQuery(%q) accepted", bad)
		}
	}
}

func TestTrimAll(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"  a  ":          "a",
		"a   b \t c":     "a b c",
		"\ta\t":          "a",
		"already normal": "already normal",
	} {
		if got := trimAll(in); got != want {
			t.Errorf("trimAll(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	sig := "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	good := "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig
	a, err := parseAuthorization(good)
	wantErr(t, err, nil)
	if a.scope != (scope{"AK", "20130524", "us-east-1", "s3"}) || !slices.Equal(a.signed, []string{"host", "x-amz-date"}) || a.signature != sig {
		t.Fatalf("parsed %+v", a)
	}
	// An access key with '/' keeps everything before the last four parts.
	a, err = parseAuthorization("AWS4-HMAC-SHA256 Credential=a/b/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=" + sig)
	wantErr(t, err, nil)
	if a.scope.accessKey != "a/b" {
		t.Fatalf("access key %q", a.scope.accessKey)
	}
	for _, c := range []struct {
		h    string
		want error
	}{
		{"AWS AK:sig", ErrUnsupported},
		{"AWS4-ECDSA-P256-SHA256 Credential=x", ErrUnsupported},
		{"Basic dXNlcjpwYXNz", ErrMalformed},
		{"AWS4-HMAC-SHA256", ErrMalformed},
		{"AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + sig, ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, Signature=" + sig, ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host", ErrMalformed},
		{good + ", Signature=" + sig, ErrMalformed},
		{good + ", Extra=1", ErrMalformed},
		{good + ", novalue", ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_reques, SignedHeaders=host, Signature=" + sig, ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524//s3/aws4_request, SignedHeaders=host, Signature=" + sig, ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date, Signature=" + sig, ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=Host, Signature=" + sig, ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;host, Signature=" + sig, ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;, Signature=" + sig, ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig[:63], ErrMalformed},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig[:63] + "G", ErrMalformed},
	} {
		_, err := parseAuthorization(c.h)
		if !errorsIs(err, c.want) {
			t.Errorf("%q: %v, want %v", c.h, err, c.want)
		}
	}
}
