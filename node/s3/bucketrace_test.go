package s3_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	s3h "strata/node/s3"
	"strata/node/s3/s3test"
)

// lockWatch wraps the handler's Node and tells the test when a put holds
// an object's lock and when an exclusive lock of the bucket's registry key
// is asked for while a shared holder has it (so it must wait).
type lockWatch struct {
	s3h.Node
	registry, object string

	mu        sync.Mutex
	shared    int
	objLocked chan struct{} // closed once object's lock is held
	blocked   chan struct{} // closed once LockKey(registry) waits on a shared holder
	once1     sync.Once
	once2     sync.Once
}

func (w *lockWatch) LockKey(ctx context.Context, key string) (func(), error) {
	if key == w.registry {
		w.mu.Lock()
		if w.shared > 0 {
			w.once2.Do(func() { close(w.blocked) })
		}
		w.mu.Unlock()
	}
	unlock, err := w.Node.LockKey(ctx, key)
	if err == nil && key == w.object {
		w.once1.Do(func() { close(w.objLocked) })
	}
	return unlock, err
}

func (w *lockWatch) LockKeyShared(ctx context.Context, key string) (func(), error) {
	unlock, err := w.Node.LockKeyShared(ctx, key)
	if err != nil || key != w.registry {
		return unlock, err
	}
	w.mu.Lock()
	w.shared++
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		w.shared--
		w.mu.Unlock()
		unlock()
	}, nil
}

// TestDeleteBucketWaitsForPut: a DeleteBucket arriving while a PUT into
// the bucket streams its body waits for it, then finds the bucket not
// empty; it never deletes the bucket under an object being written.
func TestDeleteBucketWaitsForPut(t *testing.T) {
	w := &lockWatch{registry: ".s3/buckets/bkt", object: "bkt/obj", objLocked: make(chan struct{}), blocked: make(chan struct{})}
	n := s3test.Start(t, s3test.Options{Handler: func(o *s3h.Options) { w.Node = o.Node; o.Node = w }})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")

	const size = 256 << 10
	body := randomBytes(size, 7)
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPut, n.URL+"/bkt/obj", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	creds := aws.Credentials{AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", s3test.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	putDone := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			putDone <- 0
			return
		}
		resp.Body.Close()
		putDone <- resp.StatusCode
	}()
	go func() { _, _ = pw.Write(body[:size/2]) }()
	<-w.objLocked // the PUT is in the store, waiting for the rest of its body

	deleteDone := make(chan error, 1)
	go func() {
		_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("bkt")})
		deleteDone <- err
	}()
	var delErr error
	deleted := false
	select {
	case delErr = <-deleteDone: // answered while the PUT was still streaming
		deleted = true
	case <-w.blocked:
	}
	go func() { _, _ = pw.Write(body[size/2:]); pw.Close() }()
	putStatus := <-putDone
	if !deleted {
		delErr = <-deleteDone
	}
	if delErr == nil && putStatus == http.StatusOK {
		t.Fatal("DeleteBucket succeeded while a PUT into the bucket was in flight, and the PUT succeeded too: an object in a deleted bucket")
	}
	if putStatus != http.StatusOK {
		t.Fatalf("PUT answered %d", putStatus)
	}
	wantCode(t, delErr, "BucketNotEmpty", 409)
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
	if got := mustGet(t, c, "bkt", "obj"); string(got) != string(body) {
		t.Fatal("object damaged")
	}
}

// gateOrder wraps the handler's Node and records, per upload, whether the
// bucket's shared lock was held when the upload slot was asked for.
type gateOrder struct {
	s3h.Node
	registry string

	mu             sync.Mutex
	shared         int
	admitsUnlocked int // write admissions asked for without the bucket lock
	admits         int
}

func (g *gateOrder) LockKeyShared(ctx context.Context, key string) (func(), error) {
	unlock, err := g.Node.LockKeyShared(ctx, key)
	if err != nil || key != g.registry {
		return unlock, err
	}
	g.mu.Lock()
	g.shared++
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.shared--
		g.mu.Unlock()
		unlock()
	}, nil
}

func (g *gateOrder) Admit(ctx context.Context, write bool) (func(), error) {
	if write {
		g.mu.Lock()
		g.admits++
		if g.shared == 0 {
			g.admitsUnlocked++
		}
		g.mu.Unlock()
	}
	return g.Node.Admit(ctx, write)
}

// TestObjectWritesLockBucketBeforeAdmission: a PutObject takes the
// bucket's shared lock before an upload slot, so puts parked behind a
// waiting DeleteBucket hold no slot the node's other writes need.
func TestObjectWritesLockBucketBeforeAdmission(t *testing.T) {
	g := &gateOrder{registry: ".s3/buckets/bkt"}
	n := s3test.Start(t, s3test.Options{Handler: func(o *s3h.Options) { g.Node = o.Node; o.Node = g }})
	c := rwClient(t, n)
	mustCreateBucket(t, c, "bkt")
	g.mu.Lock()
	g.admits, g.admitsUnlocked = 0, 0
	g.mu.Unlock()
	mustPut(t, c, "bkt", "obj", randomBytes(1000, 1))
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.admits == 0 || g.admitsUnlocked != 0 {
		t.Fatalf("%d of %d write admissions asked for before the bucket's lock", g.admitsUnlocked, g.admits)
	}
}
