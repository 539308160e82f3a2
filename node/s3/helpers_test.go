package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"strata/node/s3/s3test"
)

// client is an AWS SDK S3 client for n, path-style, signing with the key.
func client(t *testing.T, n *s3test.Node, accessKey, secret string) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region:           s3test.Region,
		BaseEndpoint:     aws.String(n.URL),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
		RetryMaxAttempts: 1,
	})
}

// staticCreds are the read-write key's credentials.
func staticCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(s3test.AccessKey, s3test.SecretKey, "")
}

// rwClient is a client with the read-write key.
func rwClient(t *testing.T, n *s3test.Node) *s3.Client {
	return client(t, n, s3test.AccessKey, s3test.SecretKey)
}

// apiCode is the S3 error code of err ("" when none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus is the HTTP status of a failed SDK call (0 when none).
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s (%d), got success", code, status)
	}
	if got := apiCode(err); code != "" && got != code {
		t.Fatalf("want code %s, got %q: %v", code, got, err)
	}
	if got := httpStatus(err); status != 0 && got != status {
		t.Fatalf("want status %d, got %d: %v", status, got, err)
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func md5Hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func mustCreateBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

func mustPut(t *testing.T, c *s3.Client, bucket, key string, body []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
	return out
}

func mustGet(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject %s/%s body: %v", bucket, key, err)
	}
	return b
}

// rawGet sends an unsigned request.
func rawDo(t *testing.T, method, url string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// stores are the stores the main flows run against: the in-memory fake,
// and the real tiered store in a temp dir (once it keeps S3 metadata).
var stores = map[string]func(*testing.T) s3test.Options{
	"memstore": func(*testing.T) s3test.Options { return s3test.Options{} },
	"tiered": func(t *testing.T) s3test.Options {
		st := s3test.TieredStore(t)
		s3test.NeedS3Store(t, st)
		return s3test.Options{Store: st}
	},
}
