package node

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"strata/blockstore"
)

// MaxKeyLen is the longest key in bytes.
const MaxKeyLen = 1024

// blobsPrefix is the escaped-path prefix of blob routes.
const blobsPrefix = "/blobs/"

// ValidateKey accepts 1 to MaxKeyLen bytes of UTF-8 without control
// characters (C0, DEL, C1). Errors wrap blockstore.ErrInvalidKey.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", blockstore.ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: %d bytes, the limit is %d", blockstore.ErrInvalidKey, len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: not UTF-8", blockstore.ErrInvalidKey)
	}
	if i := strings.IndexFunc(key, unicode.IsControl); i >= 0 {
		return fmt.Errorf("%w: control character at byte %d", blockstore.ErrInvalidKey, i)
	}
	return nil
}

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
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return key, nil
}
