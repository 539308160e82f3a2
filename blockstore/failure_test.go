package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"strata/ioengine"
	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

// syncFailer fails every fdatasync of one volume file once armed, and
// counts the syncs that reach that file afterwards.
type syncFailer struct {
	armed  atomic.Bool
	path   string
	failed atomic.Int64
}

func (f *syncFailer) Inject(op errorfs.Op) errorfs.Fault {
	if op.Kind == errorfs.OpSync && op.Path == f.path && f.armed.Load() {
		f.failed.Add(1)
		return errorfs.Fault{Err: errorfs.EIO}
	}
	return errorfs.Fault{}
}

func TestSyncFailureFailsGroupAndRetiresVolume(t *testing.T) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{})
	inj := &syncFailer{path: filepath.Join("/data0", volumeFileName(1))}
	opts := testOptions(t, errorfs.Wrap(mfs, inj))
	s := mustOpen(t, opts)
	put(t, s, "before", []byte("durable"))
	inj.armed.Store(true)

	const writers = 16
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Put(ctx, fmt.Sprintf("w%02d", i), bytes.NewReader([]byte("payload")), 7, PutOptions{})
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		k := fmt.Sprintf("w%02d", i)
		if err != nil {
			failed++
			if !errors.Is(err, ErrReadOnly) || !errors.Is(err, syscall.EIO) {
				t.Fatalf("%s: error %v does not wrap ErrReadOnly and EIO", k, err)
			}
			if _, err := s.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s failed but is visible: %v", k, err)
			}
			continue
		}
		mustGet(t, s, k, []byte("payload"))
	}
	if failed == 0 {
		t.Fatal("no Put saw the failed fdatasync")
	}
	if n := inj.failed.Load(); n != 1 {
		t.Fatalf("%d fdatasyncs reached the failed volume; a failed sync must never be retried", n)
	}
	if st := s.Stats(); st.WriteErrors != 1 {
		t.Fatalf("write errors %d", st.WriteErrors)
	}
	if v, _ := s.volume(1); uint8(v.state.Load()) != volFailed {
		t.Fatal("volume 1 not retired")
	}
	info := put(t, s, "next", []byte("works"))
	if info.loc.volume == 1 {
		t.Fatal("write after a failure went to the failed volume")
	}
	mustGet(t, s, "before", []byte("durable"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// After a restart the failed group stays invisible and nothing is
	// appended to the failed volume.
	inj.armed.Store(false)
	s = mustOpen(t, opts)
	defer s.Close()
	for i, err := range errs {
		if k := fmt.Sprintf("w%02d", i); err != nil {
			if _, err := s.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s failed but visible after reopen: %v", k, err)
			}
		}
	}
	if info := put(t, s, "later", []byte("x")); info.loc.volume == 1 {
		t.Fatal("reopened store appends to the failed volume")
	}
}

func TestWriteFailureTornWrite(t *testing.T) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{})
	var armed atomic.Bool
	tear := errorfs.InjectorFunc(func(op errorfs.Op) errorfs.Fault {
		if op.Kind == errorfs.OpWrite && armed.Load() && filepath.Ext(op.Path) == ".vol" {
			armed.Store(false)
			return errorfs.Fault{Err: errorfs.EIO, TornPrefix: 4096}
		}
		return errorfs.Fault{}
	})
	opts := testOptions(t, errorfs.Wrap(mfs, tear))
	s := mustOpen(t, opts)
	defer s.Close()
	put(t, s, "a", []byte("1"))
	armed.Store(true)
	if _, err := s.Put(ctx, "b", bytes.NewReader(make([]byte, 10000)), 10000, PutOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("torn write: %v", err)
	}
	if _, err := s.Stat(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Fatal("torn write visible")
	}
	put(t, s, "c", []byte("3"))
	mustGet(t, s, "a", []byte("1"))
}

func TestNoSpaceMemfs(t *testing.T) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{FreeBytes: 9 << 20})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	defer s.Close()
	written := fillUntilNoSpace(t, s, 200)
	if err := s.Healthy(); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Healthy: %v", err)
	}
	for k, v := range written {
		mustGet(t, s, k, v)
	}
	mfs.SetFreeBytes(64 << 20)
	put(t, s, "resumed", []byte("after space was freed"))
	if err := s.Healthy(); err != nil {
		t.Fatalf("Healthy after freeing: %v", err)
	}
	_ = ctx
}

// fillUntilNoSpace puts 64 KiB blobs until Put fails; the failure must be
// ErrNoSpace and leave the key invisible.
func fillUntilNoSpace(t *testing.T, s *Store, maxBlobs int) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	written := map[string][]byte{}
	r := newRand(77)
	for i := range maxBlobs {
		k := fmt.Sprintf("fill/%04d", i)
		v := randBytes(r, 60<<10)
		_, err := s.Put(ctx, k, bytes.NewReader(v), int64(len(v)), PutOptions{})
		if err == nil {
			written[k] = v
			continue
		}
		if !errors.Is(err, ErrNoSpace) {
			t.Fatalf("Put %s: %v, want ErrNoSpace", k, err)
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("failed Put %s visible: %v", k, err)
		}
		if len(written) == 0 {
			t.Fatal("no space for even one blob")
		}
		return written
	}
	t.Fatalf("still writing after %d blobs", maxBlobs)
	return nil
}

func TestNoSpaceTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (ENOSPC on a real filesystem)")
	}
	if _, err := exec.LookPath("mount"); err != nil {
		t.Skip("mount not available")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := Options{
		DataDirs:      []string{filepath.Join(mnt, "data")},
		IndexDir:      filepath.Join(dir, "index"),
		VolumeSize:    2 << 20,
		ChunkSize:     64 << 10,
		MaxBlobSize:   1 << 20,
		MaxBatchBytes: 256 << 10,
	}
	s := mustOpen(t, opts)
	defer s.Close()
	written := fillUntilNoSpace(t, s, 500)
	for k, v := range written {
		mustGet(t, s, k, v)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	put(t, s, "resumed", []byte("after space was freed"))
	mustGet(t, s, "resumed", []byte("after space was freed"))
}

func TestDirectIOOnDataFiles(t *testing.T) {
	opts := Options{DataDirs: []string{t.TempDir()}, IndexDir: t.TempDir(), VolumeSize: 64 << 20}
	s := mustOpen(t, opts)
	defer s.Close()
	info := put(t, s, "k", []byte("v"))
	dev := s.Devices()[0]
	if !dev.Direct {
		t.Skipf("filesystem of %s refuses O_DIRECT (tmpfs?); this test expects ext4/xfs", opts.DataDirs[0])
	}
	v, _ := s.volume(info.loc.volume)
	if !v.h.Direct() {
		t.Fatal("device is direct but the volume file is not open with O_DIRECT")
	}
}

func TestGetIsOneDeviceRead(t *testing.T) {
	ctx := context.Background()
	for _, fsName := range []string{"memfs", "os"} {
		t.Run(fsName, func(t *testing.T) {
			var opts Options
			if fsName == "memfs" {
				opts = testOptions(t, nil)
			} else {
				opts = Options{DataDirs: []string{t.TempDir()}, IndexDir: t.TempDir(), VolumeSize: 64 << 20}
			}
			s := mustOpen(t, opts)
			defer s.Close()
			r := newRand(1)
			sizes := []int{1, 4096, 5000, 60 << 10}
			for i, n := range sizes {
				put(t, s, fmt.Sprintf("k%d", i), randBytes(r, n))
			}
			for i := range sizes {
				before := s.Devices()[0].Classes[ioengine.ClassRead].ReadOps
				if _, _, err := s.Get(ctx, fmt.Sprintf("k%d", i)); err != nil {
					t.Fatal(err)
				}
				if n := s.Devices()[0].Classes[ioengine.ClassRead].ReadOps - before; n != 1 {
					t.Fatalf("Get of %d bytes took %d device reads", sizes[i], n)
				}
			}
		})
	}
}

func TestSpaceOverheadSmallBlobs(t *testing.T) {
	ctx := context.Background()
	opts := Options{DataDirs: []string{t.TempDir()}, IndexDir: t.TempDir(), VolumeSize: 64 << 20, Compression: CodecNone}
	s := mustOpen(t, opts)
	defer s.Close()
	const writers, each, size = 64, 16, 4096
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newRand(uint64(w))
			for i := range each {
				v := randBytes(r, size)
				if _, err := s.Put(ctx, fmt.Sprintf("w%02d/%03d", w, i), bytes.NewReader(v), size, PutOptions{}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	st := s.Stats()
	payload := float64(writers * each * size)
	ratio := float64(st.BytesWritten) / payload
	t.Logf("4 KiB x %d writers: %d records in %d groups, %d bytes on disk for %.0f payload: %.3fx",
		writers, st.RecordsWritten, st.Groups, st.BytesWritten, payload, ratio)
	if ratio > 1.15 {
		t.Fatalf("space used %.3fx the payload, limit 1.15x", ratio)
	}
}
