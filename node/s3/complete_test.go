package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
	"strata/node/replication"
	"strata/node/s3/s3test"
)

// listedParts is ListParts' answer as the parts a Complete names.
func listedParts(t *testing.T, c *s3.Client, bucket, key, id string) []types.CompletedPart {
	t.Helper()
	lp, err := c.ListParts(context.Background(), &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id)})
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	var parts []types.CompletedPart
	for _, p := range lp.Parts {
		parts = append(parts, types.CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag})
	}
	return parts
}

func complete(c *s3.Client, bucket, key, id string, parts []types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
	return c.CompleteMultipartUpload(context.Background(), &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
}

// A part uploaded again after ListParts gave its ETag: a Complete naming
// the old ETag is InvalidPart and makes nothing; one naming the new ETags
// makes the object of the new bytes.
func TestCompleteAfterPartReuploaded(t *testing.T) {
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			n := s3test.Start(t, store(t))
			c := rwClient(t, n)
			mustCreateBucket(t, c, "bkt")
			id := createUpload(t, c, "bkt", "obj")
			p1, p2 := randomBytes(5<<20, 1), randomBytes(100, 2)
			uploadPart(t, c, "bkt", "obj", id, 1, p1)
			uploadPart(t, c, "bkt", "obj", id, 2, p2)
			old := listedParts(t, c, "bkt", "obj", id)
			p1b := randomBytes(5<<20, 3)
			uploadPart(t, c, "bkt", "obj", id, 1, p1b)

			_, err := complete(c, "bkt", "obj", id, old)
			wantCode(t, err, "InvalidPart", 400)
			if _, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("obj")}); httpStatus(err) != 404 {
				t.Fatalf("a refused Complete made an object: %v", err)
			}
			done, err := complete(c, "bkt", "obj", id, listedParts(t, c, "bkt", "obj", id))
			if err != nil {
				t.Fatalf("Complete with the new ETags: %v", err)
			}
			if want := multipartETag(p1b, p2); aws.ToString(done.ETag) != want {
				t.Fatalf("ETag %s, want %s", aws.ToString(done.ETag), want)
			}
			if got := mustGet(t, c, "bkt", "obj"); !bytes.Equal(got, append(append([]byte{}, p1b...), p2...)) {
				t.Fatal("the object is not the new parts' bytes")
			}
		})
	}
}

// reuploadingStore uploads a part again (other bytes) just before it
// composes: the re-upload lands between Complete's check of the parts'
// ETags and its Compose.
type reuploadingStore struct {
	*nodetest.MemStore
	part string // the part key to put again
}

func (s *reuploadingStore) Compose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	if s.part != "" {
		other := randomBytes(5<<20, 99)
		if _, err := s.MemStore.Put(ctx, s.part, bytes.NewReader(other), int64(len(other)), blockstore.PutOptions{WantMD5: true}); err != nil {
			return blockstore.Info{}, err
		}
		s.part = ""
	}
	return s.MemStore.Compose(ctx, key, parts, opts)
}

var _ node.Composer = (*reuploadingStore)(nil)

// A part uploaded again while the Complete runs: the Compose pins the part
// versions whose MD5s made the ETag, so the Complete is InvalidPart rather
// than an object whose bytes and ETag disagree; a retry with the new ETags
// succeeds.
func TestCompleteRacingPartReupload(t *testing.T) {
	st := &reuploadingStore{MemStore: nodetest.NewMemStore(0)}
	n := s3test.Start(t, s3test.Options{Store: st})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	id := createUpload(t, c, "bkt", "obj")
	uploadPart(t, c, "bkt", "obj", id, 1, randomBytes(5<<20, 1))
	uploadPart(t, c, "bkt", "obj", id, 2, randomBytes(100, 2))
	parts, err := st.List(ctx, ".p/", "", 10)
	if err != nil || len(parts) != 2 {
		t.Fatalf("part blobs %v, %v", parts, err)
	}
	st.part = parts[0].Key
	_, err = complete(c, "bkt", "obj", id, listedParts(t, c, "bkt", "obj", id))
	wantCode(t, err, "InvalidPart", 400)
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("obj")}); httpStatus(err) != 404 {
		t.Fatalf("a refused Complete made an object: %v", err)
	}
	if _, err := complete(c, "bkt", "obj", id, listedParts(t, c, "bkt", "obj", id)); err != nil {
		t.Fatalf("Complete retried with the new ETags: %v", err)
	}
}

// partialComposeStore composes but answers its first Compose with no
// quorum, as a cluster whose compose reached fewer than W homes: the
// object exists (on some homes) and the parts are consumed there.
type partialComposeStore struct {
	*nodetest.MemStore
	failed bool
}

func (s *partialComposeStore) Compose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	info, err := s.MemStore.Compose(ctx, key, parts, opts)
	if err == nil && !s.failed {
		s.failed = true
		return blockstore.Info{}, fmt.Errorf("test: composed on 1 home of 3: %w", replication.ErrNoQuorum)
	}
	return info, err
}

// A Complete retried after a compose that reached fewer than W homes
// (503) succeeds with the object's ETag, though its parts now read as
// missing; a retry naming other ETags is still InvalidPart.
func TestCompleteRetriedAfterPartialCompose(t *testing.T) {
	st := &partialComposeStore{MemStore: nodetest.NewMemStore(0)}
	n := s3test.Start(t, s3test.Options{Store: st})
	c := rwClient(t, n)
	mustCreateBucket(t, c, "bkt")
	id := createUpload(t, c, "bkt", "obj")
	p1, p2 := randomBytes(5<<20, 1), randomBytes(100, 2)
	parts := []types.CompletedPart{uploadPart(t, c, "bkt", "obj", id, 1, p1), uploadPart(t, c, "bkt", "obj", id, 2, p2)}
	_, err := complete(c, "bkt", "obj", id, parts)
	wantCode(t, err, "ServiceUnavailable", 503)

	other := []types.CompletedPart{parts[0], {PartNumber: aws.Int32(2), ETag: aws.String(`"` + md5Hex([]byte("other")) + `"`)}}
	_, err = complete(c, "bkt", "obj", id, other)
	wantCode(t, err, "InvalidPart", 400)
	done, err := complete(c, "bkt", "obj", id, parts)
	if err != nil {
		t.Fatalf("Complete retried: %v", err)
	}
	if want := multipartETag(p1, p2); aws.ToString(done.ETag) != want {
		t.Fatalf("ETag %s, want %s", aws.ToString(done.ETag), want)
	}
	if got := mustGet(t, c, "bkt", "obj"); !bytes.Equal(got, append(append([]byte{}, p1...), p2...)) {
		t.Fatal("object damaged")
	}
	_, err = c.ListParts(context.Background(), &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("obj"), UploadId: aws.String(id)})
	wantCode(t, err, "NoSuchUpload", 404)
}

// A part uploaded again after a Complete that reached fewer than W homes
// fails the retried Complete (InvalidPart) instead of being composed on
// the homes the first attempt missed, where the object's ETag would name
// other bytes.
func TestCompleteRetryRefusesReuploadedPart(t *testing.T) {
	st := &partialComposeStore{MemStore: nodetest.NewMemStore(0)}
	n := s3test.Start(t, s3test.Options{Store: st})
	c := rwClient(t, n)
	mustCreateBucket(t, c, "bkt")
	id := createUpload(t, c, "bkt", "obj")
	p1, p2 := randomBytes(5<<20, 1), randomBytes(100, 2)
	parts := []types.CompletedPart{uploadPart(t, c, "bkt", "obj", id, 1, p1), uploadPart(t, c, "bkt", "obj", id, 2, p2)}
	_, err := complete(c, "bkt", "obj", id, parts)
	wantCode(t, err, "ServiceUnavailable", 503)
	uploadPart(t, c, "bkt", "obj", id, 2, randomBytes(100, 3))
	_, err = complete(c, "bkt", "obj", id, parts)
	wantCode(t, err, "InvalidPart", 400)
}
