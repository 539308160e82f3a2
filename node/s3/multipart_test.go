package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"strata/node"
	"strata/node/s3/s3test"
)

// multipartETag is the S3 rule: md5 of the parts' binary md5s, "-N".
func multipartETag(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		s := md5.Sum(p)
		h.Write(s[:])
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(parts))
}

func uploadPart(t *testing.T, c *s3.Client, bucket, key, id string, n int32, body []byte) types.CompletedPart {
	t.Helper()
	out, err := c.UploadPart(context.Background(), &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: aws.String(id), PartNumber: aws.Int32(n), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("UploadPart %d: %v", n, err)
	}
	if aws.ToString(out.ETag) != `"`+md5Hex(body)+`"` {
		t.Fatalf("part %d ETag %s, want its MD5", n, aws.ToString(out.ETag))
	}
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag}
}

func TestMultipartUpload(t *testing.T) {
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			n := s3test.Start(t, store(t))
			c := rwClient(t, n)
			ctx := context.Background()
			mustCreateBucket(t, c, "bkt")
			src := randomBytes(6<<20, 3)
			mustPut(t, c, "bkt", "source", src)

			create, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("big"),
				ContentType: aws.String("video/x"), Metadata: map[string]string{"m": "1"}})
			if err != nil {
				t.Fatal(err)
			}
			id := aws.ToString(create.UploadId)
			p1, p3 := randomBytes(5<<20, 4), randomBytes(1234, 5)
			parts := []types.CompletedPart{uploadPart(t, c, "bkt", "big", id, 1, p1)}
			// Part 2 copies 5 MiB + 1 of another object, server-side.
			cp, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: aws.String(id),
				PartNumber: aws.Int32(2), CopySource: aws.String("bkt/source"), CopySourceRange: aws.String(fmt.Sprintf("bytes=100-%d", 100+5<<20))})
			if err != nil {
				t.Fatalf("UploadPartCopy: %v", err)
			}
			p2 := src[100 : 101+5<<20]
			if aws.ToString(cp.CopyPartResult.ETag) != `"`+md5Hex(p2)+`"` {
				t.Fatalf("UploadPartCopy ETag %s", aws.ToString(cp.CopyPartResult.ETag))
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(2), ETag: cp.CopyPartResult.ETag})
			parts = append(parts, uploadPart(t, c, "bkt", "big", id, 3, p3))
			uploadPart(t, c, "bkt", "big", id, 4, []byte("not listed in Complete"))

			lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: aws.String(id), MaxParts: aws.Int32(2)})
			if err != nil {
				t.Fatal(err)
			}
			if len(lp.Parts) != 2 || aws.ToInt32(lp.Parts[1].PartNumber) != 2 || !aws.ToBool(lp.IsTruncated) || aws.ToInt64(lp.Parts[0].Size) != 5<<20 {
				t.Fatalf("ListParts: %+v", lp)
			}
			lp, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: aws.String(id), PartNumberMarker: lp.NextPartNumberMarker})
			if err != nil || len(lp.Parts) != 2 || aws.ToInt32(lp.Parts[0].PartNumber) != 3 || aws.ToBool(lp.IsTruncated) {
				t.Fatalf("ListParts page 2: %+v, %v", lp, err)
			}
			ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
			if err != nil || len(ups.Uploads) != 1 || aws.ToString(ups.Uploads[0].UploadId) != id || aws.ToString(ups.Uploads[0].Key) != "big" {
				t.Fatalf("ListMultipartUploads: %+v, %v", ups, err)
			}

			// Refusals change nothing: wrong order, wrong ETag, a missing part, a small non-last part.
			complete := func(ps ...types.CompletedPart) error {
				_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("big"),
					UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: ps}})
				return err
			}
			wantCode(t, complete(parts[1], parts[0]), "InvalidPartOrder", 400)
			wantCode(t, complete(parts[0], types.CompletedPart{PartNumber: aws.Int32(2), ETag: aws.String(`"0123"`)}), "InvalidPart", 400)
			wantCode(t, complete(parts[0], types.CompletedPart{PartNumber: aws.Int32(7), ETag: parts[0].ETag}), "InvalidPart", 400)
			wantCode(t, complete(parts[2], types.CompletedPart{PartNumber: aws.Int32(4), ETag: aws.String(`"` + md5Hex([]byte("not listed in Complete")) + `"`)}), "EntityTooSmall", 400)
			if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")}); httpStatus(err) != 404 {
				t.Fatalf("a refused Complete made an object: %v", err)
			}

			done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("big"),
				UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
			if err != nil {
				t.Fatalf("CompleteMultipartUpload: %v", err)
			}
			if want := multipartETag(p1, p2, p3); aws.ToString(done.ETag) != want {
				t.Fatalf("multipart ETag %s, want %s", aws.ToString(done.ETag), want)
			}
			want := bytes.Join([][]byte{p1, p2, p3}, nil)
			if got := mustGet(t, c, "bkt", "big"); !bytes.Equal(got, want) {
				t.Fatalf("completed object: %d bytes, want %d", len(got), len(want))
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")})
			if err != nil || aws.ToString(head.ETag) != aws.ToString(done.ETag) || aws.ToString(head.ContentType) != "video/x" || head.Metadata["m"] != "1" {
				t.Fatalf("HeadObject of the completed object: %+v, %v", head, err)
			}
			if _, ok := head.Metadata["x-strata-s3-etag"]; ok {
				t.Fatal("the internal ETag metadata leaks as user metadata")
			}
			// Nothing of the upload is left: no record, no part (the unlisted one included).
			left, err := uploadState(ctx, n.Store)
			if err != nil || len(left) != 0 {
				t.Fatalf("upload state left: %v, %v", left, err)
			}
			_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: aws.String(id)})
			wantCode(t, err, "NoSuchUpload", 404)
			// A copy of a multipart object is a single-part object: its ETag is the MD5.
			cpo, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big-copy"), CopySource: aws.String("bkt/big")})
			if err != nil || aws.ToString(cpo.CopyObjectResult.ETag) != `"`+md5Hex(want)+`"` {
				t.Fatalf("copy of a multipart object: %+v, %v", cpo, err)
			}
		})
	}
}

func TestMultipartAbortAndErrors(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	create, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(create.UploadId)
	uploadPart(t, c, "bkt", "k", id, 1, []byte("part"))
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String(id), PartNumber: aws.Int32(10001), Body: strings.NewReader("x")})
	wantCode(t, err, "InvalidArgument", 400)
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("other"), UploadId: aws.String(id), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantCode(t, err, "NoSuchUpload", 404)
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String("nope"), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantCode(t, err, "NoSuchUpload", 404)
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String(id)}); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String(id)})
	wantCode(t, err, "NoSuchUpload", 404)
	if left, _ := uploadState(ctx, n.Store); len(left) != 0 {
		t.Fatalf("Abort left %v", left)
	}
}

func TestMultipartExpiry(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	create, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(create.UploadId)
	uploadPart(t, c, "bkt", "k", id, 1, []byte("part"))
	// Not yet expired.
	if aborted, err := n.Handler.Sweep(ctx); err != nil || aborted != 0 {
		t.Fatalf("early sweep: %d, %v", aborted, err)
	}
	n.Advance(node.DefaultS3MultipartExpiry + time.Hour)
	if aborted, err := n.Handler.Sweep(ctx); err != nil || aborted != 1 {
		t.Fatalf("sweep past the expiry: %d, %v", aborted, err)
	}
	if left, _ := uploadState(ctx, n.Store); len(left) != 0 {
		t.Fatalf("expired upload left %v", left)
	}
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String(id)})
	wantCode(t, err, "NoSuchUpload", 404)
}
