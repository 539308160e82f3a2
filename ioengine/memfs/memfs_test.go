package memfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"

	"strata/ioengine"
	"strata/ioengine/memfs"
)

// step is one action on the FS before the crash.
type step func(t *testing.T, m *memfs.FS)

func create(name string) step {
	return func(t *testing.T, m *memfs.FS) {
		f, err := m.OpenFile(name, ioengine.FlagCreate)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// write opens name, writes data at off, optionally syncs, closes.
func write(name string, off int64, data string, sync bool) step {
	return func(t *testing.T, m *memfs.FS) {
		f, err := m.OpenFile(name, ioengine.FlagCreate)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte(data), off); err != nil {
			t.Fatal(err)
		}
		if sync {
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func truncate(name string, size int64) step {
	return func(t *testing.T, m *memfs.FS) {
		f, err := m.OpenFile(name, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
	}
}

func syncDir(dir string) step {
	return func(t *testing.T, m *memfs.FS) {
		if err := m.SyncDir(dir); err != nil {
			t.Fatal(err)
		}
	}
}

func rename(from, to string) step {
	return func(t *testing.T, m *memfs.FS) {
		if err := m.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
}

func remove(name string) step {
	return func(t *testing.T, m *memfs.FS) {
		if err := m.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
}

const absent = "<absent>"

func contents(t *testing.T, m *memfs.FS, name string) string {
	t.Helper()
	f, err := m.OpenFile(name, ioengine.FlagReadOnly)
	if errors.Is(err, fs.ErrNotExist) {
		return absent
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return string(buf)
}

func TestCrashClone(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  map[string]string // after the crash
	}{
		{
			name:  "write without sync is lost",
			steps: []step{create("/d/f"), syncDir("/d"), write("/d/f", 0, "data", false)},
			want:  map[string]string{"/d/f": ""},
		},
		{
			name:  "synced write is kept",
			steps: []step{write("/d/f", 0, "data", true), syncDir("/d")},
			want:  map[string]string{"/d/f": "data"},
		},
		{
			name: "only the synced prefix survives later writes",
			steps: []step{
				write("/d/f", 0, "synced", true), syncDir("/d"),
				write("/d/f", 6, "-appended", false), write("/d/f", 0, "XX", false),
			},
			want: map[string]string{"/d/f": "synced"},
		},
		{
			name:  "create without SyncDir vanishes even if the data was synced",
			steps: []step{write("/d/f", 0, "data", true)},
			want:  map[string]string{"/d/f": absent},
		},
		{
			name:  "SyncDir before the data sync keeps the entry, not the data",
			steps: []step{create("/d/f"), syncDir("/d"), write("/d/f", 0, "data", false)},
			want:  map[string]string{"/d/f": ""},
		},
		{
			name: "rename without SyncDir is undone",
			steps: []step{
				write("/d/tmp", 0, "new", true), syncDir("/d"), rename("/d/tmp", "/d/final"),
			},
			want: map[string]string{"/d/tmp": "new", "/d/final": absent},
		},
		{
			name: "write, sync, rename, SyncDir: the safe way to publish a file",
			steps: []step{
				write("/d/final", 0, "old", true), syncDir("/d"),
				write("/d/tmp", 0, "new", true), rename("/d/tmp", "/d/final"), syncDir("/d"),
			},
			want: map[string]string{"/d/tmp": absent, "/d/final": "new"},
		},
		{
			name: "rename over a file without syncing the new data loses it",
			steps: []step{
				write("/d/final", 0, "old", true), syncDir("/d"),
				write("/d/tmp", 0, "new", false), rename("/d/tmp", "/d/final"), syncDir("/d"),
			},
			want: map[string]string{"/d/final": ""},
		},
		{
			name:  "remove without SyncDir comes back",
			steps: []step{write("/d/f", 0, "data", true), syncDir("/d"), remove("/d/f")},
			want:  map[string]string{"/d/f": "data"},
		},
		{
			name:  "remove with SyncDir is durable",
			steps: []step{write("/d/f", 0, "data", true), syncDir("/d"), remove("/d/f"), syncDir("/d")},
			want:  map[string]string{"/d/f": absent},
		},
		{
			name:  "truncate without sync is lost",
			steps: []step{write("/d/f", 0, "data", true), syncDir("/d"), truncate("/d/f", 1)},
			want:  map[string]string{"/d/f": "data"},
		},
		{
			name:  "SyncDir of another directory does not help",
			steps: []step{write("/d/f", 0, "data", true), syncDir("/e")},
			want:  map[string]string{"/d/f": absent},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := memfs.New(memfs.Options{})
			for _, dir := range []string{"/d", "/e"} {
				if err := m.MkdirAll(dir); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range tc.steps {
				s(t, m)
			}
			crashed := m.CrashClone()
			for name, want := range tc.want {
				if got := contents(t, crashed, name); got != want {
					t.Errorf("%s after crash = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestCrashCloneIsIndependent(t *testing.T) {
	m := memfs.New(memfs.Options{})
	write("/f", 0, "one", true)(t, m)
	syncDir("/")(t, m)
	c := m.CrashClone()
	write("/f", 0, "two", true)(t, m)
	write("/f", 0, "ONE", true)(t, c)
	if got := contents(t, c, "/f"); got != "ONE" {
		t.Fatalf("clone = %q", got)
	}
	if got := contents(t, m, "/f"); got != "two" {
		t.Fatalf("original = %q", got)
	}
	// A crash of the clone keeps what the clone synced.
	if got := contents(t, c.CrashClone(), "/f"); got != "ONE" {
		t.Fatalf("clone of clone = %q", got)
	}
}

func TestDirectAlignment(t *testing.T) {
	m := memfs.New(memfs.Options{Alignment: 4096})
	f, err := m.OpenFile("/f", ioengine.FlagCreate|ioengine.FlagDirect)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.Direct() || f.Alignment() != 4096 {
		t.Fatalf("direct %v alignment %d", f.Direct(), f.Alignment())
	}
	buf := ioengine.AlignedBytes(8192, 4096)
	tests := []struct {
		name string
		p    []byte
		off  int64
		ok   bool
	}{
		{"aligned", buf, 4096, true},
		{"offset", buf[:4096], 512, false},
		{"length", buf[:4000], 0, false},
		{"buffer address", buf[512 : 512+4096], 0, false},
		{"empty", buf[:0], 0, true},
	}
	for _, tc := range tests {
		_, werr := f.WriteAt(tc.p, tc.off)
		_, rerr := f.ReadAt(tc.p, tc.off)
		if tc.ok && (werr != nil || (rerr != nil && !errors.Is(rerr, io.EOF))) {
			t.Errorf("%s: write %v read %v", tc.name, werr, rerr)
		}
		if !tc.ok && (!errors.Is(werr, syscall.EINVAL) || !errors.Is(rerr, syscall.EINVAL)) {
			t.Errorf("%s: write %v read %v, want EINVAL", tc.name, werr, rerr)
		}
	}
	// Buffered files accept anything.
	g, err := m.OpenFile("/g", ioengine.FlagCreate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt([]byte("x"), 3); err != nil {
		t.Fatal(err)
	}
}

func TestFreeBytes(t *testing.T) {
	m := memfs.New(memfs.Options{FreeBytes: 10000})
	f, err := m.OpenFile("/f", ioengine.FlagCreate)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 8192), 0); err != nil {
		t.Fatal(err)
	}
	if free, _ := m.FreeSpace("/"); free != 10000-8192 {
		t.Fatalf("free %d", free)
	}
	if _, err := f.WriteAt(make([]byte, 4096), 8192); !ioengine.IsNoSpace(err) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write beyond free space: %v", err)
	}
	if size, _ := f.Size(); size != 8192 {
		t.Fatalf("failed write changed the size to %d", size)
	}
	if _, err := f.WriteAt(make([]byte, 8192), 0); err != nil {
		t.Fatalf("overwrite in place needs no space: %v", err)
	}
	if err := f.Allocate(0, 20000); !ioengine.IsNoSpace(err) {
		t.Fatalf("allocate beyond free space: %v", err)
	}
	m.SetFreeBytes(0)
	if _, err := f.WriteAt([]byte("x"), 8192); !ioengine.IsNoSpace(err) {
		t.Fatalf("write on a full disk: %v", err)
	}
	if err := f.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	if free, _ := m.FreeSpace("/"); free != 4096 {
		t.Fatalf("truncate freed %d, want 4096", free)
	}
	if err := m.Remove("/f"); err != nil {
		t.Fatal(err)
	}
	if free, _ := m.FreeSpace("/"); free != 8192 {
		t.Fatalf("remove freed to %d, want 8192", free)
	}
	m.SetFreeBytes(-1)
	if err := f.Allocate(0, 1<<30); err != nil {
		t.Fatalf("unlimited: %v", err)
	}
}

func TestOpenFileAfterRemoveAndClose(t *testing.T) {
	m := memfs.New(memfs.Options{})
	f, err := m.OpenFile("/f", ioengine.FlagCreate)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("still here"), 0); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 10)
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, []byte("still here")) {
		t.Fatalf("read %q %v", got, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(got, 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

func TestNamespaceErrors(t *testing.T) {
	m := memfs.New(memfs.Options{})
	if _, err := m.OpenFile("/nodir/f", ioengine.FlagCreate); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("create in missing dir: %v", err)
	}
	if err := m.MkdirAll("/a/b"); err != nil {
		t.Fatal(err)
	}
	create("/a/file")(t, m)
	if err := m.MkdirAll("/a/file/x"); err == nil {
		t.Error("MkdirAll through a file succeeded")
	}
	if _, err := m.OpenFile("/a/b", ioengine.FlagCreate); err == nil {
		t.Error("opened a directory as a file")
	}
	if err := m.Rename("/a/missing", "/a/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rename missing: %v", err)
	}
	if _, err := m.ReadDir("/zzz"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir missing: %v", err)
	}
	names, err := m.ReadDir("/a")
	if err != nil || len(names) != 2 || names[0] != "b" || names[1] != "file" {
		t.Errorf("ReadDir = %v %v", names, err)
	}
	if _, err := m.OpenFile("/a/missing", ioengine.FlagCreate|ioengine.FlagReadOnly); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only create: %v", err)
	}
}

// syncFailed reports a failed fdatasync to a memfs file, as errorfs does.
func syncFailed(name string) step {
	return func(t *testing.T, m *memfs.FS) {
		f, err := m.OpenFile(name, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sf, ok := f.(interface{ SyncFailed() })
		if !ok {
			t.Fatal("memfs file has no SyncFailed")
		}
		sf.SyncFailed()
	}
}

func TestFailedSync(t *testing.T) {
	const page = 4096
	old := strings.Repeat("o", 2*page)
	steps := []step{
		write("/d/f", 0, old, true), syncDir("/d"),
		write("/d/f", 0, "NEW", false), syncFailed("/d/f"),
		// After the failure: another page is written, and the "retry"
		// syncs without an error.
		write("/d/f", page, "LATER", true),
	}
	newBytes := "NEW" + old[3:page] + "LATER" + old[page+5:]
	dropped := old[:page] + "LATER" + old[page+5:]
	tests := []struct {
		mode       memfs.FailedSync
		read       string // what reads return after the retried sync
		afterCrash string
	}{
		{memfs.FailedSyncMarksClean, newBytes, dropped},
		{memfs.FailedSyncDropsPages, dropped, dropped},
		{memfs.FailedSyncKeepsDirty, newBytes, newBytes},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.mode), func(t *testing.T) {
			m := memfs.New(memfs.Options{FailedSync: tc.mode})
			if err := m.MkdirAll("/d"); err != nil {
				t.Fatal(err)
			}
			for _, s := range steps {
				s(t, m)
			}
			if got := contents(t, m, "/d/f"); got != tc.read {
				t.Errorf("read after the failed sync = %.12q..., want %.12q...", got, tc.read)
			}
			if got := contents(t, m.CrashClone(), "/d/f"); got != tc.afterCrash {
				t.Errorf("after crash = %.12q..., want %.12q...", got, tc.afterCrash)
			}
		})
	}
}

func TestFailedSyncDropsPagesBeyondSize(t *testing.T) {
	m := memfs.New(memfs.Options{FailedSync: memfs.FailedSyncDropsPages})
	steps := []step{
		write("/f", 0, "0123456789", true), syncDir("/"),
		truncate("/f", 4), syncFailed("/f"),
		truncate("/f", 10), // growing again exposes zeros, not the synced tail
	}
	for _, s := range steps {
		s(t, m)
	}
	if got := contents(t, m, "/f"); got != "0123\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("contents %q", got)
	}
}

// TestCrashCloneWith checks that every clone is a legal crash state (each
// page old or new, sizes synced or current) and that each mode reaches the
// states it promises over a few seeds.
func TestCrashCloneWith(t *testing.T) {
	const pages = 8
	oldData := strings.Repeat("o", pages*4096)
	tests := []struct {
		mode memfs.Unsynced
		// want reports whether a pattern of kept pages is allowed.
		want func(kept []bool) bool
		// needs is a pattern class that some seed must produce.
		needs func(kept []bool) bool
	}{
		{memfs.LoseUnsynced, none, none},
		{memfs.KeepUnsyncedPrefix, isPrefix, func(k []bool) bool { return isPrefix(k) && !none(k) && !all(k) }},
		{memfs.KeepUnsyncedRandom, func([]bool) bool { return true }, func(k []bool) bool { return !isPrefix(k) }},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.mode), func(t *testing.T) {
			m := memfs.New(memfs.Options{})
			write("/f", 0, oldData, true)(t, m)
			syncDir("/")(t, m)
			write("/f", 0, strings.Repeat("n", pages*4096), false)(t, m)
			write("/f", pages*4096, "grown", false)(t, m) // unsynced growth
			reached := false
			for seed := range uint64(64) {
				c := m.CrashCloneWith(memfs.CrashOptions{Unsynced: tc.mode, Rand: rand.New(rand.NewPCG(seed, 0))})
				got := contents(t, c, "/f")
				if len(got) != pages*4096 && len(got) != pages*4096+5 {
					t.Fatalf("seed %d: size %d is neither the synced nor the current size", seed, len(got))
				}
				if len(got) > pages*4096 && got[pages*4096:] != "grown" && got[pages*4096:] != "\x00\x00\x00\x00\x00" {
					t.Fatalf("seed %d: grown tail %q", seed, got[pages*4096:])
				}
				kept := make([]bool, pages+1)
				for i := range pages {
					pg := got[i*4096 : (i+1)*4096]
					switch pg {
					case strings.Repeat("n", 4096):
						kept[i] = true
					case oldData[:4096]:
					default:
						t.Fatalf("seed %d: page %d is neither old nor new", seed, i)
					}
				}
				kept[pages] = strings.HasSuffix(got, "grown")
				if !tc.want(kept) {
					t.Fatalf("seed %d: kept pages %v not allowed in this mode", seed, kept)
				}
				reached = reached || tc.needs(kept)
				again := contents(t, m.CrashCloneWith(memfs.CrashOptions{Unsynced: tc.mode, Rand: rand.New(rand.NewPCG(seed, 0))}), "/f")
				if again != got {
					t.Fatalf("seed %d: two clones with the same seed differ", seed)
				}
			}
			if !reached {
				t.Fatal("no seed produced the states this mode promises")
			}
			// The origin is untouched and its dirty pages are not shared
			// with a clone.
			c := m.CrashCloneWith(memfs.CrashOptions{Unsynced: tc.mode, Rand: rand.New(rand.NewPCG(3, 0))})
			before := contents(t, c, "/f")
			write("/f", 0, strings.Repeat("x", pages*4096), false)(t, m)
			if contents(t, c, "/f") != before {
				t.Fatal("a write to the origin changed the clone")
			}
		})
	}
}

func none(kept []bool) bool {
	for _, k := range kept {
		if k {
			return false
		}
	}
	return true
}

func all(kept []bool) bool {
	for _, k := range kept {
		if !k {
			return false
		}
	}
	return true
}

func isPrefix(kept []bool) bool {
	for i := 1; i < len(kept); i++ {
		if kept[i] && !kept[i-1] {
			return false
		}
	}
	return true
}
