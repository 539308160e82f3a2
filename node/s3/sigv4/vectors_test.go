package sigv4

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// AWS's documented examples (Amazon S3 API reference, "Signature
// Calculations for the Authorization Header", "Authenticating Requests:
// Using Query Parameters", "Transferring Payload in Multiple Chunks",
// "streaming trailers"): key AKIAIOSFODNN7EXAMPLE, dated 2013-05-24.
var awsExampleTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

const awsCred = "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"

// rawRequest reads a request as a server does from its wire form (lines
// joined with CRLF).
func rawRequest(t testing.TB, lines []string, body []byte) *http.Request {
	t.Helper()
	wire := strings.Join(lines, "\r\n") + "\r\n\r\n"
	r, err := http.ReadRequest(bufio.NewReader(io.MultiReader(strings.NewReader(wire), bytes.NewReader(body))))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAWSDocumentedVectors(t *testing.T) {
	welcome := []byte("Welcome to Amazon S3.")
	cases := []struct {
		name  string
		lines []string
		body  []byte
		want  []byte
	}{
		{"GET object with Range", []string{
			"GET /test.txt HTTP/1.1",
			"Host: examplebucket.s3.amazonaws.com",
			"Authorization: AWS4-HMAC-SHA256 " + awsCred + ",SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
			"Range: bytes=0-9",
			"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			"x-amz-date: 20130524T000000Z",
		}, nil, []byte{}},
		{"PUT object, $ in the key, Date and x-amz-date", []string{
			"PUT /test$file.text HTTP/1.1",
			"Host: examplebucket.s3.amazonaws.com",
			"Date: Fri, 24 May 2013 00:00:00 GMT",
			"Authorization: AWS4-HMAC-SHA256 " + awsCred + ",SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
			"x-amz-date: 20130524T000000Z",
			"x-amz-storage-class: REDUCED_REDUNDANCY",
			"x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			"Content-Length: 21",
		}, welcome, welcome},
		{"GET bucket lifecycle (value-less query)", []string{
			"GET /?lifecycle HTTP/1.1",
			"Host: examplebucket.s3.amazonaws.com",
			"Authorization: AWS4-HMAC-SHA256 " + awsCred + ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
			"x-amz-date: 20130524T000000Z",
			"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		}, nil, []byte{}},
		{"ListObjects (query sorted)", []string{
			"GET /?max-keys=2&prefix=J HTTP/1.1",
			"Host: examplebucket.s3.amazonaws.com",
			"Authorization: AWS4-HMAC-SHA256 " + awsCred + ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
			"x-amz-date: 20130524T000000Z",
			"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		}, nil, []byte{}},
		{"presigned GET", []string{
			"GET /test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404 HTTP/1.1",
			"Host: examplebucket.s3.amazonaws.com",
		}, nil, []byte{}},
		{"aws-chunked upload, 64 KiB + 1 KiB", []string{
			"PUT /examplebucket/chunkObject.txt HTTP/1.1",
			"Host: s3.amazonaws.com",
			"x-amz-date: 20130524T000000Z",
			"x-amz-storage-class: REDUCED_REDUNDANCY",
			"Authorization: AWS4-HMAC-SHA256 " + awsCred + ",SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
			"x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
			"Content-Encoding: aws-chunked",
			"x-amz-decoded-content-length: 66560",
			"Content-Length: 66824",
		}, awsChunkedExample(), bytes.Repeat([]byte("a"), 66560)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := &Verifier{Keys: testKeys, Now: fixedClock(awsExampleTime)}
			r := rawRequest(t, c.lines, c.body)
			_, got, err := verifyAndRead(v, r)
			wantErr(t, err, nil)
			if !bytes.Equal(got, c.want) {
				t.Fatalf("body: got %d bytes, want %d", len(got), len(c.want))
			}
			// The same request with any one signed header changed fails.
			r = rawRequest(t, c.lines, c.body)
			r.Host = "other" + r.Host
			_, _, err = verifyAndRead(v, r)
			wantErr(t, err, ErrSignature)
		})
	}
}

// awsChunkedExample is the body of AWS's aws-chunked example, with the
// chunk signatures AWS documents.
func awsChunkedExample() []byte {
	var b bytes.Buffer
	b.WriteString("10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n")
	b.Write(bytes.Repeat([]byte("a"), 65536))
	b.WriteString("\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n")
	b.Write(bytes.Repeat([]byte("a"), 1024))
	b.WriteString("\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n")
	return b.Bytes()
}

// TestAWSTrailerSignatureVector checks the trailer signature of AWS's
// streaming-trailers example: previous signature e05ab64f..., trailer
// x-amz-checksum-crc32c:wdBDMA==.
func TestAWSTrailerSignatureVector(t *testing.T) {
	trailer := "x-amz-checksum-crc32c:wdBDMA==\r\nx-amz-trailer-signature:41e14ac611e27a8bb3d66c3bad6856f209297767d5dd4fc87d8fa9e422e03faf\r\n\r\n"
	for _, tc := range []struct {
		trailer string
		want    error
	}{
		{trailer, nil},
		{strings.Replace(trailer, "wdBDMA==", "wdBDMQ==", 1), ErrSignature},
		{strings.Replace(trailer, "41e14ac6", "41e14ac7", 1), ErrSignature},
	} {
		s := stream{signed: true, trailer: true, trailerSig: true, key: deriveKey(testSecret, "20130524", "us-east-1", "s3"),
			scope: "20130524/us-east-1/s3/aws4_request", date: "20130524T000000Z", seed: "e05ab64fe1dfdbf0b5870abbaabdb063c371d4e96f2767e6934d90529c5ae850", maxChunk: DefaultMaxChunkSize}
		c, _ := checksumCheck("x-amz-checksum-crc32c", "")
		d := newChunkDecoder(strings.NewReader(tc.trailer), s, 0, []*check{c}, []string{"x-amz-checksum-crc32c"})
		wantErr(t, d.readTrailer(), tc.want)
	}
	// The trailer example's object checksum: CRC32C of 66560 bytes of 'a'.
	h, _ := newChecksum("x-amz-checksum-crc32c")
	h.Write(bytes.Repeat([]byte("a"), 66560))
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != "sOO8/Q==" {
		t.Fatalf("crc32c of the example payload is %s, want sOO8/Q==", got)
	}
}
