package blockstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"strata/ioengine"
	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

// TestSecondStoreOnSameDirsIsRefused: two stores on the same data
// directories (each with its own index) would append to the same volumes;
// the second Open must fail naming the directory, and work once the first
// store is closed. The same holds for a shared index directory.
func TestSecondStoreOnSameDirsIsRefused(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		second func(first Options) Options
		locked string
	}{
		{"same data dirs, other index", func(o Options) Options { o.IndexDir = t.TempDir(); return o }, "/data1"},
		{"other data dirs, same index", func(o Options) Options { o.DataDirs = []string{"/other"}; return o }, "index dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions(t, nil)
			opts.DataDirs = []string{"/data0", "/data1"}
			if tc.locked == "/data1" {
				// Only the second disk is shared: each must be locked.
				opts.DataDirs = []string{"/data1"}
			}
			first := mustOpen(t, opts)
			put(t, first, "k", []byte("v"))
			second := tc.second(opts)
			s, err := Open(ctx, second)
			if err == nil {
				s.Close()
				t.Fatal("second Open on the same directories succeeded")
			}
			if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), tc.locked) {
				t.Fatalf("second Open: %v; want ErrLocked naming %s", err, tc.locked)
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, second)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSecondStoreLockedOnOSFS runs the same check on the real filesystem
// (flock), with the index in the first data directory (the default).
func TestSecondStoreLockedOnOSFS(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t, ioengine.OSFS())
	opts.DataDirs = []string{filepath.Join(dir, "hdd0")}
	opts.IndexDir = ""
	first := mustOpen(t, opts)
	defer first.Close()
	second := opts
	second.IndexDir = t.TempDir()
	if s, err := Open(context.Background(), second); !errors.Is(err, ErrLocked) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

// TestDiskIdentity: a data directory that is not the disk the index knows
// (an empty mount point, another disk, another node's disk, a damaged
// identity file) is refused with ErrDiskIdentity; a fresh layout and a
// restart just work.
func TestDiskIdentity(t *testing.T) {
	ctx := context.Background()
	index := t.TempDir()
	diskA := memfs.New(memfs.Options{})
	opts := testOptions(t, diskA)
	opts.IndexDir = index

	s := mustOpen(t, opts) // fresh layout
	put(t, s, "k", []byte("v"))
	node := s.NodeID()
	if node == "" {
		t.Fatal("no node id")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	id, ok, err := readIdentity(diskA, "/data0")
	if err != nil || !ok || id.NodeID != node || id.DiskID == "" {
		t.Fatalf("identity file: %+v %v %v (node %q)", id, ok, err, node)
	}
	s = mustOpen(t, opts) // restart
	if s.NodeID() != node {
		t.Fatalf("node id %q after restart, was %q", s.NodeID(), node)
	}
	mustGet(t, s, "k", []byte("v"))
	s.Close()

	// Another disk of the same node, and one of another node, each
	// initialised by a store of its own.
	sameNode := memfs.New(memfs.Options{})
	o := testOptions(t, sameNode)
	o.NodeID = node
	mustOpen(t, o).Close()
	otherNode := memfs.New(memfs.Options{})
	mustOpen(t, testOptions(t, otherNode)).Close()
	damaged := memfs.New(memfs.Options{})
	mustOpen(t, testOptions(t, damaged)).Close()
	f, err := damaged.OpenFile(filepath.Join("/data0", IdentityFileName), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("X"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()

	for _, tc := range []struct {
		name string
		fs   ioengine.FS
		node string
		want string
	}{
		{"empty directory (disk not mounted)", memfs.New(memfs.Options{}), "", "is the disk mounted?"},
		{"another disk of this node", sameNode, "", "index expects disk"},
		{"a disk of another node", otherNode, "", "not of this node"},
		{"damaged identity file", damaged, "", "unreadable"},
		{"configured node id differs from the index's", diskA, "other-node", "belongs to node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts
			o.FS = tc.fs
			o.NodeID = tc.node
			s, err := Open(ctx, o)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrDiskIdentity) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v; want ErrDiskIdentity saying %q", err, tc.want)
			}
			if tc.node == "" && !strings.Contains(err.Error(), "data dir /data0") {
				t.Fatalf("Open: %v does not name the data dir", err)
			}
		})
	}

	// The refusals changed nothing: the right disk still opens.
	s = mustOpen(t, opts)
	mustGet(t, s, "k", []byte("v"))
	s.Close()

	// A rebuilt index adopts the node of the disks.
	o = opts
	o.IndexDir = t.TempDir()
	s = mustOpen(t, o)
	defer s.Close()
	if s.NodeID() != node {
		t.Fatalf("rebuilt index: node id %q, want the disks' %q", s.NodeID(), node)
	}
	mustGet(t, s, "k", []byte("v"))
}

func TestIdentityRoundTrip(t *testing.T) {
	id := diskIdentity{Format: identityFormat, NodeID: "n1", DiskID: "d1"}
	got, err := decodeIdentity(encodeIdentity(id))
	if err != nil || got != id {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	b := encodeIdentity(id)
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x20
		if _, err := decodeIdentity(c); err == nil {
			t.Fatalf("flipped byte %d (%q) decoded", i, b[i])
		}
	}
}

func FuzzDecodeIdentity(f *testing.F) {
	f.Add(encodeIdentity(diskIdentity{Format: identityFormat, NodeID: "n", DiskID: "d"}))
	f.Add([]byte("{}\ncrc32c 00000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := decodeIdentity(b)
		if err != nil {
			return
		}
		if again, err := decodeIdentity(encodeIdentity(id)); err != nil || again.NodeID != id.NodeID || again.DiskID != id.DiskID {
			t.Fatalf("re-encoding %+v: %+v %v", id, again, err)
		}
	})
}

// opRecorder records every operation that reaches it.
type opRecorder struct {
	mu  sync.Mutex
	ops []errorfs.Op
}

func (r *opRecorder) Inject(op errorfs.Op) errorfs.Fault {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
	return errorfs.Fault{}
}

// syncedAfter reports whether a SyncDir of dir follows the first op that
// matches first.
func (r *opRecorder) syncedAfter(first func(errorfs.Op) bool, dir string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, op := range r.ops {
		if !first(op) {
			continue
		}
		for _, later := range r.ops[i+1:] {
			if later.Kind == errorfs.OpSyncDir && filepath.Clean(later.Path) == filepath.Clean(dir) {
				return true
			}
		}
		return false
	}
	return false
}

// TestDirectoriesAreSynced: a new data or index directory, index.db, a bad
// index moved aside, the identity file and a new volume each have their
// directory entry fsynced, or a crash can lose them.
func TestDirectoriesAreSynced(t *testing.T) {
	data, index := &opRecorder{}, &opRecorder{}
	opts := testOptions(t, errorfs.Wrap(memfs.New(memfs.Options{}), data))
	indexDir := filepath.Join(t.TempDir(), "ssd", "index")
	opts.IndexDir = indexDir
	opts.IndexFS = errorfs.Wrap(ioengine.OSFS(), index)
	s := mustOpen(t, opts)
	put(t, s, "k", []byte("v"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	isMkdir := func(dir string) func(errorfs.Op) bool {
		return func(op errorfs.Op) bool { return op.Kind == errorfs.OpMkdirAll && op.Path == dir }
	}
	isRename := func(suffix string) func(errorfs.Op) bool {
		return func(op errorfs.Op) bool { return op.Kind == errorfs.OpRename && strings.HasSuffix(op.NewPath, suffix) }
	}
	for _, tc := range []struct {
		what  string
		rec   *opRecorder
		after func(errorfs.Op) bool
		dir   string
	}{
		{"new data dir in its parent", data, isMkdir("/data0"), "/"},
		{"new data dir", data, isMkdir("/data0"), "/data0"},
		{"identity file", data, isRename(IdentityFileName), "/data0"},
		{"new volume", data, isRename(volumeFileName(1)), "/data0"},
		{"new index dir in its parent", index, isMkdir(indexDir), filepath.Dir(indexDir)},
		{"index.db created", index, func(op errorfs.Op) bool {
			return op.Kind == errorfs.OpStat && strings.HasSuffix(op.Path, IndexFileName)
		}, indexDir},
	} {
		if !tc.rec.syncedAfter(tc.after, tc.dir) {
			t.Errorf("%s: no SyncDir(%s) after it", tc.what, tc.dir)
		}
	}

	// A bad index is moved aside, and the move made durable.
	if err := os.WriteFile(filepath.Join(indexDir, IndexFileName), []byte("not a bbolt file"), 0o600); err != nil {
		t.Fatal(err)
	}
	index.ops = nil
	s = mustOpen(t, opts)
	s.Close()
	isAside := func(op errorfs.Op) bool {
		return op.Kind == errorfs.OpRename && strings.Contains(op.NewPath, ".corrupt-")
	}
	if !index.syncedAfter(isAside, indexDir) {
		t.Errorf("bad index moved aside: no SyncDir(%s) after it", indexDir)
	}
}

// TestCrashAfterFirstPut: after the first Open and one acknowledged Put, a
// crash keeps the directory entries as of their last fsync; the next Open
// must find the disk's identity, the volume and the blob.
func TestCrashAfterFirstPut(t *testing.T) {
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	put(t, s, "k", []byte("acked"))
	crashed, _ := crashCopy(t, s, mfs, opts)
	s.Close()
	s = mustOpen(t, crashed)
	defer s.Close()
	mustGet(t, s, "k", []byte("acked"))
}

// TestFileModes: volume, identity and index files are the node's alone by
// default; FileMode opens them to a group.
func TestFileModes(t *testing.T) {
	defer unix.Umask(unix.Umask(0o022))
	for _, tc := range []struct{ mode, want fs.FileMode }{{0, 0o600}, {0o640, 0o640}} {
		dir := t.TempDir()
		opts := testOptions(t, ioengine.OSFS())
		opts.DataDirs = []string{filepath.Join(dir, "hdd0")}
		opts.IndexDir = filepath.Join(dir, "index")
		opts.FileMode = tc.mode
		s := mustOpen(t, opts)
		put(t, s, "k", []byte("v"))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{
			filepath.Join(dir, "hdd0", volumeFileName(1)),
			filepath.Join(dir, "hdd0", IdentityFileName),
			filepath.Join(dir, "index", IndexFileName),
		} {
			fi, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.want {
				t.Errorf("FileMode %v: %s is %v, want %v", tc.mode, filepath.Base(name), fi.Mode().Perm(), tc.want)
			}
		}
	}
}
