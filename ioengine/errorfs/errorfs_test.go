package errorfs_test

import (
	"errors"
	"io"
	"sync"
	"syscall"
	"testing"

	"strata/ioengine"
	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

func open(t *testing.T, fsys ioengine.FS, name string) ioengine.File {
	t.Helper()
	f, err := fsys.OpenFile(name, ioengine.FlagCreate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestOnIndexWrite(t *testing.T) {
	mem := memfs.New(memfs.Options{})
	fsys := errorfs.Wrap(mem, errorfs.OnIndex(errorfs.OpWrite, 1, errorfs.EIO))
	f := open(t, fsys, "/f")
	if _, err := f.WriteAt([]byte("aa"), 0); err != nil {
		t.Fatalf("write 0: %v", err)
	}
	_, err := f.WriteAt([]byte("bb"), 2)
	if !errors.Is(err, syscall.EIO) || !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("write 1: %v, want injected EIO", err)
	}
	var inj *errorfs.InjectedError
	if !errors.As(err, &inj) || inj.Op.Kind != errorfs.OpWrite || inj.Op.Off != 2 || inj.Op.Len != 2 || inj.Op.Path != "/f" {
		t.Fatalf("injected op %+v", inj)
	}
	if _, err := f.WriteAt([]byte("cc"), 4); err != nil {
		t.Fatalf("write 2: %v", err)
	}
	// The failed write never reached memfs.
	got := make([]byte, 6)
	if _, err := f.ReadAt(got, 0); err != nil || string(got) != "aa\x00\x00cc" {
		t.Fatalf("contents %q %v", got, err)
	}
}

func TestInjectENOSPC(t *testing.T) {
	fsys := errorfs.Wrap(memfs.New(memfs.Options{}), errorfs.OnIndex(errorfs.OpAllocate, 0, errorfs.ENOSPC))
	f := open(t, fsys, "/f")
	err := f.Allocate(0, 4096)
	if !errors.Is(err, syscall.ENOSPC) || !ioengine.IsNoSpace(err) {
		t.Fatalf("allocate: %v, want ENOSPC", err)
	}
	if size, _ := f.Size(); size != 0 {
		t.Fatalf("failed allocate changed size to %d", size)
	}
}

func TestTearWrite(t *testing.T) {
	tests := []struct {
		name   string
		direct bool
		data   []byte
		prefix int
		want   int // bytes that reach the file
	}{
		{"buffered prefix", false, []byte("0123456789"), 4, 4},
		{"prefix longer than write", false, []byte("0123"), 100, 4},
		{"zero prefix writes nothing", false, []byte("0123"), 0, 0},
		{"direct aligned prefix", true, ioengine.AlignedBytes(3*4096, 4096), 4096, 4096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.data {
				tc.data[i] = byte('a' + i%26)
			}
			mem := memfs.New(memfs.Options{})
			fsys := errorfs.Wrap(mem, errorfs.TearWrite(0, tc.prefix))
			flags := ioengine.FlagCreate
			if tc.direct {
				flags |= ioengine.FlagDirect
			}
			f, err := fsys.OpenFile("/f", flags)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			n, err := f.WriteAt(tc.data, 0)
			if n != tc.want || !errors.Is(err, syscall.EIO) {
				t.Fatalf("torn write: n=%d err=%v, want n=%d EIO", n, err, tc.want)
			}
			size, _ := mem.Stat("/f")
			if size != int64(tc.want) {
				t.Fatalf("file size %d, want %d", size, tc.want)
			}
			if tc.want > 0 {
				got := ioengine.AlignedBytes(int(ioengine.AlignUp(int64(tc.want), 4096)), 4096)
				n, err := f.ReadAt(got, 0)
				if err != nil && !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				if string(got[:n]) != string(tc.data[:tc.want]) {
					t.Fatalf("visible prefix %q", got[:n])
				}
			}
			// Only the n-th write tears.
			if _, err := f.WriteAt(tc.data, 0); err != nil {
				t.Fatalf("next write: %v", err)
			}
		})
	}
}

func TestPathMatchCountsOnlyMatches(t *testing.T) {
	inj := errorfs.PathMatch("*.vol", errorfs.OnIndex(errorfs.OpWrite, 1, errorfs.EIO))
	fsys := errorfs.Wrap(memfs.New(memfs.Options{}), inj)
	if err := fsys.MkdirAll("/data/hdd0"); err != nil {
		t.Fatal(err)
	}
	vol := open(t, fsys, "/data/hdd0/000001.vol")
	other := open(t, fsys, "/data/hdd0/index.db")
	steps := []struct {
		f    ioengine.File
		fail bool
	}{
		{other, false}, {vol, false}, {other, false}, {other, false}, {vol, true}, {vol, false},
	}
	for i, s := range steps {
		_, err := s.f.WriteAt([]byte("x"), 0)
		if (err != nil) != s.fail {
			t.Fatalf("step %d (%s): err %v, want fail=%v", i, s.f.Name(), err, s.fail)
		}
	}
	// Full-path globs match the whole path.
	full := errorfs.PathMatch("/data/*/index.db", errorfs.OnIndex(errorfs.OpSync, 0, errorfs.EIO))
	fsys2 := errorfs.Wrap(memfs.New(memfs.Options{}), full)
	fsys2.MkdirAll("/data/hdd0")
	if err := open(t, fsys2, "/data/hdd0/index.db").Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("full-path glob: %v", err)
	}
}

func TestAnyComposes(t *testing.T) {
	inj := errorfs.Any(
		errorfs.OnIndex(errorfs.OpSync, 0, errorfs.EIO),
		nil,
		errorfs.OnIndex(errorfs.OpSync, 0, errorfs.ENOSPC), // also counts sync 0, loses to the first
		errorfs.OnIndex(errorfs.OpSync, 1, errorfs.ENOSPC),
		errorfs.OnIndex(errorfs.OpRename, 0, errorfs.EIO),
	)
	fsys := errorfs.Wrap(memfs.New(memfs.Options{}), inj)
	f := open(t, fsys, "/f")
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("sync 0: %v, want EIO (first injector wins)", err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("sync 1: %v, want ENOSPC", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("sync 2: %v", err)
	}
	if err := fsys.Rename("/f", "/g"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("rename: %v", err)
	}
	if _, err := fsys.Stat("/f"); err != nil {
		t.Fatalf("failed rename moved the file: %v", err)
	}
}

func TestToggle(t *testing.T) {
	toggle := errorfs.NewToggle()
	fsys := errorfs.Wrap(memfs.New(memfs.Options{}), toggle)
	f := open(t, fsys, "/f")
	if _, err := f.WriteAt([]byte("xy"), 0); err != nil {
		t.Fatal(err)
	}
	ops := map[errorfs.OpKind]func() error{
		errorfs.OpWrite:    func() error { _, err := f.WriteAt([]byte("x"), 0); return err },
		errorfs.OpRead:     func() error { _, err := f.ReadAt(make([]byte, 1), 0); return err },
		errorfs.OpSync:     f.Sync,
		errorfs.OpAllocate: func() error { return f.Allocate(0, 10) },
		errorfs.OpTruncate: func() error { return f.Truncate(1) },
		errorfs.OpSyncDir:  func() error { return fsys.SyncDir("/") },
		errorfs.OpOpen:     func() error { _, err := fsys.OpenFile("/f", 0); return err },
		errorfs.OpStat:     func() error { _, err := fsys.Stat("/f"); return err },
		errorfs.OpReadDir:  func() error { _, err := fsys.ReadDir("/"); return err },
		errorfs.OpMkdirAll: func() error { return fsys.MkdirAll("/d") },
		errorfs.OpFreeSpace: func() error {
			_, err := fsys.FreeSpace("/")
			return err
		},
	}
	for kind, op := range ops {
		if err := op(); err != nil {
			t.Fatalf("%v before Set: %v", kind, err)
		}
		toggle.Set(kind, errorfs.EIO)
		if err := op(); !errors.Is(err, syscall.EIO) {
			t.Fatalf("%v after Set: %v", kind, err)
		}
		toggle.Set(kind, nil)
		if err := op(); err != nil {
			t.Fatalf("%v after unset: %v", kind, err)
		}
	}
	toggle.SetInjector(errorfs.OnIndex(errorfs.OpWrite, 0, errorfs.ENOSPC))
	toggle.Set(errorfs.OpSync, errorfs.EIO)
	if err := ops[errorfs.OpWrite](); !ioengine.IsNoSpace(err) {
		t.Fatalf("delegated write: %v", err)
	}
	toggle.Clear()
	if err := ops[errorfs.OpSync](); err != nil {
		t.Fatalf("after Clear: %v", err)
	}
}

// TestConcurrentUse flips a toggle while goroutines write; run with -race.
func TestConcurrentUse(t *testing.T) {
	toggle := errorfs.NewToggle()
	counted := errorfs.OnIndex(errorfs.OpWrite, 50, errorfs.EIO)
	fsys := errorfs.Wrap(memfs.New(memfs.Options{}), errorfs.Any(toggle, counted))
	f := open(t, fsys, "/f")
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				if _, err := f.WriteAt([]byte{byte(g)}, int64(i)); err != nil {
					mu.Lock()
					failures++
					mu.Unlock()
				}
			}
		})
	}
	for range 10 {
		toggle.Set(errorfs.OpSync, errorfs.EIO)
		toggle.Clear()
	}
	wg.Wait()
	if failures != 1 {
		t.Fatalf("%d writes failed, want exactly the 51st", failures)
	}
}

// TestFailedSyncReachesMemfs checks that an injected Sync fault tells memfs,
// so a retried fdatasync that succeeds still loses the bytes in a crash,
// as on Linux.
func TestFailedSyncReachesMemfs(t *testing.T) {
	tests := []struct {
		mode memfs.FailedSync
		want string // after the retry and a crash
	}{
		{memfs.FailedSyncMarksClean, "old"},
		{memfs.FailedSyncKeepsDirty, "new"},
	}
	for _, tc := range tests {
		t.Run(tc.mode.String(), func(t *testing.T) {
			mem := memfs.New(memfs.Options{FailedSync: tc.mode})
			fsys := errorfs.Wrap(mem, errorfs.OnIndex(errorfs.OpSync, 1, errorfs.EIO))
			f := open(t, fsys, "/f")
			if _, err := f.WriteAt([]byte("old"), 0); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := fsys.SyncDir("/"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("new"), 0); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); !errors.Is(err, syscall.EIO) {
				t.Fatalf("sync 1: %v, want EIO", err)
			}
			if err := f.Sync(); err != nil {
				t.Fatalf("retried sync: %v", err)
			}
			c, err := mem.CrashClone().OpenFile("/f", ioengine.FlagReadOnly)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got := make([]byte, 3)
			if _, err := c.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("after the retried sync and a crash: %q, want %q", got, tc.want)
			}
		})
	}
}
