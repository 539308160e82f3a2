package ioengine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"strata/ioengine"
	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

// requireExt4 skips unless dir is on ext4, where O_DIRECT is known to work
// and to reject misaligned requests.
func requireExt4(t *testing.T, dir string) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.EXT4_SUPER_MAGIC {
		t.Skipf("temp dir %s is not ext4 (statfs magic %#x); O_DIRECT behaviour is filesystem-specific", dir, st.Type)
	}
}

func TestOSFSDirectOnExt4(t *testing.T) {
	dir := t.TempDir()
	requireExt4(t, dir)
	dev, err := ioengine.NewDevice(ioengine.OSFS(), dir, ioengine.DeviceOptions{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if !dev.Direct() || !dev.Stats().Direct {
		t.Fatal("ext4 device did not get direct I/O")
	}
	if a := dev.Alignment(); a < 4096 || a&(a-1) != 0 {
		t.Fatalf("alignment %d", a)
	}
	if names, err := dev.FS().ReadDir(dir); err != nil || len(names) != 0 {
		t.Fatalf("probe left files behind: %v %v", names, err)
	}
	h, err := dev.Open("data", ioengine.FlagCreate|ioengine.FlagDirect)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if !h.Direct() {
		t.Fatal("handle is not direct")
	}
	ctx := context.Background()
	buf := dev.Buffers().Get(2 * dev.Alignment())
	defer dev.Buffers().Put(buf)
	for i := range buf.B {
		buf.B[i] = byte(i)
	}
	if _, err := h.WriteAt(ctx, ioengine.ClassWrite, buf.B, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Sync(ctx, ioengine.ClassWrite); err != nil {
		t.Fatal(err)
	}
	// The kernel, not ioengine, must refuse these: that proves O_DIRECT is on.
	unaligned := []struct {
		name string
		p    []byte
		off  int64
	}{
		{"offset", buf.B[:4096], 1},
		{"length", buf.B[:100], 0},
		{"buffer address", buf.B[1 : 4096+1], 0},
	}
	for _, tc := range unaligned {
		if _, err := h.WriteAt(ctx, ioengine.ClassWrite, tc.p, tc.off); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("unaligned %s write: %v, want EINVAL", tc.name, err)
		}
	}
	got := dev.Buffers().Get(len(buf.B))
	defer dev.Buffers().Put(got)
	if _, err := h.ReadAt(ctx, ioengine.ClassRead, got.B, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.B, buf.B) {
		t.Fatal("read back different bytes")
	}
	if st := dev.Stats().Classes[ioengine.ClassWrite]; st.Errors != uint64(len(unaligned)) {
		t.Fatalf("write errors %d, want %d", st.Errors, len(unaligned))
	}
}

// TestDeviceFallback forces the probe's aligned write to fail with EINVAL,
// as on a filesystem without direct I/O support.
func TestDeviceFallback(t *testing.T) {
	dir := t.TempDir()
	inj := errorfs.PathMatch(".ioengine-probe-*", errorfs.OnIndex(errorfs.OpWrite, 0, errorfs.EINVAL))
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	dev, err := ioengine.NewDevice(errorfs.Wrap(ioengine.OSFS(), inj), dir, ioengine.DeviceOptions{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if dev.Direct() || dev.Stats().Direct {
		t.Fatal("device claims direct I/O after a failed probe")
	}
	if dev.Alignment() != ioengine.DefaultAlignment {
		t.Fatalf("fallback alignment %d", dev.Alignment())
	}
	if n := strings.Count(logs.String(), "direct I/O unavailable"); n != 1 {
		t.Fatalf("fallback logged %d times, want once:\n%s", n, logs.String())
	}
	h, err := dev.Open("data", ioengine.FlagCreate|ioengine.FlagDirect)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Direct() {
		t.Fatal("file opened direct on a fallback device")
	}
	ctx := context.Background()
	// Buffered: an unaligned write works, and Sync is still fdatasync.
	if _, err := h.WriteAt(ctx, ioengine.ClassWrite, []byte("hello"), 3); err != nil {
		t.Fatal(err)
	}
	if err := h.Sync(ctx, ioengine.ClassWrite); err != nil {
		t.Fatal(err)
	}
	if names, _ := dev.FS().ReadDir(dir); len(names) != 1 || names[0] != "data" {
		t.Fatalf("dir holds %v, want only data", names)
	}
}

func TestDeviceProbeErrors(t *testing.T) {
	t.Run("open fails", func(t *testing.T) {
		inj := errorfs.OnIndex(errorfs.OpOpen, 0, errorfs.EIO)
		if _, err := ioengine.NewDevice(errorfs.Wrap(memfs.New(memfs.Options{}), inj), "/d", ioengine.DeviceOptions{}); !errors.Is(err, syscall.EIO) {
			t.Fatalf("NewDevice: %v, want EIO", err)
		}
	})
	t.Run("no space keeps direct", func(t *testing.T) {
		m := memfs.New(memfs.Options{})
		m.SetFreeBytes(0)
		dev, err := ioengine.NewDevice(m, "/d", ioengine.DeviceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !dev.Direct() {
			t.Fatal("a full disk made the device fall back")
		}
	})
	t.Run("read fails", func(t *testing.T) {
		inj := errorfs.OnIndex(errorfs.OpRead, 0, errorfs.EIO)
		if _, err := ioengine.NewDevice(errorfs.Wrap(memfs.New(memfs.Options{}), inj), "/d", ioengine.DeviceOptions{}); !errors.Is(err, syscall.EIO) {
			t.Fatalf("NewDevice: %v, want EIO", err)
		}
	})
}

func TestDeviceOpenRejectsNonLocalNames(t *testing.T) {
	dev, err := ioengine.NewDevice(memfs.New(memfs.Options{}), "/d", ioengine.DeviceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "../x", "/etc/passwd", "a/../../b"} {
		if _, err := dev.Open(name, ioengine.FlagCreate); !errors.Is(err, ioengine.ErrInvalidName) {
			t.Errorf("Open(%q): %v, want ErrInvalidName", name, err)
		}
	}
}

// TestFSContract runs the same expectations against OSFS and memfs, so the
// simulation used by crash tests behaves like the real thing.
func TestFSContract(t *testing.T) {
	impls := []struct {
		name string
		fs   ioengine.FS
		dir  string
	}{
		{"osfs", ioengine.OSFS(), t.TempDir()},
		{"memfs", memfs.New(memfs.Options{}), "/data"},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			fsys, dir := impl.fs, impl.dir
			p := func(name string) string { return filepath.Join(dir, name) }
			if err := fsys.MkdirAll(p("sub/deeper")); err != nil {
				t.Fatal(err)
			}
			if _, err := fsys.Stat(p("missing")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Stat missing: %v", err)
			}
			if _, err := fsys.OpenFile(p("missing"), 0); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("open missing: %v", err)
			}
			f, err := fsys.OpenFile(p("b"), ioengine.FlagCreate)
			if err != nil {
				t.Fatal(err)
			}
			if f.Name() != p("b") || f.Alignment() != 4096 {
				t.Fatalf("name %q alignment %d", f.Name(), f.Alignment())
			}
			if _, err := f.WriteAt([]byte("hello"), 2); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 10)
			n, err := f.ReadAt(got, 0)
			if n != 7 || !errors.Is(err, io.EOF) || string(got[:n]) != "\x00\x00hello" {
				t.Fatalf("ReadAt: %d %v %q", n, err, got[:n])
			}
			if err := f.Allocate(0, 8192); err != nil {
				t.Fatal(err)
			}
			if size, err := f.Size(); err != nil || size != 8192 {
				t.Fatalf("size after Allocate %d %v", size, err)
			}
			if err := f.Truncate(4); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if size, err := fsys.Stat(p("b")); err != nil || size != 4 {
				t.Fatalf("Stat %d %v", size, err)
			}
			a, err := fsys.OpenFile(p("a"), ioengine.FlagCreate)
			if err != nil {
				t.Fatal(err)
			}
			a.Close()
			if names, err := fsys.ReadDir(dir); err != nil || strings.Join(names, ",") != "a,b,sub" {
				t.Fatalf("ReadDir %v %v", names, err)
			}
			if err := fsys.Rename(p("b"), p("a")); err != nil {
				t.Fatal(err)
			}
			if size, err := fsys.Stat(p("a")); err != nil || size != 4 {
				t.Fatalf("renamed Stat %d %v", size, err)
			}
			if err := fsys.SyncDir(dir); err != nil {
				t.Fatal(err)
			}
			if err := fsys.Remove(p("a")); err != nil {
				t.Fatal(err)
			}
			if err := fsys.Remove(p("a")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("second Remove: %v", err)
			}
			if free, err := fsys.FreeSpace(dir); err != nil || free == 0 {
				t.Fatalf("FreeSpace %d %v", free, err)
			}
			ro, err := fsys.OpenFile(p("ro"), ioengine.FlagCreate)
			if err != nil {
				t.Fatal(err)
			}
			ro.Close()
			ro, err = fsys.OpenFile(p("ro"), ioengine.FlagReadOnly)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ro.WriteAt([]byte("x"), 0); err == nil {
				t.Fatal("write to read-only file succeeded")
			}
			ro.Close()
		})
	}
}

func TestIsNoSpace(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{syscall.ENOSPC, true},
		{syscall.EDQUOT, true},
		{&fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, true},
		{errors.New("no space"), false},
		{syscall.EIO, false},
	}
	for _, tc := range tests {
		if got := ioengine.IsNoSpace(tc.err); got != tc.want {
			t.Errorf("IsNoSpace(%v) = %v", tc.err, got)
		}
	}
}

// TestLockIsExclusive holds for both filesystems: a second Lock of a locked
// directory fails with ErrLocked (in the same process too), and the lock
// can be taken again once released.
func TestLockIsExclusive(t *testing.T) {
	for name, fsys := range map[string]ioengine.FS{"osfs": ioengine.OSFS(), "memfs": memfs.New(memfs.Options{})} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := fsys.MkdirAll(dir); err != nil {
				t.Fatal(err)
			}
			first, err := fsys.Lock(dir)
			if err != nil {
				t.Fatalf("first lock: %v", err)
			}
			if _, err := fsys.Lock(dir); !errors.Is(err, ioengine.ErrLocked) {
				t.Fatalf("second lock: %v, want ErrLocked", err)
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			again, err := fsys.Lock(dir)
			if err != nil {
				t.Fatalf("lock after release: %v", err)
			}
			again.Close()
			if _, err := fsys.Lock(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("lock of a missing directory: %v", err)
			}
		})
	}
}

func TestCreatePerm(t *testing.T) {
	fsys := ioengine.OSFS()
	dir := t.TempDir()
	defer unix.Umask(unix.Umask(0o022))
	for _, tc := range []struct {
		flags ioengine.OpenFlag
		want  fs.FileMode
	}{
		{ioengine.FlagCreate, 0o600},
		{ioengine.FlagCreate | ioengine.FlagDirect, 0o600},
		{ioengine.FlagCreate | ioengine.WithPerm(0o640), 0o640},
	} {
		name := filepath.Join(dir, strings.ReplaceAll(tc.want.String(), "-", "x")+fmt.Sprint(int(tc.flags&0xff)))
		f, err := fsys.OpenFile(name, tc.flags)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != tc.want {
			t.Errorf("flags %#x: mode %v, want %v", tc.flags, got, tc.want)
		}
	}
}
