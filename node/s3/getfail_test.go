package s3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
	"strata/node/s3/s3test"
)

// failingReadStore serves objects whose WriteRange hands over failAfter
// bytes, then fails as a corrupt read would.
type failingReadStore struct {
	*nodetest.MemStore
	failAfter int64
}

type failingObject struct {
	node.Object
	failAfter int64
}

func (s *failingReadStore) Open(ctx context.Context, key string) (node.Object, error) {
	obj, err := s.MemStore.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return &failingObject{Object: obj, failAfter: s.failAfter}, nil
}

func (o *failingObject) WriteRange(w io.Writer, off, n int64) (int64, error) {
	rw := o.Object.(node.RangeWriter)
	written, err := rw.WriteRange(w, off, min(n, o.failAfter))
	if err != nil {
		return written, err
	}
	return written, fmt.Errorf("test: chunk checksum: %w", blockstore.ErrCorrupt)
}

// A read failing before the first byte is an error answer; failing after
// it aborts the connection, so the client never takes a short body for
// the object.
func TestGetObjectReadFailure(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failAfter int64
	}{{"before the first byte", 0}, {"mid-stream", 300 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			st := &failingReadStore{MemStore: nodetest.NewMemStore(0), failAfter: 1 << 40}
			n := s3test.Start(t, s3test.Options{Store: st})
			c := rwClient(t, n)
			mustCreateBucket(t, c, "bkt")
			body := randomBytes(1<<20, 5)
			mustPut(t, c, "bkt", "obj", body)
			st.failAfter = tc.failAfter
			out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("obj")})
			if err == nil {
				got, rerr := io.ReadAll(out.Body)
				out.Body.Close()
				if rerr == nil {
					t.Fatalf("read %d of %d bytes without an error", len(got), len(body))
				}
				if tc.failAfter == 0 {
					t.Fatalf("status %d before any byte, want an error answer", 200)
				}
				return
			}
			if tc.failAfter != 0 {
				t.Fatalf("GetObject: %v, want a body cut off mid-stream", err)
			}
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &re) || re.HTTPStatusCode() < 500 {
				t.Fatalf("GetObject: %v, want a 5xx answer", err)
			}
		})
	}
}
