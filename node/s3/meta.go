package s3

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"sort"
	"strings"

	"strata/blockstore"
)

// metaETag holds a multipart object's ETag in Info.Meta: the S3 rule
// (md5 of the parts' md5s, "-N") is not an MD5 of the content.
const metaETag = "X-Strata-S3-Etag"

// storedHeaders are the standard headers kept with an object and returned
// on GET and HEAD. (Content-Type is kept as the blob's content type.)
var storedHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// maxUserMeta bounds the x-amz-meta-* names and values together, as S3 does.
const maxUserMeta = 2 << 10

const userMetaPrefix = "X-Amz-Meta-"

// metaFromHeaders takes an object's metadata from a PutObject, CopyObject
// (REPLACE) or CreateMultipartUpload request.
func metaFromHeaders(hdr http.Header) (meta map[string]string, contentType string, err error) {
	meta = map[string]string{}
	for _, name := range storedHeaders {
		v := strings.TrimSpace(hdr.Get(name))
		if name == "Content-Encoding" {
			v = dropAWSChunked(v)
		}
		if v != "" {
			meta[name] = v
		}
	}
	user := 0
	for name, vs := range hdr {
		if !strings.HasPrefix(name, userMetaPrefix) || len(name) == len(userMetaPrefix) {
			continue
		}
		v := strings.Join(vs, ",")
		user += len(name) - len(userMetaPrefix) + len(v)
		meta[textproto.CanonicalMIMEHeaderKey(name)] = v
	}
	if user > maxUserMeta {
		return nil, "", fmt.Errorf("%w: %d bytes of x-amz-meta-*, limit %d", ErrMetadataTooLarge, user, maxUserMeta)
	}
	if err := blockstore.ValidateMeta(meta); err != nil {
		return nil, "", fmt.Errorf("%w: metadata: %v", ErrInvalidArgument, err)
	}
	contentType = strings.TrimSpace(hdr.Get("Content-Type"))
	if err := blockstore.ValidateContentType(contentType); err != nil {
		return nil, "", fmt.Errorf("%w: Content-Type: %v", ErrInvalidArgument, err)
	}
	if len(meta) == 0 {
		meta = nil
	}
	return meta, contentType, nil
}

// dropAWSChunked removes the "aws-chunked" coding SDKs add for streaming
// signatures: it describes the transfer, not the object.
func dropAWSChunked(v string) string {
	if v == "" {
		return ""
	}
	var keep []string
	for c := range strings.SplitSeq(v, ",") {
		if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "aws-chunked") {
			keep = append(keep, c)
		}
	}
	return strings.Join(keep, ",")
}

// setObjectHeaders sets the headers GET and HEAD answer with for info.
func setObjectHeaders(hdr http.Header, info blockstore.Info) {
	hdr.Set("ETag", etagOf(info))
	hdr.Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	ct := info.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	hdr.Set("Content-Type", ct)
	hdr.Set("Accept-Ranges", "bytes")
	names := make([]string, 0, len(info.Meta))
	for name := range info.Meta {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch {
		case name == metaETag:
		case strings.HasPrefix(name, userMetaPrefix):
			// Lowercase on the wire, as S3 sends it: botocore keeps the
			// case of what follows the prefix as the metadata key.
			hdr[strings.ToLower(name)] = []string{info.Meta[name]}
		default:
			hdr.Set(name, info.Meta[name])
		}
	}
}

// etagOf is the S3 ETag of a blob: the multipart ETag kept in its metadata,
// else its content MD5, else (a blob written through the native API) the
// native version ETag.
func etagOf(info blockstore.Info) string {
	if e := info.Meta[metaETag]; e != "" {
		return `"` + e + `"`
	}
	if len(info.MD5) > 0 {
		return `"` + hex.EncodeToString(info.MD5) + `"`
	}
	return info.ETag()
}

// responseOverrides are GetObject's response-* query parameters and the
// headers they set.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// applyOverrides sets the headers a GET's response-* parameters ask for.
func applyOverrides(hdr http.Header, r *http.Request) {
	q := r.URL.Query()
	for param, name := range responseOverrides {
		if v, ok := q[param]; ok && len(v) > 0 {
			hdr.Set(name, v[0])
		}
	}
}
