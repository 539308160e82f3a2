package sigv4

import (
	"bytes"
	"crypto/md5"
	"io"
	"net/http"
	"testing"
)

// BenchmarkBody reads an 8 MiB body through Verify in each payload mode;
// "raw" reads the same bytes without Verify, and "raw+md5" also hashes
// them as the S3 handler does for an ETag: the baselines for ratios.
//
//	go test -run X -bench Body -benchtime 20x ./node/s3/sigv4
func BenchmarkBody(b *testing.B) {
	t := &testing.T{}
	data := payload(8 << 20)
	crc := [][2]string{{"x-amz-checksum-crc32", checksumOf("x-amz-checksum-crc32", data)}}
	modes := []struct {
		name string
		req  func() (*http.Request, []byte)
	}{
		{"raw", nil},
		{"raw+md5", nil},
		{"sha256", func() (*http.Request, []byte) {
			r := newReq(t, "PUT", "/bkt/k", data)
			signRequest(t, r, hexSHA256(data), testSecret, testTime)
			return r, data
		}},
		{"sha256+crc32", func() (*http.Request, []byte) {
			r := newReq(t, "PUT", "/bkt/k", data)
			r.Header.Set("X-Amz-Checksum-Crc32", crc[0][1])
			signRequest(t, r, hexSHA256(data), testSecret, testTime)
			return r, data
		}},
		{"unsigned", func() (*http.Request, []byte) {
			r := newReq(t, "PUT", "/bkt/k", data)
			signRequest(t, r, UnsignedPayload, testSecret, testTime)
			return r, data
		}},
		{"streaming-64KiB", func() (*http.Request, []byte) {
			r := streamingReq(t, StreamingPayload, data, 64<<10, nil, nil)
			body, _ := io.ReadAll(r.Body)
			return r, body
		}},
		{"unsigned-trailer-crc32", func() (*http.Request, []byte) {
			r := streamingReq(t, StreamingUnsignedTrailer, data, 64<<10, crc, nil)
			body, _ := io.ReadAll(r.Body)
			return r, body
		}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			buf := make([]byte, 32<<10)
			if m.req == nil {
				for b.Loop() {
					var w io.Writer = io.Discard
					if m.name == "raw+md5" {
						w = md5.New()
					}
					io.CopyBuffer(w, struct{ io.Reader }{bytes.NewReader(data)}, buf)
				}
				return
			}
			r, body := m.req()
			v := &Verifier{Keys: testKeys, Now: fixedClock(testTime)}
			for b.Loop() {
				sr := r.Clone(r.Context())
				sr.Body = io.NopCloser(bytes.NewReader(body))
				a, err := v.Verify(sr)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, a.Body, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyHeader is the cost of checking one header-signed request
// without a body (a GET): canonical request, string to sign, one HMAC with
// the cached signing key.
func BenchmarkVerifyHeader(b *testing.B) {
	t := &testing.T{}
	r := newReq(t, "GET", "/bkt/some/key.txt?versionId=3", nil)
	r.Header.Set("Range", "bytes=0-99")
	signRequest(t, r, emptySHA256, testSecret, testTime)
	v := &Verifier{Keys: testKeys, Now: fixedClock(testTime)}
	for b.Loop() {
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}
