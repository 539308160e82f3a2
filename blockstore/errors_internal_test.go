package blockstore

import (
	"errors"
	"fmt"
	"testing"
)

// TestNotFoundErrorText: errNotFoundKey reads as the fmt.Errorf it replaced
// and wraps ErrNotFound.
func TestNotFoundErrorText(t *testing.T) {
	for _, key := range []string{"k", "a/b c", "quote\"d", "\u00e9\u2028"} {
		err := errNotFoundKey(key)
		want := fmt.Errorf("%w: %q", ErrNotFound, key)
		if err.Error() != want.Error() || !errors.Is(err, ErrNotFound) {
			t.Errorf("errNotFoundKey(%q) = %q, want %q wrapping ErrNotFound", key, err, want)
		}
	}
}
