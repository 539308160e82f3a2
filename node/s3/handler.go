package s3

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/s3/sigv4"
)

// Handler is the S3 API over a node.Store. It is an http.Handler.
type Handler struct {
	opt     Options
	log     *slog.Logger
	metrics *metrics
	idBase  uint64
	idSeq   atomic.Uint64
	bufs    sync.Pool // *[copyBufSize]byte, GET bodies' copy buffers
}

// New builds a Handler.
func New(opt Options) (*Handler, error) {
	if err := opt.fill(); err != nil {
		return nil, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Handler{opt: opt, log: opt.Logger, metrics: newMetrics(opt.Registerer), idBase: binary.BigEndian.Uint64(b[:])}, nil
}

// request is one S3 request in flight.
type request struct {
	w      *node.ResponseRecorder
	r      *http.Request
	id     string
	op     string
	t      target
	auth   *sigv4.Auth
	store  node.Store
	failed *Error // the error answered, for logs
}

// ServeHTTP authenticates the request, checks the key's scope and buckets,
// and runs the operation. Nothing reaches the store before auth passes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := node.NewResponseRecorder(w)
	q := &request{w: rec, r: r, id: h.requestID()}
	hdr := w.Header()
	hdr.Set("X-Amz-Request-Id", q.id)
	hdr.Set("X-Amz-Id-2", q.id)
	hdr.Set("Server", "Strata")
	defer func() {
		status := rec.Status()
		if status == 0 {
			status = http.StatusOK
		}
		h.metrics.observe(q.op, status, time.Since(start))
	}()
	t, ok := addressOf(r, h.opt.Domain)
	if !ok {
		q.op = opInvalidBucket
		h.fail(q, fmt.Errorf("%w: bad percent-encoding", ErrInvalidArgument))
		return
	}
	q.t = t
	q.op = operationOf(r, t)
	if q.store = h.opt.StoreFunc(); q.store == nil {
		h.fail(q, errNoStore)
		return
	}
	auth, err := h.opt.Verifier.Verify(r)
	if err != nil {
		h.fail(q, err)
		return
	}
	q.auth = auth
	if auth.Anonymous {
		h.fail(q, ErrAnonymous)
		return
	}
	if auth.Body != nil {
		r.Body = auth.Body
	}
	if q.op == opNotImplemented {
		h.fail(q, ErrNotImplemented)
		return
	}
	if q.op == opMethodNotAllowed {
		h.fail(q, ErrMethodNotAllowed)
		return
	}
	if err := h.permit(q, t.bucket, writeOps[q.op]); err != nil {
		h.fail(q, err)
		return
	}
	if t.bucket != "" && q.op != opCreateBucket && q.op != opListBuckets {
		if err := validBucketName(t.bucket); err != nil {
			h.fail(q, ErrNoSuchBucket) // no bucket can have that name
			return
		}
	}
	if t.key != "" {
		if err := checkKey(t.bucket, t.key); err != nil {
			h.fail(q, err)
			return
		}
	}
	err = h.dispatch(q)
	if err != nil {
		h.fail(q, err)
	}
}

// dispatch runs the operation; an error it returns has sent nothing yet.
func (h *Handler) dispatch(q *request) error {
	switch q.op {
	case opListBuckets:
		return h.listBuckets(q)
	case opCreateBucket:
		return h.createBucket(q)
	case opHeadBucket:
		return h.headBucket(q)
	case opDeleteBucket:
		return h.deleteBucket(q)
	case opGetBucketLocation:
		return h.getBucketLocation(q)
	case opGetBucketVersioning:
		return h.getBucketVersioning(q)
	case opGetBucketACL, opGetObjectACL:
		return h.getACL(q)
	case opListObjects, opListObjectsV2:
		return h.listObjects(q, q.op == opListObjectsV2)
	case opListMultipartUploads:
		return h.listMultipartUploads(q)
	case opDeleteObjects:
		return h.deleteObjects(q)
	case opPutObject:
		return h.putObject(q)
	case opCopyObject:
		return h.copyObject(q)
	case opGetObject, opHeadObject:
		return h.getObject(q)
	case opDeleteObject:
		return h.deleteObject(q)
	case opCreateMultipart:
		return h.createMultipart(q)
	case opUploadPart, opUploadPartCopy:
		return h.uploadPart(q)
	case opCompleteMultipart:
		return h.completeMultipart(q)
	case opAbortMultipart:
		return h.abortMultipart(q)
	case opListParts:
		return h.listParts(q)
	}
	return ErrNotImplemented
}

// permit checks the key's scope (read or read-write) and bucket list.
func (h *Handler) permit(q *request, bucket string, write bool) error {
	k := q.auth.Key
	if write && k.Scope != node.ScopeReadWrite {
		return fmt.Errorf("%w: key %s has scope %q", ErrAccessDenied, k.AccessKey, k.Scope)
	}
	if bucket != "" && !keyAllows(k, bucket) {
		return fmt.Errorf("%w: key %s may not use bucket %q", ErrAccessDenied, k.AccessKey, bucket)
	}
	return nil
}

// keyAllows reports whether k may use bucket (an empty list: all buckets).
func keyAllows(k sigv4.Key, bucket string) bool {
	return len(k.Buckets) == 0 || slices.Contains(k.Buckets, bucket)
}

// checkKey refuses object keys the blob key "bucket/key" cannot hold.
func checkKey(bucket, key string) error {
	if len(bucket)+1+len(key) > blockstore.MaxKeyLen {
		return fmt.Errorf("%w: %d bytes with the bucket, limit %d", ErrKeyTooLong, len(bucket)+1+len(key), blockstore.MaxKeyLen)
	}
	if err := blockstore.ValidateKey(key); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return nil
}

// blobKey is the native key of an S3 object.
func blobKey(bucket, key string) string { return bucket + "/" + key }

// requestID is unique per request of this handler: a random base and a counter.
func (h *Handler) requestID() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h.idBase+h.idSeq.Add(1))
	return hex.EncodeToString(b[:])
}

// errorBody is an S3 error answer.
type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
}

// fail answers err as S3 XML (no body for HEAD).
func (h *Handler) fail(q *request, err error) {
	e := errorOf(err)
	if e == ErrContentSHA256Mismatch && (q.r.Header.Get("Content-Md5") != "" || hasChecksumHeader(q.r.Header)) {
		// A digest mismatch with Content-MD5 or a checksum sent is S3's
		// BadDigest; with x-amz-content-sha256 alone, its SHA-256 mismatch.
		e = ErrBadDigest
	}
	q.failed = e
	if e.Status >= 500 && e.Status != statusClientClosed {
		h.log.Warn("s3 request failed", "op", q.op, "request_id", q.id, "err", err)
	} else {
		h.log.Debug("s3 request refused", "op", q.op, "request_id", q.id, "code", e.Code, "err", err)
	}
	if q.w.Status() != 0 {
		return // too late for an error answer
	}
	status := e.Status
	if status == statusClientClosed {
		status = http.StatusBadRequest
	}
	hdr := q.w.Header()
	if e == ErrSlowDown || e == ErrServiceUnavailable || e == errNoStore {
		hdr.Set("Retry-After", "1")
	}
	if q.r.ContentLength != 0 && q.r.Method != http.MethodGet && q.r.Method != http.MethodHead {
		// The body may be partly unread: close after this answer rather
		// than wait to drain it.
		hdr.Set("Connection", "close")
	}
	if e == ErrNotModified || q.r.Method == http.MethodHead {
		hdr.Del("Content-Type")
		hdr.Del("Content-Length")
		q.w.WriteHeader(status)
		return
	}
	writeXML(q.w, status, errorBody{Code: e.Code, Message: e.Message, Resource: q.r.URL.Path, RequestID: q.id, HostID: q.id})
}

// writeXML answers status with v encoded as XML.
func writeXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte("<Error><Code>InternalError</Code></Error>")
	}
	body = append([]byte(xml.Header), body...)
	hdr := w.Header()
	hdr.Set("Content-Type", "application/xml")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// hasChecksumHeader reports an x-amz-checksum-* header or trailer.
func hasChecksumHeader(hdr http.Header) bool {
	if hdr.Get("X-Amz-Trailer") != "" {
		return true
	}
	for name := range hdr {
		if strings.HasPrefix(name, "X-Amz-Checksum-") && name != "X-Amz-Checksum-Algorithm" {
			return true
		}
	}
	return false
}

// isNotFound reports a store's not-found.
func isNotFound(err error) bool { return errors.Is(err, blockstore.ErrNotFound) }
