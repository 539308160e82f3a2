package node

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"strata/blockstore"
	"strata/node/placement"
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

// ReservedPrefix starts the keys the S3 API keeps its own state under (its
// bucket registry and multipart uploads). No S3 object key starts with it
// (bucket names cannot start with "."); the blob API serves reads of them
// but refuses writes and deletes, so nobody corrupts that state by accident.
const ReservedPrefix = ".s3/"

// IsReservedKey reports whether key is S3 state: under ReservedPrefix, or a
// co-located key (placement.Colocate) whose rest is. It is the one rule for
// which keys belong to the S3 API.
func IsReservedKey(key string) bool {
	return strings.HasPrefix(key, ReservedPrefix) || strings.HasPrefix(placement.ColocatedRest(key), ReservedPrefix)
}

// checkWritableKey refuses a blob API write or delete of a reserved key.
func checkWritableKey(key string) error {
	if IsReservedKey(key) {
		return fmt.Errorf("%w: %q", errReservedKey, ReservedPrefix)
	}
	return nil
}
