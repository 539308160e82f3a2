package s3_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"strata/blockstore"
	"strata/node/nodetest"
	"strata/node/s3/s3test"
)

// pauseStore holds one Put or Delete of key until release is closed,
// telling the test through reached when it got there.
type pauseStore struct {
	*nodetest.MemStore
	putKey, deleteKey string
	reached, release  chan struct{}
}

func (s *pauseStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	if key == s.putKey {
		s.pause()
	}
	return s.MemStore.Put(ctx, key, r, size, opts)
}

func (s *pauseStore) Delete(ctx context.Context, key string, opts blockstore.DeleteOptions) error {
	if key == s.deleteKey {
		s.pause()
	}
	return s.MemStore.Delete(ctx, key, opts)
}

func (s *pauseStore) pause() {
	select {
	case <-s.release:
		return // paused once already
	default:
	}
	close(s.reached)
	<-s.release
}

// Two nodes of a cluster share the store but not their locks, so a PUT
// on one node and a DeleteBucket on the other interleave. Whichever way
// they do, no acknowledged object is left in a deleted bucket: a PUT whose
// bucket went while it wrote withdraws its object and answers NoSuchBucket;
// a DeleteBucket that an acknowledged PUT slipped past puts the bucket back
// and answers BucketNotEmpty.
func TestCrossNodeDeleteBucketNeverOrphansAnObject(t *testing.T) {
	ctx := context.Background()
	body := randomBytes(10<<10, 4)
	for _, tc := range []struct {
		name string
		// pause names the write the test holds back while the other
		// request runs to its end.
		pausePut, pauseDelete     bool
		wantPutCode, wantDelCode  string
		wantBucket, wantObjectNow bool
	}{
		{name: "the put lands after the whole DeleteBucket", pausePut: true,
			wantPutCode: "NoSuchBucket", wantDelCode: "", wantBucket: false, wantObjectNow: false},
		{name: "the whole put runs inside DeleteBucket", pauseDelete: true,
			wantPutCode: "", wantDelCode: "BucketNotEmpty", wantBucket: true, wantObjectNow: true},
	} {
		st := &pauseStore{MemStore: nodetest.NewMemStore(0), reached: make(chan struct{}), release: make(chan struct{})}
		if tc.pausePut {
			st.putKey = "bkt/obj"
		}
		if tc.pauseDelete {
			st.deleteKey = ".s3/buckets/bkt"
		}
		a := rwClient(t, s3test.Start(t, s3test.Options{Store: st}))
		b := rwClient(t, s3test.Start(t, s3test.Options{Store: st}))
		mustCreateBucket(t, a, "bkt")

		put := func() error {
			_, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("obj"), Body: bytes.NewReader(body)})
			return err
		}
		del := func() error {
			_, err := b.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("bkt")})
			return err
		}
		first, second := put, del // first is held at its paused write
		if tc.pauseDelete {
			first, second = del, put
		}
		firstErr := make(chan error, 1)
		go func() { firstErr <- first() }()
		<-st.reached
		secondErr := second()
		close(st.release)
		errFirst := <-firstErr
		putErr, delErr := errFirst, secondErr
		if tc.pauseDelete {
			putErr, delErr = secondErr, errFirst
		}

		if got := apiCode(putErr); got != tc.wantPutCode {
			t.Errorf("%s: PUT answered %q (%v), want %q", tc.name, got, putErr, tc.wantPutCode)
		}
		if got := apiCode(delErr); got != tc.wantDelCode {
			t.Errorf("%s: DeleteBucket answered %q (%v), want %q", tc.name, got, delErr, tc.wantDelCode)
		}
		_, herr := b.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("bkt")})
		if exists := herr == nil; exists != tc.wantBucket {
			t.Errorf("%s: bucket exists %v (%v), want %v", tc.name, exists, herr, tc.wantBucket)
		}
		_, serr := st.Stat(ctx, "bkt/obj")
		if stored := serr == nil; stored != tc.wantObjectNow {
			t.Errorf("%s: object stored %v, want %v", tc.name, stored, tc.wantObjectNow)
		}
		if tc.wantObjectNow && !bytes.Equal(mustGet(t, a, "bkt", "obj"), body) {
			t.Errorf("%s: the acknowledged object reads back wrong", tc.name)
		}
	}
}
