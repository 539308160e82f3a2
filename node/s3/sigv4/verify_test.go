package sigv4

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newReq is a client request to a path-style S3 URL.
func newReq(t *testing.T, method, target string, body []byte) *http.Request {
	t.Helper()
	var rb io.Reader
	if body != nil {
		rb = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, "http://s3.test:9000"+target, rb)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func b64MD5(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// streamingReq builds a signed aws-chunked PUT of data in mode, chunks of
// chunkSize, with trailers (name, value) declared in x-amz-trailer.
func streamingReq(t *testing.T, mode string, data []byte, chunkSize int, trailers [][2]string, tamper func([]byte) []byte) *http.Request {
	t.Helper()
	r := newReq(t, http.MethodPut, "/bkt/stream", nil)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	var names []string
	for _, tr := range trailers {
		names = append(names, tr[0])
	}
	if len(names) > 0 {
		r.Header.Set("X-Amz-Trailer", strings.Join(names, ","))
	}
	s := testStream(mode != StreamingUnsignedTrailer, mode != StreamingPayload, mode == StreamingPayloadTrailer)
	s.scope = "20260102/us-east-1/s3/aws4_request"
	s.date = testTime.Format(amzDateFormat)
	s.key = deriveKey(testSecret, "20260102", "us-east-1", "s3")
	// The encoded length does not depend on the signatures' values.
	r.ContentLength = int64(len(encoderFor(s, chunkSize, trailers).encode(data)))
	signRequest(t, r, mode, testSecret, testTime)
	s.seed = seedSignature(t, r)
	body := encoderFor(s, chunkSize, trailers).encode(data)
	if tamper != nil {
		body = tamper(body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r
}

func TestVerify(t *testing.T) {
	data := payload(3000)
	crc := [][2]string{{"x-amz-checksum-crc32c", checksumOf("x-amz-checksum-crc32c", data)}}
	flipLast := func(b []byte) []byte { b = bytes.Clone(b); b[len(b)-1] ^= 1; return b }
	signed := func(method, target string, body []byte, payloadHash string, hdr map[string]string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := newReq(t, method, target, body)
			for k, v := range hdr {
				r.Header.Set(k, v)
			}
			signRequest(t, r, payloadHash, testSecret, testTime)
			return r
		}
	}
	withBody := func(mk func(*testing.T) *http.Request, body []byte) func(*testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := mk(t)
			r.Body = io.NopCloser(bytes.NewReader(body))
			return r
		}
	}
	cases := []struct {
		name    string
		req     func(*testing.T) *http.Request
		region  string
		want    error // from Verify
		wantRd  error // from reading the body
		body    []byte
		payload string
		digest  string // the DigestError's Name, when wantRd is ErrBadDigest
	}{
		{name: "GET, empty payload hash", req: signed("GET", "/bkt/k", nil, emptySHA256, nil), payload: emptySHA256},
		{name: "PUT, hex sha256", req: signed("PUT", "/bkt/k", data, hexSHA256(data), nil), body: data},
		{name: "PUT, hex sha256 upper-case", req: signed("PUT", "/bkt/k", data, strings.ToUpper(hexSHA256(data)), nil), body: data},
		{name: "PUT, hex sha256, last byte flipped", req: withBody(signed("PUT", "/bkt/k", data, hexSHA256(data), nil), flipLast(data)), wantRd: ErrBadDigest, digest: "x-amz-content-sha256"},
		{name: "PUT, unsigned payload", req: signed("PUT", "/bkt/k", data, UnsignedPayload, nil), body: data},
		{name: "PUT, Content-MD5", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"Content-MD5": b64MD5(data)}), body: data},
		{name: "PUT, Content-MD5 mismatch", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"Content-MD5": b64MD5(data[1:])}), wantRd: ErrBadDigest, digest: "Content-MD5"},
		{name: "PUT, Content-MD5 malformed", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"Content-MD5": "nope"}), want: ErrMalformed},
		{name: "PUT, checksum header crc32", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"X-Amz-Checksum-Crc32": checksumOf("x-amz-checksum-crc32", data)}), body: data},
		{name: "PUT, checksum header crc32c", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"X-Amz-Checksum-Crc32c": checksumOf("x-amz-checksum-crc32c", data)}), body: data},
		{name: "PUT, checksum header crc64nvme", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"X-Amz-Checksum-Crc64nvme": checksumOf("x-amz-checksum-crc64nvme", data)}), body: data},
		{name: "PUT, checksum header sha1", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"X-Amz-Checksum-Sha1": checksumOf("x-amz-checksum-sha1", data)}), body: data},
		{name: "PUT, checksum header sha256", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"X-Amz-Checksum-Sha256": checksumOf("x-amz-checksum-sha256", data)}), body: data},
		{name: "PUT, checksum header mismatch", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"X-Amz-Checksum-Crc64nvme": checksumOf("x-amz-checksum-crc64nvme", data[1:])}), wantRd: ErrBadDigest, digest: "x-amz-checksum-crc64nvme"},
		{name: "PUT, checksum header unknown algorithm", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"X-Amz-Checksum-Md4": "AAAA"}), want: ErrMalformed},
		{name: "PUT, checksum algorithm and type headers are not checksums", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"X-Amz-Checksum-Algorithm": "CRC32", "X-Amz-Checksum-Type": "FULL_OBJECT", "X-Amz-Sdk-Checksum-Algorithm": "CRC32"}), body: data},
		{name: "x-amz-trailer without aws-chunked", req: signed("PUT", "/bkt/k", data, UnsignedPayload, map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}), want: ErrMalformed},
		{name: "streaming", req: func(t *testing.T) *http.Request { return streamingReq(t, StreamingPayload, data, 1024, nil, nil) }, body: data, payload: StreamingPayload},
		{name: "streaming, trailer", req: func(t *testing.T) *http.Request {
			return streamingReq(t, StreamingPayloadTrailer, data, 1024, crc, nil)
		}, body: data, payload: StreamingPayloadTrailer},
		{name: "streaming, unsigned trailer", req: func(t *testing.T) *http.Request {
			return streamingReq(t, StreamingUnsignedTrailer, data, 1024, crc, nil)
		}, body: data, payload: StreamingUnsignedTrailer},
		{name: "streaming, unsigned trailer, byte flipped", req: func(t *testing.T) *http.Request {
			return streamingReq(t, StreamingUnsignedTrailer, data, 1024, crc, func(b []byte) []byte { b[10] ^= 1; return b })
		}, wantRd: ErrBadDigest, digest: "x-amz-checksum-crc32c"},
		{name: "streaming, byte flipped", req: func(t *testing.T) *http.Request {
			return streamingReq(t, StreamingPayload, data, 1024, nil, func(b []byte) []byte { b[2000] ^= 1; return b })
		}, wantRd: ErrSignature},
		{name: "streaming without decoded length", req: func(t *testing.T) *http.Request {
			r := streamingReq(t, StreamingPayload, data, 1024, nil, nil)
			r.Header.Del("X-Amz-Decoded-Content-Length") // (signed: the signature breaks too, but the framing is checked first)
			return r
		}, want: ErrSignature},
		{name: "multi-valued and spaced headers", req: func(t *testing.T) *http.Request {
			r := newReq(t, "GET", "/bkt/k", nil)
			r.Header.Add("X-Amz-Meta-A", "one")
			r.Header.Add("X-Amz-Meta-A", "  two   words ")
			signRequest(t, r, emptySHA256, testSecret, testTime)
			return r
		}},
		{name: "key with reserved and UTF-8 bytes", req: signed("GET", "/bkt/a%20b/c%2Bd%21%24%26%27%28%29%2A%2C%3B%3D%3A%40~_.-/%D0%BA%D0%BB%D1%8E%D1%87", nil, emptySHA256, nil)},
		{name: "key with an escaped slash", req: signed("GET", "/bkt/a%2Fb", nil, emptySHA256, nil)},
		{name: "query needing encoding", req: signed("GET", "/bkt?list-type=2&prefix=a%20b%2Bc&delimiter=%2F&uploads", nil, emptySHA256, nil)},
		{name: "configured region", region: "eu-west-3", req: func(t *testing.T) *http.Request {
			r := newReq(t, "GET", "/bkt/k", nil)
			r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
			signAt(t, r, "eu-west-3", "s3", testTime)
			return r
		}},
		{name: "us-east-1 with another region configured", region: "eu-west-3", req: signed("GET", "/bkt/k", nil, emptySHA256, nil)},
		{name: "wrong region", req: func(t *testing.T) *http.Request {
			r := newReq(t, "GET", "/bkt/k", nil)
			r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
			signAt(t, r, "eu-west-3", "s3", testTime)
			return r
		}, want: ErrMalformed},
		{name: "wrong service", req: func(t *testing.T) *http.Request {
			r := newReq(t, "GET", "/bkt/k", nil)
			r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
			signAt(t, r, "us-east-1", "iam", testTime)
			return r
		}, want: ErrMalformed},
		{name: "unsigned x-amz header", req: func(t *testing.T) *http.Request {
			r := signed("GET", "/bkt/k", nil, emptySHA256, nil)(t)
			r.Header.Set("X-Amz-Copy-Source", "/other/secret")
			return r
		}, want: ErrSignature},
		{name: "no x-amz-content-sha256 with a body", req: func(t *testing.T) *http.Request {
			r := signed("PUT", "/bkt/k", data, hexSHA256(data), nil)(t)
			r.Header.Del("X-Amz-Content-Sha256")
			return r
		}, want: ErrMalformed},
		{name: "no x-amz-content-sha256 and no body", req: func(t *testing.T) *http.Request {
			r := newReq(t, "GET", "/bkt/k", nil)
			signAt(t, r, "us-east-1", "s3", testTime)
			return r
		}},
		{name: "bad x-amz-content-sha256", req: signed("PUT", "/bkt/k", data, "abc", nil), want: ErrMalformed},
		{name: "SigV4A payload", req: signed("PUT", "/bkt/k", data, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", nil), want: ErrUnsupported},
		{name: "date header only", req: func(t *testing.T) *http.Request {
			r := signed("GET", "/bkt/k", nil, emptySHA256, nil)(t)
			r.Header.Del("X-Amz-Date")
			return r
		}, want: ErrMalformed},
		{name: "no date at all", req: func(t *testing.T) *http.Request {
			r := signed("GET", "/bkt/k", nil, emptySHA256, nil)(t)
			r.Header.Del("X-Amz-Date")
			r.Header.Del("Date")
			return r
		}, want: ErrMalformed},
		{name: "malformed date", req: func(t *testing.T) *http.Request {
			r := signed("GET", "/bkt/k", nil, emptySHA256, nil)(t)
			r.Header.Set("X-Amz-Date", "2026-01-02T03:04:05Z")
			return r
		}, want: ErrMalformed},
		{name: "credential date is not the request's", req: func(t *testing.T) *http.Request {
			r := signed("GET", "/bkt/k", nil, emptySHA256, nil)(t)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20260102/", "/20260101/", 1))
			return r
		}, want: ErrMalformed},
		{name: "anonymous", req: func(t *testing.T) *http.Request { return newReq(t, "GET", "/bkt/k", nil) }, want: ErrMissingAuth},
		{name: "Signature Version 2", req: func(t *testing.T) *http.Request {
			r := newReq(t, "GET", "/bkt/k", nil)
			r.Header.Set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=")
			return r
		}, want: ErrUnsupported},
		{name: "Signature Version 2 presigned", req: func(t *testing.T) *http.Request {
			return newReq(t, "GET", "/bkt/k?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1141889120&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D", nil)
		}, want: ErrUnsupported},
		{name: "SigV4A", req: func(t *testing.T) *http.Request {
			r := newReq(t, "GET", "/bkt/k", nil)
			r.Header.Set("Authorization", "AWS4-ECDSA-P256-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260102/s3/aws4_request, SignedHeaders=host, Signature=3045")
			return r
		}, want: ErrUnsupported},
		{name: "header and query both", req: func(t *testing.T) *http.Request {
			r := signed("GET", "/bkt/k?X-Amz-Algorithm=AWS4-HMAC-SHA256", nil, emptySHA256, nil)(t)
			return r
		}, want: ErrMalformed},
		{name: "two Authorization headers", req: func(t *testing.T) *http.Request {
			r := signed("GET", "/bkt/k", nil, emptySHA256, nil)(t)
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
			return r
		}, want: ErrMalformed},
		{name: "unknown scheme", req: func(t *testing.T) *http.Request {
			r := newReq(t, "GET", "/bkt/k", nil)
			r.Header.Set("Authorization", "Bearer token")
			return r
		}, want: ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := &Verifier{Keys: testKeys, Now: fixedClock(testTime), Region: c.region}
			r := serverRequest(t, c.req(t))
			a, err := v.Verify(r)
			wantErr(t, err, c.want)
			if c.want == ErrMissingAuth {
				if a == nil || !a.Anonymous || a.Body == nil {
					t.Fatalf("anonymous request: Auth %+v", a)
				}
				return
			}
			if c.want != nil {
				if a != nil {
					t.Fatalf("Auth %+v with error", a)
				}
				return
			}
			if a.Key.AccessKey != testAccessKey || a.Anonymous || a.Presigned {
				t.Fatalf("Auth %+v", a)
			}
			if c.payload != "" && a.ContentSHA256 != c.payload {
				t.Fatalf("ContentSHA256 %q, want %q", a.ContentSHA256, c.payload)
			}
			got, err := io.ReadAll(a.Body)
			wantErr(t, err, c.wantRd)
			var de *DigestError
			if errors.As(err, &de) && (c.digest == "" || de.Name != c.digest) {
				t.Fatalf("DigestError names %q, want %q", de.Name, c.digest)
			}
			if c.wantRd != nil {
				if int64(len(got)) >= a.DecodedLength {
					t.Fatalf("read %d of %d bytes of a refused body", len(got), a.DecodedLength)
				}
				return
			}
			if c.body != nil && !bytes.Equal(got, c.body) {
				t.Fatalf("body: %d bytes, want %d", len(got), len(c.body))
			}
			if a.DecodedLength != int64(len(got)) {
				t.Fatalf("DecodedLength %d, read %d", a.DecodedLength, len(got))
			}
			if err := a.Body.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// signAt signs r for region and service with the SDK's signer, payload
// hash as the header says (or empty).
func signAt(t *testing.T, r *http.Request, region, svc string, at time.Time) {
	t.Helper()
	h := r.Header.Get("X-Amz-Content-Sha256")
	if h == "" {
		h = emptySHA256
	}
	s := newSDKSigner()
	if err := s.SignHTTP(t.Context(), testCreds(testSecret), r, h, svc, region, at); err != nil {
		t.Fatal(err)
	}
}

func TestVerifySkew(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want error
	}{
		{0, nil}, {15 * time.Minute, nil}, {-15 * time.Minute, nil},
		{15*time.Minute + time.Second, ErrSkew}, {-15*time.Minute - time.Second, ErrSkew}, {24 * time.Hour, ErrSkew},
	} {
		r := newReq(t, "GET", "/bkt/k", nil)
		signRequest(t, r, emptySHA256, testSecret, testTime)
		v := &Verifier{Keys: testKeys, Now: fixedClock(testTime.Add(tc.d))}
		_, err := v.Verify(serverRequest(t, r))
		if !errorsIs(err, tc.want) {
			t.Errorf("server clock %v off: %v, want %v", tc.d, err, tc.want)
		}
	}
	// MaxSkew is configurable.
	r := newReq(t, "GET", "/bkt/k", nil)
	signRequest(t, r, emptySHA256, testSecret, testTime)
	v := &Verifier{Keys: testKeys, Now: fixedClock(testTime.Add(2 * time.Minute)), MaxSkew: time.Minute}
	_, err := v.Verify(serverRequest(t, r))
	wantErr(t, err, ErrSkew)
}

func TestVerifyKeys(t *testing.T) {
	secret := testSecret
	keys := func(ak string) (Key, bool) {
		return Key{AccessKey: ak, SecretKey: secret}, ak == testAccessKey
	}
	v := &Verifier{Keys: keys, Now: fixedClock(testTime)}
	req := func(s string) *http.Request {
		r := newReq(t, "GET", "/bkt/k", nil)
		signRequest(t, r, emptySHA256, s, testTime)
		return serverRequest(t, r)
	}
	_, err := v.Verify(req(testSecret))
	wantErr(t, err, nil)
	// The secret changes (a config reload): the cached key is not used.
	secret = "rotated"
	_, err = v.Verify(req(testSecret))
	wantErr(t, err, ErrSignature)
	_, err = v.Verify(req("rotated"))
	wantErr(t, err, nil)
	// No lookup, or a key without a secret, knows nobody.
	_, err = (&Verifier{Now: fixedClock(testTime)}).Verify(req(testSecret))
	wantErr(t, err, ErrUnknownKey)
	_, err = (&Verifier{Now: fixedClock(testTime), Keys: func(string) (Key, bool) { return Key{}, true }}).Verify(req(""))
	wantErr(t, err, ErrUnknownKey)
}

func TestKeyCacheBounded(t *testing.T) {
	c := newKeyCache(3)
	for i := range 10 {
		s := scope{accessKey: "ak" + strconv.Itoa(i), date: "20260102", region: "us-east-1", service: "s3"}
		k := c.get("secret", s)
		if !bytes.Equal(k, deriveKey("secret", s.date, s.region, s.service)) {
			t.Fatal("cached key differs from the derived one")
		}
		if c.len() > 3 {
			t.Fatalf("cache holds %d keys, bound 3", c.len())
		}
	}
	s := scope{accessKey: "ak", date: "20260102", region: "us-east-1", service: "s3"}
	a := c.get("one", s)
	if b := c.get("two", s); bytes.Equal(a, b) {
		t.Fatal("a changed secret got the old key")
	}
}

func TestPresignedLimits(t *testing.T) {
	for _, tc := range []struct {
		expires time.Duration
		now     time.Duration
		want    error
	}{
		{time.Second, 0, nil},
		{time.Second, time.Second, nil},
		{time.Second, 2 * time.Second, ErrExpired},
		{MaxPresignExpires, MaxPresignExpires, nil},
		{MaxPresignExpires, MaxPresignExpires + time.Second, ErrExpired},
		{MaxPresignExpires + time.Second, 0, ErrMalformed},
		{time.Hour, -16 * time.Minute, ErrSkew},
		{time.Hour, -14 * time.Minute, nil},
	} {
		r := newReq(t, "GET", "/bkt/k", nil)
		u := presignURL(t, r, testSecret, testTime, tc.expires)
		sr := serverRequest(t, newReq(t, "GET", strings.TrimPrefix(u, "http://s3.test:9000"), nil))
		v := &Verifier{Keys: testKeys, Now: fixedClock(testTime.Add(tc.now))}
		a, err := v.Verify(sr)
		if !errorsIs(err, tc.want) {
			t.Errorf("expires %v, %v later: %v, want %v", tc.expires, tc.now, err, tc.want)
		}
		if err == nil && (!a.Presigned || a.ContentSHA256 != UnsignedPayload) {
			t.Errorf("Auth %+v", a)
		}
	}
	// X-Amz-Expires 0, negative, not a number.
	for _, e := range []string{"0", "-1", "x", ""} {
		q, _ := parseQuery("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260102T030405Z&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("0", 64) + "&X-Amz-Expires=" + e)
		_, err := parsePresigned(q)
		wantErr(t, err, ErrMalformed)
	}
}

// A URL presigned over the hash of an empty body (as some presigners do)
// verifies, and holds the body to being empty.
func TestPresignedEmptyPayloadHash(t *testing.T) {
	r := newReq(t, "GET", "/bkt/k", nil)
	q := r.URL.Query()
	q.Set("X-Amz-Expires", "60")
	r.URL.RawQuery = q.Encode()
	u, _, err := newSDKSigner().PresignHTTP(t.Context(), testCreds(testSecret), r, emptySHA256, "s3", "us-east-1", testTime)
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Keys: testKeys, Now: fixedClock(testTime)}
	target := strings.TrimPrefix(u, "http://s3.test:9000")
	a, _, err := verifyAndRead(v, serverRequest(t, newReq(t, "GET", target, nil)))
	wantErr(t, err, nil)
	if a.ContentSHA256 != emptySHA256 {
		t.Fatalf("ContentSHA256 %q", a.ContentSHA256)
	}
	_, _, err = verifyAndRead(v, serverRequest(t, newReq(t, "GET", target, []byte("x"))))
	wantErr(t, err, ErrBadDigest)
}

func TestPresignedBodyChecks(t *testing.T) {
	data := payload(1000)
	r := newReq(t, "PUT", "/bkt/k", nil)
	u := presignURL(t, r, testSecret, testTime, time.Hour)
	v := &Verifier{Keys: testKeys, Now: fixedClock(testTime)}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		body []byte
		want error
	}{
		{"plain", nil, data, nil},
		{"Content-MD5", map[string]string{"Content-MD5": b64MD5(data)}, data, nil},
		{"Content-MD5 mismatch", map[string]string{"Content-MD5": b64MD5(data)}, data[1:], ErrBadDigest},
		{"x-amz-content-sha256 named", map[string]string{"X-Amz-Content-Sha256": hexSHA256(data)}, data, nil},
		{"x-amz-content-sha256 mismatch", map[string]string{"X-Amz-Content-Sha256": hexSHA256(data)}, data[1:], ErrBadDigest},
	} {
		req := newReq(t, "PUT", strings.TrimPrefix(u, "http://s3.test:9000"), tc.body)
		for k, val := range tc.hdr {
			req.Header.Set(k, val)
		}
		_, got, err := verifyAndRead(v, serverRequest(t, req))
		if !errorsIs(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if tc.want == nil && !bytes.Equal(got, tc.body) {
			t.Errorf("%s: body differs", tc.name)
		}
	}
}

// failReader fails the test's expectations if anything reads it.
type failReader struct{ read *bool }

func (f failReader) Read([]byte) (int, error) { *f.read = true; return 0, io.ErrUnexpectedEOF }
func (f failReader) Close() error             { return nil }

// Verify reads no byte of the body: the handler may refuse a request
// before its client sent the body (Expect: 100-continue).
func TestVerifyReadsNoBody(t *testing.T) {
	data := payload(100)
	for _, mk := range []func() *http.Request{
		func() *http.Request {
			r := newReq(t, "PUT", "/bkt/k", data)
			signRequest(t, r, hexSHA256(data), testSecret, testTime)
			return r
		},
		func() *http.Request { return streamingReq(t, StreamingPayload, data, 64, nil, nil) },
		func() *http.Request {
			return streamingReq(t, StreamingUnsignedTrailer, data, 64, [][2]string{{"x-amz-checksum-sha1", checksumOf("x-amz-checksum-sha1", data)}}, nil)
		},
	} {
		r := mk()
		read := false
		r.Body = failReader{&read}
		if _, err := (&Verifier{Keys: testKeys, Now: fixedClock(testTime)}).Verify(r); err != nil {
			t.Fatal(err)
		}
		if read {
			t.Fatal("Verify read the body")
		}
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v := &Verifier{Keys: testKeys, Now: fixedClock(testTime)}
	data := payload(5000)
	reqs := make(chan *http.Request, 64)
	for range cap(reqs) {
		reqs <- streamingReq(t, StreamingPayload, data, 1000, nil, nil)
	}
	close(reqs)
	errs := make(chan error, cap(reqs))
	for range 4 {
		go func() {
			for r := range reqs {
				_, got, err := verifyAndRead(v, r)
				if err == nil && !bytes.Equal(got, data) {
					err = io.ErrShortBuffer
				}
				errs <- err
			}
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
