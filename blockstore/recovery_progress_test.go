package blockstore

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"strata/ioengine/memfs"
)

// TestRecoveryProgress: a rebuild's scan reports the bytes it reads through
// Options.RecoveryProgress (serve extends systemd's start timeout only
// while it advances): at least all the volume bytes it re-indexes.
func TestRecoveryProgress(t *testing.T) {
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	opts.VolumeSize = 1 << 20
	s := mustOpen(t, opts)
	const keys, size = 40, 20 << 10
	for i := range keys {
		put(t, s, fmt.Sprintf("key-%03d", i), make([]byte, size))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		prepare   func(t *testing.T)
		wantBytes int64 // at least
	}{
		{"rebuild", func(t *testing.T) {
			if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
				t.Fatal(err)
			}
		}, keys * size},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.prepare(t)
			var calls, bytes atomic.Int64
			o := opts
			o.RecoveryProgress = func(n int64) { calls.Add(1); bytes.Add(n) }
			s := mustOpen(t, o)
			defer s.Close()
			if bytes.Load() < tc.wantBytes {
				t.Fatalf("progress reported %d bytes in %d calls, want at least %d", bytes.Load(), calls.Load(), tc.wantBytes)
			}
			if _, err := s.Stat(t.Context(), "key-007"); err != nil {
				t.Fatalf("after reopen: %v", err)
			}
		})
	}
}
