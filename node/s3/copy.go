package s3

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"strata/blockstore"
	"strata/node"
)

// parseCopySource reads x-amz-copy-source: "bucket/key" or "/bucket/key",
// URL-encoded, optionally with "?versionId=null" (the one version an
// unversioned object has; another version id is NotImplemented).
func parseCopySource(v string) (target, error) {
	path, query, _ := strings.Cut(v, "?")
	if query != "" {
		vals, err := url.ParseQuery(query)
		if err != nil {
			return target{}, fmt.Errorf("%w: %v", ErrInvalidCopySource, err)
		}
		if id := vals.Get("versionId"); id != "" && id != "null" {
			return target{}, fmt.Errorf("%w: copy of version %q", ErrNotImplemented, id)
		}
	}
	path, err := url.PathUnescape(strings.TrimPrefix(path, "/"))
	if err != nil {
		return target{}, fmt.Errorf("%w: %v", ErrInvalidCopySource, err)
	}
	bucket, key, ok := strings.Cut(path, "/")
	if !ok || bucket == "" || key == "" {
		return target{}, ErrInvalidCopySource
	}
	if err := validBucketName(bucket); err != nil {
		return target{}, fmt.Errorf("%w: %w", ErrNoSuchBucket, err)
	}
	if err := checkKey(bucket, key); err != nil {
		return target{}, err
	}
	return target{bucket: bucket, key: key}, nil
}

// copySourcePreconditions are the x-amz-copy-source-if-* headers.
func copySourcePreconditions(hdr http.Header) node.Preconditions {
	return node.Preconditions{
		IfMatch:           hdr.Values("X-Amz-Copy-Source-If-Match"),
		IfNoneMatch:       hdr.Values("X-Amz-Copy-Source-If-None-Match"),
		IfModifiedSince:   hdr.Values("X-Amz-Copy-Source-If-Modified-Since"),
		IfUnmodifiedSince: hdr.Values("X-Amz-Copy-Source-If-Unmodified-Since"),
	}
}

// openCopySource checks the key may read the source, opens it and applies
// the copy-source conditions (any that fails: 412). The caller closes the
// object.
func (h *Handler) openCopySource(q *request) (node.Object, target, error) {
	src, err := parseCopySource(q.r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return nil, target{}, err
	}
	if err := h.permit(q, src.bucket, false); err != nil {
		return nil, target{}, err
	}
	ctx := q.r.Context()
	if err := h.bucketExists(ctx, q.store, src.bucket); err != nil {
		return nil, target{}, err
	}
	obj, err := q.store.Open(ctx, blobKey(src.bucket, src.key))
	if err != nil {
		return nil, target{}, err
	}
	info := obj.Info()
	cond, err := copySourcePreconditions(q.r.Header).Check(etagOf(info), info.ModTime)
	if err == nil && cond != node.CondProceed {
		err = ErrPreconditionFailed
	}
	if err != nil {
		obj.Close()
		return nil, target{}, err
	}
	return obj, src, nil
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyObjectResult"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

// copyObject answers CopyObject inside the node: the source is streamed
// from the store into a Put of the destination, never through the client.
// The copy is a new single-part object: its ETag is its content's MD5.
func (h *Handler) copyObject(q *request) error {
	directive := q.r.Header.Get("X-Amz-Metadata-Directive")
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return fmt.Errorf("%w: x-amz-metadata-directive %q", ErrInvalidArgument, directive)
	}
	ctx := q.r.Context()
	dst := blobKey(q.t.bucket, q.t.key)
	done, err := h.objectWriteGate(q, dst)
	if err != nil {
		return err
	}
	defer done()
	obj, src, err := h.openCopySource(q)
	if err != nil {
		return err
	}
	defer obj.Close()
	info := obj.Info()
	if src == q.t && directive != "REPLACE" {
		return ErrCopyToItself
	}
	if info.Size > h.opt.MaxObjectSize {
		return fmt.Errorf("%w: the copy source is larger than %d bytes; copy it with UploadPartCopy", ErrInvalidRequest, h.opt.MaxObjectSize)
	}
	opts := blockstore.PutOptions{ContentType: info.ContentType, Meta: copyMeta(info.Meta), WantMD5: h.opt.ETag == ETagMD5}
	if len(info.MD5) > 0 {
		// The copy is the source's content byte for byte: its MD5 is
		// known, and hashing it again would only cost CPU.
		opts.MD5 = info.MD5
	}
	if directive == "REPLACE" {
		if opts.Meta, opts.ContentType, err = metaFromHeaders(q.r.Header); err != nil {
			return err
		}
	}
	content, err := contentReader(obj, 0, info.Size)
	if err != nil {
		return err
	}
	out, err := q.store.Put(ctx, dst, content, info.Size, opts)
	if err != nil {
		return err
	}
	if err := h.confirmBucket(q, dst, out); err != nil {
		return err
	}
	writeXML(q.w, http.StatusOK, copyObjectResult{LastModified: s3Time(out.ModTime), ETag: etagOf(out)})
	return nil
}

// copyMeta is the metadata a COPY directive carries over: all but the
// multipart ETag (the copy is a single-part object).
func copyMeta(meta map[string]string) map[string]string {
	if len(meta) == 0 {
		return nil
	}
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		if k != metaETag {
			out[k] = v
		}
	}
	return out
}
