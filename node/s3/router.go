package s3

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Operation names, as the strata_s3_* metrics label them.
const (
	opListBuckets          = "ListBuckets"
	opCreateBucket         = "CreateBucket"
	opHeadBucket           = "HeadBucket"
	opDeleteBucket         = "DeleteBucket"
	opGetBucketLocation    = "GetBucketLocation"
	opGetBucketVersioning  = "GetBucketVersioning"
	opGetBucketACL         = "GetBucketAcl"
	opListObjects          = "ListObjects"
	opListObjectsV2        = "ListObjectsV2"
	opListMultipartUploads = "ListMultipartUploads"
	opDeleteObjects        = "DeleteObjects"
	opPutObject            = "PutObject"
	opCopyObject           = "CopyObject"
	opGetObject            = "GetObject"
	opHeadObject           = "HeadObject"
	opDeleteObject         = "DeleteObject"
	opGetObjectACL         = "GetObjectAcl"
	opCreateMultipart      = "CreateMultipartUpload"
	opUploadPart           = "UploadPart"
	opUploadPartCopy       = "UploadPartCopy"
	opCompleteMultipart    = "CompleteMultipartUpload"
	opAbortMultipart       = "AbortMultipartUpload"
	opListParts            = "ListParts"
	opNotImplemented       = "NotImplemented"
	opMethodNotAllowed     = "MethodNotAllowed"
	opInvalidBucket        = "InvalidBucketName"
)

// writeOps are the operations a read-scope key may not perform.
var writeOps = map[string]bool{
	opCreateBucket: true, opDeleteBucket: true, opDeleteObjects: true, opPutObject: true,
	opCopyObject: true, opDeleteObject: true, opCreateMultipart: true, opUploadPart: true,
	opUploadPartCopy: true, opCompleteMultipart: true, opAbortMultipart: true,
}

// unsupportedSubresources are S3 sub-resources this handler does not
// implement: a request naming one is answered NotImplemented, never with
// the answer of the plain resource (which would be a wrong success).
var unsupportedSubresources = []string{
	"accelerate", "analytics", "attributes", "cors", "encryption", "intelligent-tiering",
	"inventory", "legal-hold", "lifecycle", "logging", "metrics", "notification", "object-lock",
	"ownershipControls", "policy", "policyStatus", "publicAccessBlock", "replication",
	"requestPayment", "restore", "retention", "select", "tagging", "torrent", "versionId",
	"versions", "website", "session", "renameObject",
}

// target is what a request addresses.
type target struct {
	bucket string // "" for the service (ListBuckets)
	key    string // "" for a bucket
}

// addressOf takes the bucket and key from the request: virtual-host style
// when the Host is "<bucket>.<domain>", path style ("/bucket/key")
// otherwise. The key is the rest of the escaped path, unescaped once.
func addressOf(r *http.Request, domain string) (target, bool) {
	escaped := r.URL.EscapedPath()
	if domain != "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		if b, ok := strings.CutSuffix(host, "."+strings.ToLower(domain)); ok && b != "" {
			key, err := url.PathUnescape(strings.TrimPrefix(escaped, "/"))
			return target{bucket: b, key: key}, err == nil
		}
	}
	rest := strings.TrimPrefix(escaped, "/")
	if rest == "" {
		return target{}, true
	}
	b, k, _ := strings.Cut(rest, "/")
	bucket, err := url.PathUnescape(b)
	if err != nil {
		return target{}, false
	}
	key, err := url.PathUnescape(k)
	return target{bucket: bucket, key: key}, err == nil
}

// operationOf names the S3 operation of a request.
func operationOf(r *http.Request, t target) string {
	q := r.URL.Query()
	has := func(name string) bool { _, ok := q[name]; return ok }
	for _, sub := range unsupportedSubresources {
		if has(sub) {
			if sub == "versionId" && q.Get("versionId") == "null" {
				continue // the one version an unversioned bucket has
			}
			return opNotImplemented
		}
	}
	if has("acl") && r.Method != http.MethodGet {
		return opNotImplemented
	}
	switch {
	case t.bucket == "":
		if r.Method == http.MethodGet {
			return opListBuckets
		}
		return opMethodNotAllowed
	case t.key == "":
		switch r.Method {
		case http.MethodGet:
			switch {
			case has("location"):
				return opGetBucketLocation
			case has("versioning"):
				return opGetBucketVersioning
			case has("acl"):
				return opGetBucketACL
			case has("uploads"):
				return opListMultipartUploads
			case q.Get("list-type") == "2":
				return opListObjectsV2
			}
			return opListObjects
		case http.MethodHead:
			return opHeadBucket
		case http.MethodPut:
			if has("versioning") {
				return opNotImplemented
			}
			return opCreateBucket
		case http.MethodDelete:
			return opDeleteBucket
		case http.MethodPost:
			if has("delete") {
				return opDeleteObjects
			}
			return opNotImplemented
		}
		return opMethodNotAllowed
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && has("partNumber") {
		return opNotImplemented // reading one part of a multipart object
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case has("uploadId"):
			return opListParts
		case has("acl"):
			return opGetObjectACL
		}
		return opGetObject
	case http.MethodHead:
		return opHeadObject
	case http.MethodPut:
		copySource := r.Header.Get("X-Amz-Copy-Source") != ""
		switch {
		case has("uploadId") || has("partNumber"):
			if copySource {
				return opUploadPartCopy
			}
			return opUploadPart
		case copySource:
			return opCopyObject
		}
		return opPutObject
	case http.MethodDelete:
		if has("uploadId") {
			return opAbortMultipart
		}
		return opDeleteObject
	case http.MethodPost:
		switch {
		case has("uploads"):
			return opCreateMultipart
		case has("uploadId"):
			return opCompleteMultipart
		}
		return opNotImplemented
	}
	return opMethodNotAllowed
}
