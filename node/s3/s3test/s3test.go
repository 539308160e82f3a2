// Package s3test starts the S3 API over a node in a test: an httptest
// server on loopback over node/s3's Handler, in front of an in-memory store
// (nodetest.MemStore) or a real tiered store in a temp dir, with a few
// access keys configured. Tests of the handler and of S3 clients use it;
// it leaves nothing running after the test.
package s3test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
	"strata/node/s3"
	"strata/node/s3/sigv4"
	"strata/tiering"
)

// The keys every test node knows.
const (
	AccessKey     = "STRATATESTKEY" // read-write, all buckets
	SecretKey     = "strata-test-secret-0123456789"
	ReadKey       = "STRATAREADKEY" // read, all buckets
	ReadSecret    = "strata-read-secret-0123456789"
	LimitedKey    = "STRATALIMITEDKEY" // read-write, bucket "limited" only
	LimitedSecret = "strata-limited-secret-0123456789"
	LimitedBucket = "limited"
	Region        = "us-east-1"
)

// Options change a test node.
type Options struct {
	// Store is the store to serve; nil: a new nodetest.MemStore.
	Store node.Store
	// Config changes the node's config (limits, progress timeout...).
	Config func(*node.Config)
	// Handler changes the S3 handler's options.
	Handler func(*s3.Options)
}

// Node is a running test node.
type Node struct {
	URL     string // http://127.0.0.1:port
	Store   node.Store
	Server  *node.Server
	Handler *s3.Handler
	// skew is added to the verifier's clock (SetSkew), ahead to the
	// handler's (Advance).
	skew, ahead atomic.Int64
}

// Advance moves the handler's clock (multipart expiry, creation times) d
// ahead of the real one.
func (n *Node) Advance(d time.Duration) { n.ahead.Store(int64(d)) }

// SetSkew moves the server's clock by d, as the signature verifier sees it.
func (n *Node) SetSkew(d time.Duration) { n.skew.Store(int64(d)) }

// Start starts a node; it stops when the test ends.
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	cfg := node.DefaultConfig(t.TempDir())
	if o.Config != nil {
		o.Config(&cfg)
	}
	store := o.Store
	if store == nil {
		store = nodetest.NewMemStore(0)
	}
	srv, err := node.New(cfg, store, nil)
	if err != nil {
		t.Fatalf("s3test: node.New: %v", err)
	}
	n := &Node{Store: store, Server: srv}
	keys := map[string]sigv4.Key{
		AccessKey:  {AccessKey: AccessKey, SecretKey: SecretKey, Scope: sigv4.ScopeReadWrite},
		ReadKey:    {AccessKey: ReadKey, SecretKey: ReadSecret, Scope: sigv4.ScopeRead},
		LimitedKey: {AccessKey: LimitedKey, SecretKey: LimitedSecret, Scope: sigv4.ScopeReadWrite, Buckets: []string{LimitedBucket}},
	}
	verifier := &sigv4.Verifier{
		Keys:   func(ak string) (sigv4.Key, bool) { k, ok := keys[ak]; return k, ok },
		Now:    func() time.Time { return time.Now().Add(time.Duration(n.skew.Load())) },
		Region: Region,
	}
	opts := s3.Options{Store: store, Verifier: verifier, Node: srv, Registerer: srv.Registry(),
		Now: func() time.Time { return time.Now().Add(time.Duration(n.ahead.Load())) }}
	if o.Handler != nil {
		o.Handler(&opts)
	}
	h, err := s3.New(opts)
	if err != nil {
		t.Fatalf("s3test: s3.New: %v", err)
	}
	n.Handler = h
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	n.URL = ts.URL
	return n
}

// TieredStore opens the real stack (tiering over blockstore) in a temp
// dir, with small volumes and chunks so tests stay fast; it is closed when
// the test ends.
func TieredStore(t testing.TB) node.Store {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	bs, err := blockstore.Open(ctx, blockstore.Options{
		DataDirs: []string{filepath.Join(dir, "hdd")}, IndexDir: filepath.Join(dir, "index"),
		VolumeSize: 64 << 20, ChunkSize: 1 << 20, MaxBlobSize: 32 << 20,
	})
	if err != nil {
		t.Fatalf("s3test: blockstore.Open: %v", err)
	}
	ts, err := tiering.Open(ctx, tiering.Options{Backend: bs, RAMCacheBytes: 4 << 20})
	if err != nil {
		bs.Close()
		t.Fatalf("s3test: tiering.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := ts.Close(); err != nil {
			t.Errorf("s3test: close store: %v", err)
		}
	})
	return node.Tiered(ts)
}

// NeedS3Store skips the test unless store keeps what the S3 API needs:
// Meta and MD5 (PutOptions.WantMD5) on Put, and node.Composer.
func NeedS3Store(t testing.TB, store node.Store) {
	t.Helper()
	ctx := context.Background()
	info, err := store.Put(ctx, node.ReservedPrefix+"probe", strings.NewReader("p"), 1,
		blockstore.PutOptions{WantMD5: true, Meta: map[string]string{"X-Probe": "1"}})
	if err != nil {
		t.Fatalf("s3test: probe put: %v", err)
	}
	defer store.Delete(ctx, node.ReservedPrefix+"probe", blockstore.DeleteOptions{})
	if _, ok := store.(node.Composer); !ok || len(info.MD5) == 0 || info.Meta["X-Probe"] != "1" {
		t.Skip("the store does not keep S3 metadata and MD5 or cannot Compose yet (the s3-store work)")
	}
}
