package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"strata/blockstore"
	"strata/node/nodetest"
	s3h "strata/node/s3"
	"strata/node/s3/s3test"
)

// Bytes that fail their checksum are never served: before the first byte
// the answer is an error, after it the response is cut short.
func TestCorruptReadsAreNeverServed(t *testing.T) {
	mem := nodetest.NewMemStore(0)
	n := s3test.Start(t, s3test.Options{Store: mem})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	body := randomBytes(256<<10, 9)
	mustPut(t, c, "bkt", "k", body)

	mem.SetReadFault(fmt.Errorf("test: %w", blockstore.ErrCorrupt), 0)
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	wantCode(t, err, "ServiceUnavailable", 503)

	mem.SetReadFault(fmt.Errorf("test: %w", blockstore.ErrCorrupt), 128<<10)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatalf("GetObject with a fault past the first bytes: %v", err)
	}
	got, rerr := io.ReadAll(out.Body)
	out.Body.Close()
	if rerr == nil || len(got) >= len(body) || !bytes.Equal(got, body[:len(got)]) {
		t.Fatalf("a read failing midway: %d of %d bytes, err %v", len(got), len(body), rerr)
	}
	mem.SetReadFault(nil, 0)
	if got := mustGet(t, c, "bkt", "k"); !bytes.Equal(got, body) {
		t.Fatal("object damaged")
	}
}

func TestSizeAndMetadataLimits(t *testing.T) {
	n := s3test.Start(t, s3test.Options{Handler: func(o *s3h.Options) { o.MaxObjectSize = 1 << 10 }})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), Body: bytes.NewReader(make([]byte, 2<<10))})
	wantCode(t, err, "EntityTooLarge", 400)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("meta"), Body: strings.NewReader("x"),
		Metadata: map[string]string{"big": strings.Repeat("m", 3<<10)}})
	wantCode(t, err, "MetadataTooLarge", 400)
	create, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: create.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(make([]byte, 2<<10))})
	wantCode(t, err, "EntityTooLarge", 400)
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if err != nil || len(list.Contents) != 0 {
		t.Fatalf("refused uploads left objects: %+v, %v", list, err)
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: create.UploadId})
	if err != nil || len(lp.Parts) != 0 {
		t.Fatalf("a refused part was kept: %+v, %v", lp, err)
	}
}

// The handler's own state never shows in a bucket listing, and a bucket
// named like it cannot exist.
func TestInternalStateIsHidden(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(".s3")})
	wantCode(t, err, "NoSuchBucket", 404)
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if err != nil || len(list.Contents) != 0 {
		t.Fatalf("listing shows internal state: %+v, %v", list.Contents, err)
	}
}
