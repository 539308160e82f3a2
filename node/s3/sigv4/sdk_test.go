package sigv4

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// The forms the SDKs send, found by running them against a recording
// server (aws-sdk-go-v2 service/s3 v1.114, minio-go v7.4):
//
//	aws, http://, default checksums (WhenSupported, as LoadDefaultConfig
//	  sets): hex x-amz-content-sha256 + x-amz-checksum-crc32 header
//	aws, http://, WhenRequired: hex x-amz-content-sha256 only
//	aws, https://: STREAMING-UNSIGNED-PAYLOAD-TRAILER with an
//	  x-amz-checksum-crc32 trailer (WhenSupported), else UNSIGNED-PAYLOAD
//	aws presign: X-Amz-SignedHeaders=host, UNSIGNED-PAYLOAD, x-id in the query
//	minio, http://: STREAMING-AWS4-HMAC-SHA256-PAYLOAD (64 KiB chunks,
//	  Content-Encoding aws-chunked signed), unknown size as multipart
//	minio, https://: UNSIGNED-PAYLOAD
//
// Each is verified here, then tampered with after signing.

// tamperTransport changes requests after the SDK signed them.
type tamperTransport struct {
	base   http.RoundTripper
	tamper func(*http.Request)
}

func (t *tamperTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.tamper != nil {
		r = r.Clone(r.Context())
		t.tamper(r)
	}
	return t.base.RoundTrip(r)
}

// flipBody flips one byte of the body at offset at (negative: from the end).
func flipBody(at int) func(*http.Request) {
	return func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		i := at
		if i < 0 {
			i += len(b)
		}
		b = bytes.Clone(b)
		b[i] ^= 0x01
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
}

func setHeader(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

func addQuery(name, value string) func(*http.Request) {
	return func(r *http.Request) {
		q := r.URL.Query()
		q.Set(name, value)
		r.URL.RawQuery = q.Encode()
	}
}

// shiftDate moves x-amz-date by d.
func shiftDate(d time.Duration) func(*http.Request) {
	return func(r *http.Request) {
		t, _ := time.Parse(amzDateFormat, r.Header.Get("X-Amz-Date"))
		r.Header.Set("X-Amz-Date", t.Add(d).Format(amzDateFormat))
	}
}

type client struct {
	name string
	put  func(ctx context.Context, key string, body []byte) error
	part func(ctx context.Context, key string, body []byte) error
}

func awsClient(t *testing.T, endpoint string, base http.RoundTripper, tamper func(*http.Request), secret string, calc aws.RequestChecksumCalculation) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(testAccessKey, secret, ""),
		HTTPClient:                 &http.Client{Transport: &tamperTransport{base: base, tamper: tamper}},
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: calc,
	})
}

func minioClient(t *testing.T, endpoint string, secure bool, base http.RoundTripper, tamper func(*http.Request), secret string) *minio.Client {
	t.Helper()
	u, _ := url.Parse(endpoint)
	c, err := minio.New(u.Host, &minio.Options{
		Creds:     mcreds.NewStaticV4(testAccessKey, secret, ""),
		Secure:    secure,
		Region:    "us-east-1",
		Transport: &tamperTransport{base: base, tamper: tamper},
		// One attempt: a refused request must reach the server once.
		MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clients builds every SDK configuration against s, each request passed
// through tamper.
func clients(t *testing.T, s *verifyServer, tamper func(*http.Request), secret string) []client {
	plainT := http.DefaultTransport
	tlsT := s.tls.Client().Transport
	var out []client
	for _, c := range []struct {
		name     string
		endpoint string
		base     http.RoundTripper
		calc     aws.RequestChecksumCalculation
	}{
		{"aws-http-default-checksum", s.plain.URL, plainT, aws.RequestChecksumCalculationWhenSupported},
		{"aws-http-when-required", s.plain.URL, plainT, aws.RequestChecksumCalculationWhenRequired},
		{"aws-https-trailer", s.tls.URL, tlsT, aws.RequestChecksumCalculationWhenSupported},
	} {
		cl := awsClient(t, c.endpoint, c.base, tamper, secret, c.calc)
		out = append(out, client{
			name: c.name,
			put: func(ctx context.Context, key string, body []byte) error {
				_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: bytes.NewReader(body)})
				return err
			},
			part: func(ctx context.Context, key string, body []byte) error {
				_, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: aws.String("up1"), PartNumber: aws.Int32(1), Body: bytes.NewReader(body)})
				return err
			},
		})
	}
	for _, c := range []struct {
		name     string
		endpoint string
		secure   bool
		base     http.RoundTripper
	}{
		{"minio-http-streaming", s.plain.URL, false, plainT},
		{"minio-https-unsigned", s.tls.URL, true, tlsT},
	} {
		mc := minioClient(t, c.endpoint, c.secure, c.base, tamper, secret)
		out = append(out, client{
			name: c.name,
			put: func(ctx context.Context, key string, body []byte) error {
				_, err := mc.PutObject(ctx, "bkt", key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
				return err
			},
			part: func(ctx context.Context, key string, body []byte) error {
				// Unknown size: minio-go uploads it as a multipart upload.
				_, err := mc.PutObject(ctx, "bkt", key, io.NopCloser(bytes.NewReader(body)), -1, minio.PutObjectOptions{PartSize: 5 << 20})
				return err
			},
		})
	}
	return out
}

// payload returns n bytes of a pattern.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestSDKsVerify(t *testing.T) {
	v := &Verifier{Keys: testKeys}
	s := newVerifyServer(t, v)
	ctx := context.Background()
	for _, size := range []int{0, 1, 100, 200 << 10} {
		body := payload(size)
		for _, c := range clients(t, s, nil, testSecret) {
			t.Run(c.name, func(t *testing.T) {
				for op, do := range map[string]func(context.Context, string, []byte) error{"put": c.put, "part": c.part} {
					s.take()
					key := "dir/key with spaces+!"
					if size == 1 {
						key = "/lead//ключ 100%~*'();:@&=$,?#[]" // every byte S3 encodes, and empty segments
					}
					if err := do(ctx, key, body); err != nil {
						t.Fatalf("%s %d bytes: %v", op, size, err)
					}
					for _, o := range s.take() {
						if o.err != nil {
							t.Fatalf("%s %s: %v", o.method, o.uri, o.err)
						}
						if o.method == http.MethodPut && !bytes.Equal(o.body, body) {
							t.Fatalf("%s %s: server read %d bytes, want %d equal ones", o.method, o.uri, len(o.body), len(body))
						}
					}
				}
			})
		}
	}
}

func TestSDKsTampered(t *testing.T) {
	body := payload(200 << 10)
	cases := []struct {
		name   string
		tamper func(*http.Request)
		secret string
		now    time.Duration // the server's clock minus the client's
		want   map[string]error
	}{
		{name: "first body byte", tamper: flipBody(200), want: map[string]error{
			"aws-http-default-checksum": ErrBadDigest, "aws-http-when-required": ErrBadDigest,
			"aws-https-trailer": ErrBadDigest, "minio-http-streaming": ErrSignature,
			// minio over TLS sends UNSIGNED-PAYLOAD without a checksum: TLS is its protection.
		}},
		{name: "last body byte", tamper: flipBody(-1), want: map[string]error{
			"aws-http-default-checksum": ErrBadDigest, "aws-http-when-required": ErrBadDigest,
			// the last bytes of aws-chunked are framing: the final CRLF.
			"aws-https-trailer": ErrMalformed, "minio-http-streaming": ErrMalformed,
		}},
		{name: "signed header", tamper: setHeader("Content-Type", "text/evil"), want: all(ErrSignature)},
		{name: "unsigned x-amz header added", tamper: setHeader("X-Amz-Meta-Evil", "1"), want: all(ErrSignature)},
		{name: "query", tamper: addQuery("versionId", "evil"), want: all(ErrSignature)},
		{name: "date within skew", tamper: shiftDate(time.Second), want: all(ErrSignature)},
		{name: "date beyond skew", tamper: shiftDate(-16 * time.Minute), want: all(ErrSkew)},
		{name: "wrong secret", secret: "not-the-secret", want: all(ErrSignature)},
		{name: "server clock 16 minutes ahead", now: 16 * time.Minute, want: all(ErrSkew)},
		{name: "server clock 14 minutes behind", now: -14 * time.Minute, want: all(nil)},
		{name: "unknown access key", tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAccessKey, "AKIDUNKNOWN", 1))
		}, want: all(ErrUnknownKey)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{Keys: testKeys, Now: func() time.Time { return time.Now().Add(tc.now) }}
			s := newVerifyServer(t, v)
			secret := tc.secret
			if secret == "" {
				secret = testSecret
			}
			for _, c := range clients(t, s, tc.tamper, secret) {
				want, ok := tc.want[c.name]
				if !ok {
					continue
				}
				err := c.put(context.Background(), "k", body)
				o := s.last(t)
				if !errorsIs(o.err, want) {
					t.Errorf("%s: server error %v (%s), want %v", c.name, o.err, sentinelOf(o.err), want)
				}
				if want != nil && err == nil {
					t.Errorf("%s: client saw success", c.name)
				}
				if want != nil && len(o.body) >= len(body) {
					t.Errorf("%s: server read all %d bytes of a refused body", c.name, len(o.body))
				}
			}
		})
	}
}

// all expects want from every client.
func all(want error) map[string]error {
	m := map[string]error{}
	for _, n := range []string{"aws-http-default-checksum", "aws-http-when-required", "aws-https-trailer", "minio-http-streaming", "minio-https-unsigned"} {
		m[n] = want
	}
	return m
}

func errorsIs(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return err != nil && strings.Contains(sentinelOf(err), want.Error())
}

func TestSDKPresigned(t *testing.T) {
	v := &Verifier{Keys: testKeys}
	s := newVerifyServer(t, v)
	ctx := context.Background()
	cl := awsClient(t, s.plain.URL, http.DefaultTransport, nil, testSecret, aws.RequestChecksumCalculationWhenSupported)
	pc := s3.NewPresignClient(cl)
	mc := minioClient(t, s.plain.URL, false, http.DefaultTransport, nil, testSecret)
	body := payload(70 << 10)

	awsGet, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("a b/c+d!")}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	awsPut, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("a b/c+d!")}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	awsGetOverrides, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k~"),
		ResponseContentType: aws.String("text/plain; charset=utf-8"), ResponseContentDisposition: aws.String(`attachment; filename="a b+c.txt"`)})
	if err != nil {
		t.Fatal(err)
	}
	minioGet, err := mc.PresignedGetObject(ctx, "bkt", "a b/c+d!", time.Hour, url.Values{"response-cache-control": {"no-cache, max-age=0"}})
	if err != nil {
		t.Fatal(err)
	}
	minioPut, err := mc.PresignedPutObject(ctx, "bkt", "a b/c+d!", 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	urls := []struct {
		name, method, url string
	}{
		{"aws GET", http.MethodGet, awsGet.URL},
		{"aws GET with response overrides", http.MethodGet, awsGetOverrides.URL},
		{"aws PUT", http.MethodPut, awsPut.URL},
		{"minio GET", http.MethodGet, minioGet.String()},
		{"minio PUT", http.MethodPut, minioPut.String()},
	}
	do := func(method, u string, hdr http.Header) outcome {
		var rb io.Reader
		if method == http.MethodPut {
			rb = bytes.NewReader(body)
		}
		req, err := http.NewRequest(method, u, rb)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range hdr {
			req.Header[k] = vs
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return s.last(t)
	}
	for _, u := range urls {
		t.Run(u.name, func(t *testing.T) {
			o := do(u.method, u.url, nil)
			wantErr(t, o.err, nil)
			if !o.auth.Presigned {
				t.Fatal("Auth.Presigned not set")
			}
			if u.method == http.MethodPut && !bytes.Equal(o.body, body) {
				t.Fatalf("server read %d bytes, want %d", len(o.body), len(body))
			}
			// Tampered: another key, another expiry, another signature, an
			// unsigned x-amz header.
			for _, tm := range []struct {
				name string
				f    func(string) string
				hdr  http.Header
				want error
			}{
				{"path", func(s string) string { return strings.Replace(s, "/bkt/", "/bkt/x", 1) }, nil, ErrSignature},
				{"expires", func(s string) string { return reExpires.ReplaceAllString(s, "X-Amz-Expires=2") }, nil, ErrSignature},
				{"signature", flipSignature, nil, ErrSignature},
				{"parameter added", func(s string) string { return s + "&response-content-type=text%2Fhtml" }, nil, ErrSignature},
				{"parameter removed", func(s string) string { return strings.Replace(s, "X-Amz-SignedHeaders=host&", "", 1) }, nil, ErrMalformed},
				{"signature length", func(s string) string { return strings.Replace(s, "X-Amz-Signature=", "X-Amz-Signature=0", 1) }, nil, ErrMalformed},
				{"no signature", func(s string) string { return reSig.ReplaceAllString(s, "") }, nil, ErrMalformed},
				{"credential", func(s string) string { return strings.Replace(s, "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLF", 1) }, nil, ErrUnknownKey},
				{"unsigned header", func(s string) string { return s }, http.Header{"X-Amz-Meta-A": {"1"}}, ErrSignature},
			} {
				o := do(u.method, tm.f(u.url), tm.hdr)
				if !errorsIs(o.err, tm.want) {
					t.Errorf("%s: %v (%s), want %v", tm.name, o.err, sentinelOf(o.err), tm.want)
				}
			}
		})
	}
	// Expiry and skew, by moving the server's clock.
	for _, tc := range []struct {
		name string
		now  time.Duration
		want error
	}{
		{"59 minutes later", 59 * time.Minute, nil},
		{"61 minutes later", 61 * time.Minute, ErrExpired},
		{"14 minutes earlier", -14 * time.Minute, nil},
		{"16 minutes earlier", -16 * time.Minute, ErrSkew},
	} {
		v.Now = func() time.Time { return time.Now().Add(tc.now) }
		o := do(http.MethodGet, awsGet.URL, nil)
		if !errorsIs(o.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, o.err, tc.want)
		}
	}
	v.Now = func() time.Time { return time.Now().Add(7*24*time.Hour - time.Minute) }
	wantErr(t, do(http.MethodPut, minioPut.String(), nil).err, nil)
	v.Now = func() time.Time { return time.Now().Add(7*24*time.Hour + time.Minute) }
	wantErr(t, do(http.MethodPut, minioPut.String(), nil).err, ErrExpired)
}

var (
	reExpires = regexp.MustCompile(`X-Amz-Expires=[0-9]+`)
	reSig     = regexp.MustCompile(`&?X-Amz-Signature=[0-9a-f]*`)
)

// flipSignature changes the last hex digit of the URL's X-Amz-Signature.
func flipSignature(u string) string {
	loc := reSig.FindStringIndex(u)
	if loc == nil {
		return u
	}
	last := loc[1] - 1
	c := byte('0')
	if u[last] == '0' {
		c = '1'
	}
	return u[:last] + string(c) + u[last+1:]
}

// TestMinioTrailers covers minio-go with TrailingHeaders on (a multipart
// upload from a ReaderAt): STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER over
// http and STREAMING-UNSIGNED-PAYLOAD-TRAILER over https, both with an
// x-amz-checksum-crc32c trailer in minio-go's framing ("name:value\n\r\n").
func TestMinioTrailers(t *testing.T) {
	body := payload(5<<20 + 1000)
	for _, tc := range []struct {
		name   string
		tamper func(*http.Request)
		want   map[bool]error // by secure
	}{
		{"clean", nil, map[bool]error{false: nil, true: nil}},
		{"data byte flipped", flipPartBody(200), map[bool]error{false: ErrSignature, true: ErrBadDigest}},
		{"trailer value changed", changeTrailer, map[bool]error{false: ErrSignature, true: ErrBadDigest}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newVerifyServer(t, &Verifier{Keys: testKeys})
			for _, secure := range []bool{false, true} {
				endpoint, base := s.plain.URL, http.DefaultTransport
				if secure {
					endpoint, base = s.tls.URL, s.tls.Client().Transport
				}
				u, _ := url.Parse(endpoint)
				mc, err := minio.New(u.Host, &minio.Options{
					Creds: mcreds.NewStaticV4(testAccessKey, testSecret, ""), Secure: secure, Region: "us-east-1",
					Transport: &tamperTransport{base: base, tamper: tc.tamper}, TrailingHeaders: true, MaxRetries: 1,
				})
				if err != nil {
					t.Fatal(err)
				}
				_, err = mc.PutObject(context.Background(), "bkt", "big", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{PartSize: 5 << 20, NumThreads: 1})
				want := tc.want[secure]
				if (err == nil) != (want == nil) {
					t.Errorf("secure=%v: client error %v", secure, err)
				}
				parts := 0
				for _, o := range s.take() {
					if o.method != http.MethodPut {
						wantErr(t, o.err, nil)
						continue
					}
					parts++
					mode := o.auth
					if want == nil {
						wantErr(t, o.err, nil)
						if wantMode := map[bool]string{false: StreamingPayloadTrailer, true: StreamingUnsignedTrailer}[secure]; mode.ContentSHA256 != wantMode {
							t.Errorf("secure=%v: mode %s, want %s", secure, mode.ContentSHA256, wantMode)
						}
						continue
					}
					if !errorsIs(o.err, want) {
						t.Errorf("secure=%v: %v (%s), want %v", secure, o.err, sentinelOf(o.err), want)
					}
				}
				if parts == 0 {
					t.Errorf("secure=%v: no part uploaded", secure)
				}
			}
		})
	}
}

// flipPartBody flips byte at of every part upload's body.
func flipPartBody(at int) func(*http.Request) {
	return func(r *http.Request) {
		if r.Method == http.MethodPut {
			flipBody(at)(r)
		}
	}
}

// changeTrailer changes the first byte of the x-amz-checksum-crc32c
// trailer's value in a part upload's body.
func changeTrailer(r *http.Request) {
	if r.Method != http.MethodPut {
		return
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	const name = "x-amz-checksum-crc32c:"
	i := bytes.LastIndex(b, []byte(name))
	if i >= 0 {
		b = bytes.Clone(b)
		j := i + len(name)
		if b[j] == 'A' {
			b[j] = 'B'
		} else {
			b[j] = 'A'
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
}

// Virtual-host-style requests (bucket in the Host) verify the same way:
// the Host the client signed is the one it sent.
func TestSDKVirtualHost(t *testing.T) {
	s := newVerifyServer(t, &Verifier{Keys: testKeys})
	addr := s.plain.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	dial := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	cl := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://s3.strata.test:" + port),
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""),
		HTTPClient:  &http.Client{Transport: dial}, RetryMaxAttempts: 1,
	})
	body := payload(1000)
	if _, err := cl.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("v/h k"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	o := s.last(t)
	wantErr(t, o.err, nil)
	if !bytes.Equal(o.body, body) || !strings.HasPrefix(o.uri, "/v/h%20k") {
		t.Fatalf("server saw %s with %d bytes", o.uri, len(o.body))
	}
}
