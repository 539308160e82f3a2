package node

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"strata/blockstore"
)

// blobsPrefix is the escaped-path prefix of blob routes.
const blobsPrefix = "/blobs/"

// errNotBlobPath: the path is not under /blobs/.
var errNotBlobPath = errors.New("node: not a blob path")

// keyFromEscapedPath takes the key from an escaped request path
// ("/blobs/a%2Fb" is key "a/b"), unescaping exactly once. The key is an
// opaque string: "..", "//" and "%2F" are kept, never resolved as a path.
func keyFromEscapedPath(escaped string) (string, error) {
	rest, ok := strings.CutPrefix(escaped, blobsPrefix)
	if !ok {
		return "", errNotBlobPath
	}
	key, err := url.PathUnescape(rest)
	if err != nil {
		return "", fmt.Errorf("%w: bad percent-encoding", blockstore.ErrInvalidKey)
	}
	if err := blockstore.ValidateKey(key); err != nil {
		return "", err
	}
	return key, nil
}
