package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	e2eAccessKey = "E2EACCESSKEY"
	e2eSecretKey = "e2e-secret-key-0123456789"
)

// `strata serve` with [s3] serves the S3 API on its own listener over the
// same store as the blob API: an object written through S3 is the blob
// "bucket/key", and the blob API cannot write the S3 registry.
func TestServeS3Listener(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "strata.toml")
	if err := os.WriteFile(cfgPath, []byte(`
listen = "127.0.0.1:0"
admin_listen = "off"
data_dir = "`+filepath.Join(dir, "data")+`"
volume_size = "64MiB"
chunk_size = "1MiB"
ram_cache_size = "4MiB"
ssd_cache_size = "0"

[s3]
region = "us-east-1"

[[s3.keys]]
access_key = "`+e2eAccessKey+`"
secret_key = "`+e2eSecretKey+`"
scope = "read-write"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s3Re := regexp.MustCompile(`msg="s3 api ready" .*addr=(127\.0\.0\.1:\d+)`)
	logs := runServeWhile(t, []string{"--config", cfgPath, "--s3-listen", "127.0.0.1:0"}, func(base string, logs func() string) {
		m := s3Re.FindStringSubmatch(logs())
		for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); m = s3Re.FindStringSubmatch(logs()) {
			time.Sleep(10 * time.Millisecond)
		}
		if m == nil {
			t.Fatalf("no s3 listener in the logs:\n%s", logs())
		}
		c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + m[1]), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(e2eAccessKey, e2eSecretKey, ""), RetryMaxAttempts: 1})
		ctx := context.Background()
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("e2e")}); err != nil {
			t.Fatalf("CreateBucket: %v", err)
		}
		body := bytes.Repeat([]byte("strata"), 500000) // 3 MB: chunked in the store
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("e2e"), Key: aws.String("dir/obj"), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("e2e"), Key: aws.String("dir/obj")})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, body) {
			t.Fatalf("GetObject: %d bytes", len(got))
		}
		resp, err := http.Get(base + "/blobs/e2e/dir/obj")
		if err != nil {
			t.Fatal(err)
		}
		native, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(native, body) {
			t.Fatalf("the blob API does not see the S3 object: %d, %d bytes", resp.StatusCode, len(native))
		}
		req, _ := http.NewRequest(http.MethodDelete, base+"/blobs/.s3/buckets/e2e", nil)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("blob API DELETE of the bucket registry: %d", resp.StatusCode)
		}
		if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("e2e")}); err != nil {
			t.Fatalf("bucket gone after a refused blob API delete: %v", err)
		}
	})
	if strings.Contains(logs, e2eSecretKey) {
		t.Fatal("the S3 secret key reached the logs")
	}
}

func TestServeS3NeedsKeys(t *testing.T) {
	var stderr bytes.Buffer
	code := runServe(context.Background(), []string{"--data", t.TempDir(), "--listen", "127.0.0.1:0", "--s3-listen", "127.0.0.1:0"}, io.Discard, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "[[s3.keys]]") {
		t.Fatalf("exit %d, stderr %s", code, &stderr)
	}
}
