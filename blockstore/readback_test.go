package blockstore

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

// TestFailedSyncReadsBackLastAckedGroup: after a failed fdatasync the
// store reads the disk's last acknowledged group back before it appends
// there again. If that read fails or does not match, the whole disk (not
// just the volume) takes no more writes; if it reads back, writing goes on
// in a new volume.
func TestFailedSyncReadsBackLastAckedGroup(t *testing.T) {
	ctx := context.Background()
	vol1 := filepath.Join("/data0", volumeFileName(1))
	for _, tc := range []struct {
		name     string
		damage   func(t *testing.T, mfs *memfs.FS, toggle *errorfs.Toggle, acked Info)
		readOnly bool
	}{
		{"reads back", func(*testing.T, *memfs.FS, *errorfs.Toggle, Info) {}, false},
		{"read fails", func(t *testing.T, _ *memfs.FS, toggle *errorfs.Toggle, _ Info) {
			toggle.SetInjector(errorfs.PathMatch(vol1, errorfs.InjectorFunc(func(op errorfs.Op) errorfs.Fault {
				if op.Kind == errorfs.OpRead {
					return errorfs.Fault{Err: errorfs.EIO}
				}
				return errorfs.Fault{}
			})))
		}, true},
		{"bytes differ", func(t *testing.T, mfs *memfs.FS, _ *errorfs.Toggle, _ Info) {
			f := volumeFile(t, mfs, "/data0", 1)
			defer f.Close()
			pokeFile(t, f, 0, func(b []byte) []byte { b[recordHeaderLen+2] ^= 1; return b })
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mfs := memfs.New(memfs.Options{})
			toggle := errorfs.NewToggle()
			s := mustOpen(t, testOptions(t, errorfs.Wrap(mfs, toggle)))
			defer s.Close()
			acked := put(t, s, "acked", []byte("durable bytes"))
			tc.damage(t, mfs, toggle, acked)
			toggle.Set(errorfs.OpSync, errorfs.EIO)
			if _, err := s.Put(ctx, "fails", strings.NewReader("x"), 1, PutOptions{}); !errors.Is(err, ErrReadOnly) {
				t.Fatalf("put during failed sync: %v", err)
			}
			toggle.Set(errorfs.OpSync, nil)
			_, err := s.Put(ctx, "after", strings.NewReader("y"), 1, PutOptions{})
			if !tc.readOnly {
				if err != nil {
					t.Fatalf("put after a failure that read back: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrReadOnly) {
				t.Fatalf("put after the acked group did not read back: %v, want ErrReadOnly", err)
			}
			if err := s.Healthy(); !errors.Is(err, ErrReadOnly) {
				t.Fatalf("Healthy: %v, want ErrReadOnly", err)
			}
		})
	}
}
