package s3_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"strata/node/s3/s3test"
)

// tamperTransport flips one byte of every PUT body on the wire, after the
// client signed it (and framed it: aws-chunked with chunk signatures for
// minio-go, with a checksum trailer for the AWS SDK).
type tamperTransport struct{ at int64 }

func (t tamperTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && r.Body != nil {
		r = r.Clone(r.Context())
		r.Body = &flipReader{r: r.Body, at: t.at}
	}
	return http.DefaultTransport.RoundTrip(r)
}

type flipReader struct {
	r   io.ReadCloser
	at  int64
	off int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0x20
	}
	f.off += int64(n)
	return n, err
}

func (f *flipReader) Close() error { return f.r.Close() }

// A body changed in flight is refused and nothing is stored, whatever
// framing the client used.
func TestTamperedBodiesStoreNothing(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	body := randomBytes(300<<10, 12)

	tampered := s3.New(s3.Options{Region: s3test.Region, BaseEndpoint: aws.String(n.URL), UsePathStyle: true,
		Credentials: staticCreds(), RetryMaxAttempts: 1, HTTPClient: &http.Client{Transport: tamperTransport{at: 200 << 10}}})
	_, err := tampered.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("aws"), Body: bytes.NewReader(body)})
	if code := apiCode(err); httpStatus(err) != 400 || (code != "XAmzContentSHA256Mismatch" && code != "BadDigest") {
		t.Fatalf("tampered AWS SDK PUT: %v", err)
	}

	u, _ := url.Parse(n.URL)
	mc, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, ""),
		Region: s3test.Region, BucketLookup: minio.BucketLookupPath, MaxRetries: 1, Transport: tamperTransport{at: 200 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = mc.PutObject(ctx, "bkt", "minio", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
	if resp := minio.ToErrorResponse(err); resp.StatusCode != 403 || resp.Code != "SignatureDoesNotMatch" {
		t.Fatalf("tampered minio-go PUT: %v (%+v)", err, resp)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if err != nil || len(list.Contents) != 0 {
		t.Fatalf("tampered bodies were stored: %+v, %v", list.Contents, err)
	}
	// The same clients untampered store the object.
	mustPut(t, c, "bkt", "aws", body)
	if got := mustGet(t, c, "bkt", "aws"); !bytes.Equal(got, body) {
		t.Fatal("round trip")
	}
}
