package s3_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"strata/node/s3/s3test"
)

// discardResponse is a ResponseWriter that keeps only the status, so an
// allocation count of a handler benchmark is the handler's own.
type discardResponse struct {
	h      http.Header
	status int
}

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) WriteHeader(code int)        { d.status = code }
func (d *discardResponse) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkGetObjectHandler is the S3 handler's own cost of a header-signed
// GetObject of a 4 KiB object served from RAM (SigV4 check, bucket mapping,
// headers, body), without a connection: run with -benchmem, its allocs/op
// is the per-request garbage the S3 path adds over the store's.
func BenchmarkGetObjectHandler(b *testing.B) {
	n := s3test.Start(b, s3test.Options{Store: s3test.TieredStore(b)})
	c := s3.New(s3.Options{Region: s3test.Region, BaseEndpoint: aws.String(n.URL), UsePathStyle: true,
		Credentials: staticCreds(), RetryMaxAttempts: 1})
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	body := randomBytes(4<<10, 3)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("k"), Body: bytes.NewReader(body)}); err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, n.URL+"/bench/k", nil)
	if err != nil {
		b.Fatal(err)
	}
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	req.Header.Set("X-Amz-Content-Sha256", emptyHash)
	creds := aws.Credentials{AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptyHash, "s3", s3test.Region, time.Now()); err != nil {
		b.Fatal(err)
	}
	w := &discardResponse{h: http.Header{}}
	for b.Loop() {
		clear(w.h)
		w.status = 0
		req.Body = http.NoBody // as a server hands a GET; Verify wraps it
		n.Handler.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}
