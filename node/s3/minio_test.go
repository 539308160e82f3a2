package s3_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"strata/node/s3/s3test"
)

func minioClient(t *testing.T, n *s3test.Node) *minio.Client {
	t.Helper()
	u, _ := url.Parse(n.URL)
	mc, err := minio.New(u.Host, &minio.Options{
		Creds: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, ""), Secure: false,
		Region: s3test.Region, BucketLookup: minio.BucketLookupPath, MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

func TestMinioClient(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	mc := minioClient(t, n)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "mbkt", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := mc.BucketExists(ctx, "mbkt"); err != nil || !ok {
		t.Fatalf("BucketExists: %v %v", ok, err)
	}
	// 11 MiB in 5 MiB parts: two full parts and a short last one.
	big := randomBytes(11<<20+3, 7)
	info, err := mc.PutObject(ctx, "mbkt", "big", bytes.NewReader(big), int64(len(big)),
		minio.PutObjectOptions{PartSize: 5 << 20, ContentType: "application/x-big", UserMetadata: map[string]string{"origin": "minio"}})
	if err != nil {
		t.Fatalf("multipart PutObject: %v", err)
	}
	if !strings.HasSuffix(info.ETag, "-3") {
		t.Fatalf("multipart ETag %q", info.ETag)
	}
	small := []byte("small object")
	if _, err := mc.PutObject(ctx, "mbkt", "dir/small", bytes.NewReader(small), int64(len(small)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := mc.GetObject(ctx, "mbkt", "big", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("GetObject: %d bytes, %v", len(got), err)
	}
	st, err := mc.StatObject(ctx, "mbkt", "big", minio.StatObjectOptions{})
	if err != nil || st.UserMetadata["Origin"] != "minio" || st.ContentType != "application/x-big" || st.Size != int64(len(big)) {
		t.Fatalf("StatObject: %+v, %v", st, err)
	}
	ro := minio.GetObjectOptions{}
	if err := ro.SetRange(100, 199); err != nil {
		t.Fatal(err)
	}
	obj, err = mc.GetObject(ctx, "mbkt", "big", ro)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(obj)
	obj.Close()
	if !bytes.Equal(part, big[100:200]) {
		t.Fatalf("ranged GetObject: %d bytes", len(part))
	}
	var keys []string
	for o := range mc.ListObjects(ctx, "mbkt", minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	if !slices.Equal(keys, []string{"big", "dir/small"}) {
		t.Fatalf("ListObjects: %v", keys)
	}
	if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "mbkt", Object: "copy"}, minio.CopySrcOptions{Bucket: "mbkt", Object: "dir/small"}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	u, err := mc.PresignedGetObject(ctx, "mbkt", "copy", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(b, small) {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, b)
	}
	objs := make(chan minio.ObjectInfo, 3)
	for _, k := range []string{"big", "dir/small", "copy"} {
		objs <- minio.ObjectInfo{Key: k}
	}
	close(objs)
	for e := range mc.RemoveObjects(ctx, "mbkt", objs, minio.RemoveObjectsOptions{}) {
		t.Fatalf("RemoveObjects: %v", e.Err)
	}
	if err := mc.RemoveBucket(ctx, "mbkt"); err != nil {
		t.Fatalf("RemoveBucket after emptying: %v", err)
	}
}
