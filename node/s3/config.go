package s3

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"strata/node"
	"strata/node/s3/sigv4"
)

// Verifier authenticates a request (sigv4.Verifier). Auth.Body replaces the
// request body: it fails before its last byte when the payload does not
// match its signature or digest.
type Verifier interface {
	Verify(r *http.Request) (*sigv4.Auth, error)
}

// Node is what the handler uses of the node process: its admission budgets,
// per-key locks (exclusive and shared), progress timeout and upload pacing
// (*node.Server has them), so S3 and the blob API share one set of limits.
type Node interface {
	Admit(ctx context.Context, write bool) (release func(), err error)
	LockKey(ctx context.Context, key string) (unlock func(), err error)
	LockKeyShared(ctx context.Context, key string) (unlock func(), err error)
	ProgressTimeout() time.Duration
	// PaceUpload wraps an upload body in the node's upload pacing.
	PaceUpload(ctx context.Context, body io.Reader) io.Reader
}

// The ETag rules of Options.ETag (the values of [s3] etag).
const (
	ETagMD5     = node.S3ETagMD5
	ETagVersion = node.S3ETagVersion
)

// Limits of the S3 protocol this handler enforces.
const (
	// MaxObjectSize is the largest single PUT, part or copy S3 allows.
	MaxObjectSize = 5 << 30
	// DefaultMinPartSize is the smallest part other than the last one.
	DefaultMinPartSize = 5 << 20
	// MaxParts is the highest part number.
	MaxParts = 10000
	// maxListKeys caps max-keys, max-uploads and max-parts.
	maxListKeys = 1000
	// maxXMLBody bounds the XML bodies read whole (DeleteObjects, Complete).
	maxXMLBody = 2 << 20
	// maxBatchDelete is the most keys one DeleteObjects may name.
	maxBatchDelete = 1000
)

// Options configure a Handler. Store, Verifier and Node are required.
type Options struct {
	// Store holds objects as blobs "bucket/key" and the handler's state
	// under node.ReservedPrefix. It may implement node.Composer, which
	// CompleteMultipartUpload needs (NotImplemented otherwise).
	Store node.Store
	// StoreFunc, when set instead of Store, returns the store or nil while
	// the node is still opening it (answered 503).
	StoreFunc func() node.Store
	Verifier  Verifier
	Node      Node
	// Domain enables virtual-host-style requests for "bucket.<Domain>".
	Domain string
	// Region is what GetBucketLocation reports. Default us-east-1.
	Region string
	// MaxObjectSize caps PUTs and parts; default and upper bound MaxObjectSize
	// (the node's max_blob_size applies as well, through the store).
	MaxObjectSize int64
	// MinPartSize is the smallest non-last part; default DefaultMinPartSize.
	MinPartSize int64
	// MultipartExpiry: uploads older than this are aborted by Sweep.
	// Default node.DefaultS3MultipartExpiry.
	MultipartExpiry time.Duration
	// ETag is how a single PUT's and a copy's ETag is made: ETagMD5 (the
	// default, S3's rule: the content's MD5, which rclone and others check
	// against their own) or ETagVersion (the blob API's version ETag, no
	// MD5 computed: MD5 runs at about 1.2 ms of CPU per MB, more than the
	// rest of a PUT). A Content-MD5 the client sends is verified and kept
	// as the ETag either way; multipart parts are always hashed, since
	// the multipart ETag is built from their MD5s.
	ETag string
	// Registerer receives the strata_s3_* metrics; nil: not exported.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

func (o *Options) fill() error {
	if (o.Store == nil) == (o.StoreFunc == nil) {
		return fmt.Errorf("s3: Options: want exactly one of Store and StoreFunc")
	}
	if o.Verifier == nil || o.Node == nil {
		return fmt.Errorf("s3: Options: Verifier and Node are required")
	}
	if o.Store != nil {
		st := o.Store
		o.StoreFunc = func() node.Store { return st }
	}
	if o.Region == "" {
		o.Region = node.DefaultS3Region
	}
	switch o.ETag {
	case "":
		o.ETag = ETagMD5
	case ETagMD5, ETagVersion:
	default:
		return fmt.Errorf("s3: Options: ETag %q: want %q or %q", o.ETag, ETagMD5, ETagVersion)
	}
	if o.MaxObjectSize <= 0 || o.MaxObjectSize > MaxObjectSize {
		o.MaxObjectSize = MaxObjectSize
	}
	if o.MinPartSize <= 0 {
		o.MinPartSize = DefaultMinPartSize
	}
	if o.MultipartExpiry <= 0 {
		o.MultipartExpiry = node.DefaultS3MultipartExpiry
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// NewVerifier builds the sigv4 verifier for the configured keys.
func NewVerifier(c node.S3Config) *sigv4.Verifier {
	keys := make(map[string]sigv4.Key, len(c.Keys))
	for _, k := range c.Keys {
		keys[k.AccessKey] = sigv4.Key{AccessKey: k.AccessKey, SecretKey: k.SecretKey, Scope: k.Scope, Buckets: k.Buckets}
	}
	return &sigv4.Verifier{
		Keys:    func(ak string) (sigv4.Key, bool) { k, ok := keys[ak]; return k, ok },
		Now:     time.Now,
		MaxSkew: 15 * time.Minute,
		Region:  c.Region,
	}
}
