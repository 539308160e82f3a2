package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Test credentials (AWS's documented example key).
const (
	testAccessKey = "AKIAIOSFODNN7EXAMPLE"
	testSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// testKeys knows testAccessKey only.
func testKeys(ak string) (Key, bool) {
	if ak != testAccessKey {
		return Key{}, false
	}
	return Key{AccessKey: ak, SecretKey: testSecret, Scope: ScopeReadWrite}, true
}

// fixedClock returns a Now that always answers t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// sentinels are the package's errors, for naming which one an error is.
var sentinels = []error{ErrMissingAuth, ErrUnknownKey, ErrSignature, ErrSkew, ErrExpired, ErrBadDigest, ErrMalformed, ErrUnsupported}

// sentinelOf names the sentinel err wraps ("nil" for nil, "other" for none).
func sentinelOf(err error) string {
	if err == nil {
		return "nil"
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "other: " + err.Error()
}

// wantErr fails t unless err wraps want (nil: no error).
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v (%s), want %v", err, sentinelOf(err), want)
	}
}

// verifyAndRead runs Verify on r and reads the whole body it returns.
func verifyAndRead(v *Verifier, r *http.Request) (*Auth, []byte, error) {
	a, err := v.Verify(r)
	if err != nil {
		return a, nil, err
	}
	b, err := io.ReadAll(a.Body)
	a.Body.Close()
	return a, b, err
}

// outcome is what the verifying test server saw of one request.
type outcome struct {
	method, uri string
	auth        *Auth
	body        []byte
	err         error
}

// verifyServer is an httptest server that runs Verify on every request,
// reads the verified body and answers just enough of S3 for the SDKs.
type verifyServer struct {
	v        *Verifier
	plain    *httptest.Server
	tls      *httptest.Server
	mu       sync.Mutex
	outcomes []outcome
}

func newVerifyServer(t *testing.T, v *Verifier) *verifyServer {
	s := &verifyServer{v: v}
	s.plain = httptest.NewServer(http.HandlerFunc(s.serve))
	s.tls = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.plain.Close)
	t.Cleanup(s.tls.Close)
	return s
}

func (s *verifyServer) serve(w http.ResponseWriter, r *http.Request) {
	a, body, err := verifyAndRead(s.v, r)
	s.mu.Lock()
	s.outcomes = append(s.outcomes, outcome{r.Method, r.RequestURI, a, body, err})
	s.mu.Unlock()
	if err != nil {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<Error><Code>AccessDenied</Code><Message>%s</Message></Error>", sentinelOf(err))
		return
	}
	sum := sha256.Sum256(body)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>up1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<CompleteMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key><ETag>"x-1"</ETag></CompleteMultipartUploadResult>`)
	case r.Method == http.MethodGet:
		w.Header().Set("Content-Length", "5")
		fmt.Fprint(w, "hello")
	}
}

// take returns and forgets the outcomes so far.
func (s *verifyServer) take() []outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.outcomes
	s.outcomes = nil
	return o
}

// last returns the one outcome since the last take, failing t otherwise.
func (s *verifyServer) last(t *testing.T) outcome {
	t.Helper()
	o := s.take()
	if len(o) != 1 {
		t.Fatalf("server saw %d requests, want 1: %+v", len(o), o)
	}
	return o[0]
}

// signRequest signs a client request with the AWS SDK's signer for S3
// (path not re-escaped), payload named by payloadHash, at time t.
func signRequest(t *testing.T, r *http.Request, payloadHash, secret string, at time.Time) {
	t.Helper()
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: secret}
	if err := s.SignHTTP(context.Background(), creds, r, payloadHash, "s3", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
}

// presignURL presigns r with the AWS SDK's signer and returns the URL.
func presignURL(t *testing.T, r *http.Request, secret string, at time.Time, expires time.Duration) string {
	t.Helper()
	q := r.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	r.URL.RawQuery = q.Encode()
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: secret}
	u, _, err := s.PresignHTTP(context.Background(), creds, r, UnsignedPayload, "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// serverRequest turns a client request into what a server's handler
// sees, by writing it out and reading it back as net/http does.
func serverRequest(t testing.TB, r *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufioReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	return sr
}

// chunkedEncoder writes aws-chunked bodies for tests, signing chunks (and
// trailer) with the chain the request's seed signature starts.
type chunkedEncoder struct {
	signed     bool
	key        []byte
	scope      string
	date       string
	prev       string
	chunkSize  int
	trailers   [][2]string // name, value
	trailerSig bool
}

func (e *chunkedEncoder) encode(data []byte) []byte {
	var out bytes.Buffer
	for {
		n := min(e.chunkSize, len(data))
		chunk := data[:n]
		data = data[n:]
		fmt.Fprintf(&out, "%x", n)
		if e.signed {
			sum := sha256.Sum256(chunk)
			sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + e.date + "\n" + e.scope + "\n" + e.prev + "\n" + emptySHA256 + "\n" + hex.EncodeToString(sum[:])
			e.prev = signature(e.key, sts)
			out.WriteString(";chunk-signature=" + e.prev)
		}
		out.WriteString("\r\n")
		out.Write(chunk)
		if n == 0 {
			break
		}
		out.WriteString("\r\n")
	}
	if len(e.trailers) == 0 && !e.trailerSig {
		out.WriteString("\r\n")
		return out.Bytes()
	}
	var canon strings.Builder
	for _, tr := range e.trailers {
		out.WriteString(tr[0] + ":" + tr[1] + "\r\n")
		canon.WriteString(tr[0] + ":" + tr[1] + "\n")
	}
	if e.trailerSig {
		sum := sha256.Sum256([]byte(canon.String()))
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + e.date + "\n" + e.scope + "\n" + e.prev + "\n" + hex.EncodeToString(sum[:])
		out.WriteString(trailerSignature + ":" + signature(e.key, sts) + "\r\n")
	}
	out.WriteString("\r\n")
	return out.Bytes()
}

// seedSignature pulls the signature out of a signed request's
// Authorization header.
func seedSignature(t testing.TB, r *http.Request) string {
	t.Helper()
	_, sig, ok := strings.Cut(r.Header.Get("Authorization"), "Signature=")
	if !ok {
		t.Fatalf("no signature in %q", r.Header.Get("Authorization"))
	}
	return sig
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func newSDKSigner() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

func testCreds(secret string) aws.Credentials {
	return aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: secret}
}
