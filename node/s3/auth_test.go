package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"strata/node/s3/s3test"
)

func TestAuthRefusalsChangeNothing(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	mustCreateBucket(t, c, s3test.LimitedBucket)
	mustPut(t, c, "bkt", "k", []byte("original"))

	for _, tc := range []struct {
		name, ak, sk, code string
	}{
		{"wrong secret", s3test.AccessKey, "not-the-secret-0123456789", "SignatureDoesNotMatch"},
		{"unknown key", "NOSUCHKEY", s3test.SecretKey, "InvalidAccessKeyId"},
		{"read scope", s3test.ReadKey, s3test.ReadSecret, "AccessDenied"},
		{"other bucket", s3test.LimitedKey, s3test.LimitedSecret, "AccessDenied"},
	} {
		bad := client(t, n, tc.ak, tc.sk)
		_, err := bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("changed")})
		wantCode(t, err, tc.code, 403)
		_, err = bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(tc.name), Body: strings.NewReader("new")})
		wantCode(t, err, tc.code, 403)
		_, err = bad.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
		wantCode(t, err, tc.code, 403)
		_, err = bad.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("made-by-" + strings.ReplaceAll(tc.name, " ", "-"))})
		wantCode(t, err, tc.code, 403)
	}
	if got := mustGet(t, c, "bkt", "k"); string(got) != "original" {
		t.Fatalf("object changed by refused requests: %q", got)
	}
	list, _ := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	buckets, _ := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if len(list.Contents) != 1 || len(buckets.Buckets) != 2 {
		t.Fatalf("refused requests stored something: %d objects, %d buckets", len(list.Contents), len(buckets.Buckets))
	}

	// The read key reads; the limited key sees and writes only its bucket.
	ro := client(t, n, s3test.ReadKey, s3test.ReadSecret)
	if got := mustGet(t, ro, "bkt", "k"); string(got) != "original" {
		t.Fatalf("read key GET: %q", got)
	}
	lim := client(t, n, s3test.LimitedKey, s3test.LimitedSecret)
	mustPut(t, lim, s3test.LimitedBucket, "mine", []byte("x"))
	_, err := lim.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	wantCode(t, err, "AccessDenied", 403)
	lb, err := lim.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != s3test.LimitedBucket {
		t.Fatalf("limited key ListBuckets: %+v, %v", lb, err)
	}

	// Anonymous requests are refused.
	resp := rawDo(t, http.MethodGet, n.URL+"/bkt/k", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") || resp.Header.Get("X-Amz-Request-Id") == "" {
		t.Fatalf("anonymous GET: %d %s", resp.StatusCode, body)
	}
	resp = rawDo(t, http.MethodPut, n.URL+"/bkt/anon", strings.NewReader("x"))
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous PUT: %d", resp.StatusCode)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("anon")}); httpStatus(err) != 404 {
		t.Fatalf("anonymous PUT stored: %v", err)
	}
}

func TestClockSkew(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	n.SetSkew(20 * time.Minute)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantCode(t, err, "RequestTimeTooSkewed", 403)
	n.SetSkew(-20 * time.Minute)
	_, err = c.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantCode(t, err, "RequestTimeTooSkewed", 403)
	n.SetSkew(10 * time.Minute) // within 15 minutes
	mustPut(t, c, "bkt", "k", []byte("x"))
}

// signedPut builds a PUT signed with the SDK's signer, claiming payloadHash
// in x-amz-content-sha256 whatever the body is.
func signedPut(t *testing.T, n *s3test.Node, path string, body []byte, payloadHash string, extra map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, n.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	creds := aws.Credentials{AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, "s3", s3test.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestBadPayloadHashStoresNothing(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	body := []byte("the real body")
	other := sha256.Sum256([]byte("another body"))
	for _, tc := range []struct {
		name, hash string
		extra      map[string]string
		code       string
	}{
		{"sha256", hex.EncodeToString(other[:]), nil, "XAmzContentSHA256Mismatch"},
		{"content-md5", "UNSIGNED-PAYLOAD", map[string]string{"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, "BadDigest"},
	} {
		resp, err := http.DefaultClient.Do(signedPut(t, n, "/bkt/"+tc.name, body, tc.hash, tc.extra))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(msg), "<Code>"+tc.code+"</Code>") {
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, msg)
		}
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(tc.name)}); httpStatus(err) != 404 {
			t.Fatalf("%s: a body that failed its digest was stored (%v)", tc.name, err)
		}
	}
	good := sha256.Sum256(body)
	resp, err := http.DefaultClient.Do(signedPut(t, n, "/bkt/good", body, hex.EncodeToString(good[:]), nil))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("signed PUT with the right hash: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestPresignedURLs(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	pc := s3.NewPresignClient(c)
	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("pre")}, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, strings.NewReader("presigned body"))
	for k, vs := range put.SignedHeader {
		if k != "Host" {
			req.Header[k] = vs
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %v %v", resp, err)
	}
	resp.Body.Close()
	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("pre")}, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp = rawDo(t, http.MethodGet, get.URL, nil)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "presigned body" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, b)
	}
	// Past its expiry the same URL is refused.
	n.SetSkew(11 * time.Minute)
	resp = rawDo(t, http.MethodGet, get.URL, nil)
	b, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(b), "AccessDenied") || !strings.Contains(string(b), "expired") {
		t.Fatalf("expired presigned GET: %d %s", resp.StatusCode, b)
	}
	req, _ = http.NewRequest(put.Method, put.URL, strings.NewReader("overwrite"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 403 {
		t.Fatalf("expired presigned PUT: %v %v", resp, err)
	}
	resp.Body.Close()
	n.SetSkew(0)
	if got := mustGet(t, c, "bkt", "pre"); string(got) != "presigned body" {
		t.Fatalf("expired presigned PUT changed the object: %q", got)
	}
}
