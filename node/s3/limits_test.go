package s3_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"strata/node"
	"strata/node/nodetest"
	s3h "strata/node/s3"
	"strata/node/s3/s3test"
)

// S3 uploads share the node's upload budget: past limits.max_uploads the
// answer is 503 SlowDown at once.
func TestAdmissionLimit(t *testing.T) {
	mem := nodetest.NewMemStore(0)
	n := s3test.Start(t, s3test.Options{Store: mem, Config: func(c *node.Config) { c.Limits.MaxUploads = 1 }})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	entered, release := make(chan struct{}), make(chan struct{})
	mem.SetPutGate(func(ctx context.Context, key string) error {
		if key == "bkt/held" {
			close(entered)
			<-release
		}
		return nil
	})
	done := make(chan error, 1)
	go func() {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("held"), Body: strings.NewReader("x")})
		done <- err
	}()
	<-entered
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("second"), Body: strings.NewReader("y")})
	wantCode(t, err, "SlowDown", 503)
	// Reads have their own budget.
	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")}); err != nil {
		t.Fatalf("a read behind a held upload: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, ok := mem.Bytes("bkt/second"); ok {
		t.Fatal("the refused upload was stored")
	}
}

// A node started with read_only serves S3 reads and refuses S3 writes.
func TestReadOnlyNode(t *testing.T) {
	mem := nodetest.NewMemStore(0)
	rw := s3test.Start(t, s3test.Options{Store: mem})
	mustCreateBucket(t, rwClient(t, rw), "bkt")
	mustPut(t, rwClient(t, rw), "bkt", "k", []byte("v"))
	ro := s3test.Start(t, s3test.Options{Store: mem, Config: func(c *node.Config) { c.ReadOnly = true }})
	c := rwClient(t, ro)
	if got := mustGet(t, c, "bkt", "k"); string(got) != "v" {
		t.Fatalf("read on a read-only node: %q", got)
	}
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("new")})
	wantCode(t, err, "ServiceUnavailable", 503)
	_, err = c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	wantCode(t, err, "ServiceUnavailable", 503)
	if got, _ := mem.Bytes("bkt/k"); string(got) != "v" {
		t.Fatalf("a read-only node changed the object: %q", got)
	}
}

func TestMetricsPerOperation(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	mustPut(t, c, "bkt", "k", []byte("v"))
	mustPut(t, c, "bkt", "k2", []byte("v"))
	_, _ = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	counts := map[string]float64{}
	mfs, err := n.Server.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sawHistogram := false
	for _, mf := range mfs {
		switch mf.GetName() {
		case "strata_s3_requests_total":
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				counts[labels["op"]+" "+labels["code"]] = m.GetCounter().GetValue()
			}
		case "strata_s3_request_duration_seconds":
			sawHistogram = len(mf.GetMetric()) > 0
		}
	}
	if counts["PutObject 200"] != 2 || counts["GetObject 404"] != 1 || counts["CreateBucket 200"] != 1 || !sawHistogram {
		t.Fatalf("strata_s3_requests_total: %v (histogram %v)", counts, sawHistogram)
	}
}

func TestVirtualHostStyle(t *testing.T) {
	const domain = "s3.strata.test"
	n := s3test.Start(t, s3test.Options{Handler: func(o *s3h.Options) { o.Domain = domain }})
	u, _ := url.Parse(n.URL)
	_, port, _ := net.SplitHostPort(u.Host)
	// Every name resolves to the test server.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, u.Host)
	}}}
	vc := s3.New(s3.Options{
		Region: s3test.Region, BaseEndpoint: aws.String("http://" + domain + ":" + port), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider(s3test.AccessKey, s3test.SecretKey, ""), RetryMaxAttempts: 1,
	})
	ctx := context.Background()
	mustCreateBucket(t, vc, "vbkt")
	mustPut(t, vc, "vbkt", "dir/key", []byte("virtual"))
	// The same object, path-style.
	if got := mustGet(t, rwClient(t, n), "vbkt", "dir/key"); string(got) != "virtual" {
		t.Fatalf("path-style read of a virtual-host write: %q", got)
	}
	out, err := vc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vbkt")})
	if err != nil || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "dir/key" {
		t.Fatalf("virtual-host listing: %+v, %v", out, err)
	}
}
