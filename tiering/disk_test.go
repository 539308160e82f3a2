package tiering

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// TestSecondStoreOnSameSSDCacheIsRefused: two stores on one SSD cache file
// would overwrite each other's regions; the second Open fails (it does not
// just run without the cache) and names the file, and works once the first
// is closed.
func TestSecondStoreOnSameSSDCacheIsRefused(t *testing.T) {
	ctx := context.Background()
	o := smallOpts(t, newFakeBackend(16<<10))
	first, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	second := o
	second.Backend = newFakeBackend(16 << 10)
	if s, err := Open(ctx, second); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), o.SSDPath) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("second Open: %v; want ErrLocked naming %s", err, o.SSDPath)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, second)
	if err != nil {
		t.Fatalf("Open after the first closed: %v", err)
	}
	if s.ssd == nil {
		t.Fatal("ssd cache off after the first store closed")
	}
	s.Close()
}

func TestSSDCacheFileMode(t *testing.T) {
	for _, tc := range []struct {
		mode, want fs.FileMode
	}{{0, 0o600}, {0o640, 0o640}} {
		o := smallOpts(t, newFakeBackend(16<<10))
		o.FileMode = tc.mode
		s, err := Open(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		s.Close() // also writes the index snapshot
		for _, name := range []string{o.SSDPath, o.SSDPath + ".index"} {
			fi, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm() &^ 0o022; got != tc.want&^0o022 {
				t.Errorf("FileMode %v: %s has mode %v, want %v", tc.mode, name, fi.Mode().Perm(), tc.want)
			}
		}
	}
}

// writableBackend reports a fixed Writable answer.
type writableBackend struct {
	*fakeBackend
	err error
}

func (b writableBackend) Writable() error { return b.err }

func TestWritablePassesThrough(t *testing.T) {
	full := errors.New("full")
	o := smallOpts(t, newFakeBackend(16<<10))
	o.Backend = writableBackend{fakeBackend: o.Backend.(*fakeBackend), err: full}
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Writable(); !errors.Is(err, full) {
		t.Fatalf("Writable: %v, want the backend's", err)
	}
	s.Close()
	if err := s.Writable(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Writable after Close: %v", err)
	}
}
