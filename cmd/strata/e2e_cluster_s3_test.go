package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// TestE2EClusterS3: the S3 API on a real-process cluster (3 nodes, N=3,
// W=2), each node with its own S3 listener: objects written through one
// node (a PUT, a chunked PUT, a multipart upload of a 5 MiB part and a
// short one) are read, listed and headed through the others with the same
// bytes and ETags; a delete through one is seen by the others; the bucket
// is deleted once empty.
func TestE2EClusterS3(t *testing.T) {
	const access, secret = "e2e-cluster-s3", "e2e-cluster-s3-secret-0123456789"
	ports := make([]int, 3)
	for i := range ports {
		ports[i] = freePortOn(t, "127.0.0.1")
	}
	c := newTestCluster(t, clusterOptions{nodes: 3,
		extraConfig: fmt.Sprintf("\n[[s3.keys]]\naccess_key = %q\nsecret_key = %q\nscope = \"read-write\"\n", access, secret),
		nodeArgs:    func(i int) []string { return []string{"--s3-listen", fmt.Sprintf("127.0.0.1:%d", ports[i])} },
	})
	clients := make([]*s3.Client, 3)
	for i := range clients {
		clients[i] = s3.New(s3.Options{
			Region:           "us-east-1",
			BaseEndpoint:     aws.String(fmt.Sprintf("http://127.0.0.1:%d", ports[i])),
			UsePathStyle:     true,
			Credentials:      credentials.NewStaticCredentialsProvider(access, secret, ""),
			RetryMaxAttempts: 1,
		})
	}
	c1, c2, c3 := clients[0], clients[1], clients[2]
	ctx := context.Background()
	bkt := aws.String("e2e")
	if _, err := c1.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bkt}); err != nil {
		t.Fatalf("CreateBucket via n1: %v\n%s", err, c.logs())
	}
	if _, err := c2.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: bkt}); err != nil {
		t.Fatalf("HeadBucket via n2: %v", err)
	}

	r := rand.New(rand.NewPCG(12, 12))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	md5Of := func(b []byte) string { s := md5.Sum(b); return `"` + hex.EncodeToString(s[:]) + `"` }
	want := map[string][]byte{"small": random(10 << 10), "chunked": random(3<<20 + 5)} // chunk_size is 1 MiB
	etags := map[string]string{}
	for key, body := range want {
		out, err := c1.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String(key), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatalf("PutObject %s via n1: %v", key, err)
		}
		if aws.ToString(out.ETag) != md5Of(body) {
			t.Fatalf("PutObject %s: ETag %s, want its MD5", key, aws.ToString(out.ETag))
		}
		etags[key] = md5Of(body)
	}

	// Multipart through n1: a 5 MiB part and a short last one.
	create, err := c1.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: aws.String("multi"), ContentType: aws.String("video/x")})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	id := create.UploadId
	p1, p2 := random(5<<20), random(1234)
	var parts []types.CompletedPart
	sum := md5.New()
	for i, body := range [][]byte{p1, p2} {
		out, err := c1.UploadPart(ctx, &s3.UploadPartInput{Bucket: bkt, Key: aws.String("multi"), UploadId: id, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
		s := md5.Sum(body)
		sum.Write(s[:])
	}
	done, err := c1.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: aws.String("multi"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v\n%s", err, c.logs())
	}
	want["multi"] = append(append([]byte{}, p1...), p2...)
	etags["multi"] = fmt.Sprintf(`"%s-2"`, hex.EncodeToString(sum.Sum(nil)))
	if aws.ToString(done.ETag) != etags["multi"] {
		t.Fatalf("multipart ETag %s, want %s", aws.ToString(done.ETag), etags["multi"])
	}

	// Read back through the other nodes.
	for _, cl := range []*s3.Client{c2, c3} {
		for key, body := range want {
			out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String(key)})
			if err != nil {
				t.Fatalf("GetObject %s: %v", key, err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("GetObject %s: %d bytes (want %d), %v", key, len(got), len(body), err)
			}
			if aws.ToString(out.ETag) != etags[key] {
				t.Fatalf("GetObject %s: ETag %s, want %s", key, aws.ToString(out.ETag), etags[key])
			}
		}
	}
	head, err := c3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bkt, Key: aws.String("multi")})
	if err != nil || aws.ToString(head.ContentType) != "video/x" || aws.ToInt64(head.ContentLength) != int64(len(want["multi"])) {
		t.Fatalf("HeadObject multi via n3: %+v, %v", head, err)
	}
	list, err := c2.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bkt})
	if err != nil {
		t.Fatalf("ListObjectsV2 via n2: %v", err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if fmt.Sprint(keys) != "[chunked multi small]" {
		t.Fatalf("ListObjectsV2 via n2: %v", keys)
	}
	ups, err := c3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bkt})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("uploads left after Complete: %+v, %v", ups, err)
	}

	// Deletes through n1, seen through n2; then the bucket goes.
	if _, err := c2.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: bkt}); apiCode(err) != "BucketNotEmpty" {
		t.Fatalf("DeleteBucket of a bucket with objects: %v", err)
	}
	for key := range want {
		if _, err := c1.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bkt, Key: aws.String(key)}); err != nil {
			t.Fatalf("DeleteObject %s: %v", key, err)
		}
		if _, err := c2.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String(key)}); apiCode(err) != "NoSuchKey" {
			t.Fatalf("GetObject %s via n2 after its delete: %v", key, err)
		}
	}
	if _, err := c2.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: bkt}); err != nil {
		t.Fatalf("DeleteBucket of the empty bucket via n2: %v", err)
	}
	if _, err := c3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: bkt}); err == nil {
		t.Fatal("HeadBucket via n3 after DeleteBucket: the bucket is still there")
	}
}

// apiCode is the S3 error code of err ("" when none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
