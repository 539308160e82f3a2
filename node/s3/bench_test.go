package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"strata/node/s3/s3test"
)

// BenchmarkS3VsNative puts and gets one object through the S3 API (AWS SDK,
// default signing) and the same bytes through the blob API of the same
// node and store, so their ns/op compare the cost of S3 (signatures, XML,
// the SDK) on one client.
func BenchmarkS3VsNative(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		body := randomBytes(size, 11)
		n := s3test.Start(b, s3test.Options{Store: s3test.TieredStore(b)})
		native := httptest.NewServer(n.Server.Handler())
		b.Cleanup(native.Close)
		c := s3.New(s3.Options{Region: s3test.Region, BaseEndpoint: aws.String(n.URL), UsePathStyle: true,
			Credentials: staticCreds(), RetryMaxAttempts: 1})
		ctx := context.Background()
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("s3/put/%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprint("k", i%64)), Body: bytes.NewReader(body)}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("native/put/%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				req, _ := http.NewRequest(http.MethodPut, native.URL+fmt.Sprint("/blobs/bench/k", i%64), bytes.NewReader(body))
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != http.StatusCreated {
					b.Fatal(resp, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		b.Run(fmt.Sprintf("s3/get/%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprint("k", i%64))})
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, out.Body)
				out.Body.Close()
			}
		})
		b.Run(fmt.Sprintf("native/get/%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				resp, err := http.Get(native.URL + fmt.Sprint("/blobs/bench/k", i%64))
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatal(resp, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
