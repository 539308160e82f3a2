package sigv4

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fuzzStreams are the stream kinds FuzzChunkDecoder picks from.
func fuzzStream(mode uint8) (stream, []string) {
	switch mode % 3 {
	case 0:
		return testStream(true, false, false), nil
	case 1:
		return testStream(true, true, true), []string{"x-amz-checksum-crc32"}
	default:
		return testStream(false, true, false), []string{"x-amz-checksum-crc32"}
	}
}

func FuzzChunkDecoder(f *testing.F) {
	data := payload(300)
	crc := [][2]string{{"x-amz-checksum-crc32", checksumOf("x-amz-checksum-crc32", data)}}
	for mode := range uint8(3) {
		s, tr := fuzzStream(mode)
		var trailers [][2]string
		if tr != nil {
			trailers = crc
		}
		f.Add(encoderFor(s, 128, trailers).encode(data), mode, uint16(len(data)))
		f.Add(encoderFor(s, 128, trailers).encode(nil), mode, uint16(0))
	}
	f.Add([]byte("0\r\n\r\n"), uint8(2), uint16(0))
	f.Add([]byte("ffffffff;chunk-signature=\r\n"), uint8(0), uint16(10))
	f.Fuzz(func(t *testing.T, body []byte, mode uint8, length uint16) {
		s, trailers := fuzzStream(mode)
		got, err := decodeAll(s, body, int64(length), trailers)
		if len(got) > int(length) {
			t.Fatalf("released %d bytes, more than the decoded length %d", len(got), length)
		}
		if err == nil && len(got) != int(length) {
			t.Fatalf("clean read of %d bytes, decoded length %d", len(got), length)
		}
	})
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/20130524/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("0", 64))
	f.Add("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=")
	f.Add("AWS4-HMAC-SHA256 Credential=,,,SignedHeaders==;;")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			return
		}
		if !isHexSHA256(a.signature) || a.scope.accessKey == "" || len(a.scope.date) != 8 || a.scope.region == "" {
			t.Fatalf("accepted %q as %+v", h, a)
		}
		host := false
		for _, n := range a.signed {
			if n == "" || n != strings.ToLower(n) {
				t.Fatalf("signed header %q accepted", n)
			}
			host = host || n == "host"
		}
		if !host {
			t.Fatalf("accepted %q without host signed", h)
		}
	})
}

func FuzzParsePresigned(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=604801&X-Amz-Expires=1")
	f.Add("a=%zz&b")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw)
		if err != nil {
			return
		}
		p, err := parsePresigned(q)
		if err != nil {
			return
		}
		if p.expires < time.Second || p.expires > MaxPresignExpires {
			t.Fatalf("expires %v accepted", p.expires)
		}
		if !isHexSHA256(p.signature) || p.iso[:8] != p.scope.date {
			t.Fatalf("accepted %+v", p)
		}
	})
}

// FuzzVerify feeds whole requests (as read off the wire) to Verify and
// reads the body it returns: nothing may panic, and an error never comes
// with the Auth of a signed request.
func FuzzVerify(f *testing.F) {
	for _, lines := range [][]string{
		{"GET /test.txt HTTP/1.1", "Host: examplebucket.s3.amazonaws.com",
			"Authorization: AWS4-HMAC-SHA256 " + awsCred + ",SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
			"Range: bytes=0-9", "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x-amz-date: 20130524T000000Z"},
		{"GET /test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404 HTTP/1.1",
			"Host: examplebucket.s3.amazonaws.com"},
		{"PUT /examplebucket/chunkObject.txt HTTP/1.1", "Host: s3.amazonaws.com", "x-amz-date: 20130524T000000Z", "x-amz-storage-class: REDUCED_REDUNDANCY",
			"Authorization: AWS4-HMAC-SHA256 " + awsCred + ",SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
			"x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "Content-Encoding: aws-chunked", "x-amz-decoded-content-length: 66560", "Content-Length: 66824"},
	} {
		f.Add([]byte(strings.Join(lines, "\r\n") + "\r\n\r\n"))
	}
	f.Add(append([]byte("PUT /b/k HTTP/1.1\r\nHost: h\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\nContent-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==\r\nContent-Length: 3\r\n\r\n"), "abc"...))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		v := &Verifier{Keys: testKeys, Now: fixedClock(awsExampleTime), MaxChunkSize: 1 << 20}
		a, err := v.Verify(r)
		if a == nil {
			return
		}
		if err != nil && !a.Anonymous {
			t.Fatalf("Auth with error %v", err)
		}
		io.Copy(io.Discard, io.LimitReader(a.Body, 1<<20))
		a.Body.Close()
	})
}
