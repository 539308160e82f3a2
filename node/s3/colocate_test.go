package s3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"strata/blockstore"
	"strata/node"
	"strata/node/placement"
	"strata/node/s3/s3test"
)

// uploadState lists what multipart uploads keep in store: the registry
// (records, legacy parts) and the co-located parts.
func uploadState(ctx context.Context, store node.Store) ([]blockstore.Info, error) {
	reg, err := store.List(ctx, node.ReservedPrefix+"uploads/", "", 100)
	if err != nil {
		return nil, err
	}
	colo, err := store.List(ctx, placement.ColocatePrefix, "", 100)
	return append(reg, colo...), err
}

func createUpload(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.UploadId)
}

func TestMultipartPartsAreColocated(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	id := createUpload(t, c, "bkt", "dir/obj")
	uploadPart(t, c, "bkt", "dir/obj", id, 1, []byte("one"))
	uploadPart(t, c, "bkt", "dir/obj", id, 12, []byte("twelve"))

	want := []string{
		placement.Colocate("bkt/dir/obj", fmt.Sprintf(".s3/uploads/%s/00001", id)),
		placement.Colocate("bkt/dir/obj", fmt.Sprintf(".s3/uploads/%s/00012", id)),
	}
	got, err := n.Store.List(ctx, placement.ColocatePrefix, "", 10)
	if err != nil || len(got) != 2 || got[0].Key != want[0] || got[1].Key != want[1] {
		t.Fatalf("co-located parts %v, %v; want keys %v", got, err, want)
	}
	// Every member set places the parts on the object's homes.
	ring, err := placement.New([]placement.Member{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}, {ID: "c", Weight: 1}, {ID: "d", Weight: 1}, {ID: "e", Weight: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range want {
		if a, b := ring.Replicas(k, 3), ring.Replicas("bkt/dir/obj", 3); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("part %s homes %v, object homes %v", k, a, b)
		}
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("dir/obj"), UploadId: aws.String(id), PartNumberMarker: aws.String("1")})
	if err != nil || len(lp.Parts) != 1 || aws.ToInt32(lp.Parts[0].PartNumber) != 12 || aws.ToInt64(lp.Parts[0].Size) != 6 {
		t.Fatalf("ListParts after 1: %+v, %v", lp, err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("dir/obj"), UploadId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if left, err := uploadState(ctx, n.Store); err != nil || len(left) != 0 {
		t.Fatalf("Abort left %v, %v", left, err)
	}
}

// A legacy upload (its record predates co-location) keeps its parts in the
// registry; list, complete and clean-up still find them there.
func TestMultipartLegacyUpload(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	const id = "0123456789abcdef0123456789abcdef"
	rec, _ := json.Marshal(map[string]any{"bucket": "bkt", "key": "old", "initiated": time.Now().UTC(), "owner": "x"})
	put := func(key string, body []byte) {
		t.Helper()
		if _, err := n.Store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), blockstore.PutOptions{WantMD5: true}); err != nil {
			t.Fatal(err)
		}
	}
	put(node.ReservedPrefix+"uploads/"+id, rec)
	p1, p2 := randomBytes(5<<20, 9), []byte("tail")
	put(node.ReservedPrefix+"uploads/"+id+"/00001", p1)
	put(node.ReservedPrefix+"uploads/"+id+"/00002", p2)

	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("old"), UploadId: aws.String(id)})
	if err != nil || len(lp.Parts) != 2 {
		t.Fatalf("ListParts of a legacy upload: %+v, %v", lp, err)
	}
	parts := []types.CompletedPart{
		{PartNumber: aws.Int32(1), ETag: aws.String(`"` + md5Hex(p1) + `"`)},
		{PartNumber: aws.Int32(2), ETag: aws.String(`"` + md5Hex(p2) + `"`)},
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("old"),
		UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatalf("Complete of a legacy upload: %v", err)
	}
	if got := mustGet(t, c, "bkt", "old"); !bytes.Equal(got, append(p1, p2...)) {
		t.Fatalf("legacy object: %d bytes", len(got))
	}
	if left, err := uploadState(ctx, n.Store); err != nil || len(left) != 0 {
		t.Fatalf("Complete left %v, %v", left, err)
	}
}

// The sweep removes old co-located parts whose upload record is gone, and
// keeps young orphans and co-located keys that are not S3 parts.
func TestSweepColocatedOrphans(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	gone := createUpload(t, c, "bkt", "a")
	uploadPart(t, c, "bkt", "a", gone, 1, []byte("orphan"))
	uploadPart(t, c, "bkt", "a", gone, 2, []byte("orphan too"))
	// The record goes without its parts (a crash in the middle of Complete).
	if err := n.Store.Delete(ctx, node.ReservedPrefix+"uploads/"+gone, blockstore.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	other := placement.Colocate("bkt/a", "not-s3/x")
	if _, err := n.Store.Put(ctx, other, strings.NewReader("v"), 1, blockstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Handler.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if left, _ := uploadState(ctx, n.Store); len(left) != 3 {
		t.Fatalf("a sweep before the expiry removed young orphans: %v", left)
	}
	n.Advance(node.DefaultS3MultipartExpiry + time.Hour)
	if _, err := n.Handler.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	left, err := n.Store.List(ctx, placement.ColocatePrefix, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Key != other {
		t.Fatalf("after the sweep: %v, want only %s", left, other)
	}
}
