package blockstore

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxKeyLen is the longest key, in bytes.
const MaxKeyLen = 1024

// MaxMetaBytes bounds a blob's metadata: the names and values of
// PutOptions.Meta together.
const MaxMetaBytes = 8 << 10

// MaxContentTypeLen is the longest content type, in bytes.
const MaxContentTypeLen = 255

// ValidateKey reports whether key may name a blob: 1 to MaxKeyLen bytes of
// UTF-8 without control characters. The error wraps ErrInvalidKey.
func ValidateKey(key string) error {
	if len(key) == 0 {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	for i, r := range key {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(key[i:]); size <= 1 {
				return fmt.Errorf("%w: invalid UTF-8 at byte %d", ErrInvalidKey, i)
			}
		}
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character %U at byte %d", ErrInvalidKey, r, i)
		}
	}
	return nil
}

// ValidateContentType accepts printable ASCII up to MaxContentTypeLen bytes,
// which is what an HTTP header value can carry unchanged. The error wraps
// ErrInvalidArgument. The node checks headers with it, so the HTTP answer
// and the store's rule cannot drift apart.
func ValidateContentType(ct string) error {
	if len(ct) > MaxContentTypeLen {
		return fmt.Errorf("%w: content type is %d bytes, limit %d", ErrInvalidArgument, len(ct), MaxContentTypeLen)
	}
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%w: content type has byte %#x at %d", ErrInvalidArgument, c, i)
		}
	}
	return nil
}
