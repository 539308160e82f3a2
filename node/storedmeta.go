package node

import (
	"net/http"
)

// storedHeaders are the metadata names (blockstore Info.Meta, written by
// the S3 API) that the native GET and HEAD answer as response headers:
// they describe the representation, so a client reading the blob through
// either API decodes it the same way. User metadata (X-Amz-Meta-*) and
// the S3 API's own entries stay S3's.
var storedHeaders = [...]string{"Content-Encoding", "Cache-Control", "Content-Disposition", "Content-Language", "Expires"}

// setStoredHeaders copies the stored representation headers of meta to h.
func setStoredHeaders(h http.Header, meta map[string]string) {
	for _, name := range storedHeaders {
		if v, ok := meta[name]; ok && v != "" {
			h.Set(name, v)
		}
	}
}

// clearStoredHeaders removes them again, for an error answer.
func clearStoredHeaders(h http.Header) {
	for _, name := range storedHeaders {
		h.Del(name)
	}
}
