package blockstore

import (
	"fmt"
	"testing"
)

// ETag keeps the format it always had: the version in 16 hex digits, quoted.
func TestInfoETag(t *testing.T) {
	for _, v := range []uint64{0, 1, 0xf, 0x10, 0x1a2b3c4d5e6f7081, 1<<63 + 5, ^uint64(0)} {
		if got, want := (Info{Version: v}).ETag(), fmt.Sprintf("\"%016x\"", v); got != want {
			t.Errorf("ETag of version %#x = %s, want %s", v, got, want)
		}
	}
}
