package blockstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"strata/ioengine"
	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

// roomyDir makes one directory report more free space than the others, so
// the store places new writes there first.
type roomyDir struct {
	ioengine.FS
	dir string
}

func (r roomyDir) FreeSpace(dir string) (uint64, error) {
	if dir == r.dir {
		return 1 << 50, nil
	}
	return 1 << 40, nil
}

// diskFault fails the chosen kinds of op under one directory with EIO once
// armed, and counts the writes that reach the directory.
type diskFault struct {
	dir    string
	kinds  []errorfs.OpKind
	armed  atomic.Bool
	writes atomic.Int64
}

func (f *diskFault) Inject(op errorfs.Op) errorfs.Fault {
	if !strings.HasPrefix(op.Path, f.dir+"/") {
		return errorfs.Fault{}
	}
	if op.Kind == errorfs.OpWrite {
		f.writes.Add(1)
	}
	if f.armed.Load() && slices.Contains(f.kinds, op.Kind) {
		return errorfs.Fault{Err: errorfs.EIO}
	}
	return errorfs.Fault{}
}

// twoDisks opens a store on /data0 and /data1, with /data1 preferred for
// writes and faults injected there by the returned diskFaults.
func twoDisks(t *testing.T, threshold int, kinds ...errorfs.OpKind) (*Store, Options, [2]*diskFault) {
	t.Helper()
	faults := [2]*diskFault{{dir: "/data0", kinds: kinds}, {dir: "/data1", kinds: kinds}}
	fsys := errorfs.Wrap(roomyDir{FS: memfs.New(memfs.Options{}), dir: "/data1"}, errorfs.Any(faults[0], faults[1]))
	opts := testOptions(t, fsys)
	opts.DataDirs = []string{"/data0", "/data1"}
	opts.DiskErrorThreshold = threshold
	return mustOpen(t, opts), opts, faults
}

func (s *Store) dirOf(info Info) int {
	v, _ := s.volume(info.loc.volume)
	return v.dir.idx
}

// TestDiskFailsPastReadErrors fails every read of one disk: its blobs
// answer EIO until the threshold, then ErrDiskFailed without reading; the
// other disk serves its blobs and takes every new write although the
// failed disk reports more room; readiness holds while a disk is in
// service; when both have failed, the store is neither healthy nor
// writable; a reopen puts the disk back in service.
func TestDiskFailsPastReadErrors(t *testing.T) {
	ctx := context.Background()
	const threshold = 3
	s, opts, faults := twoDisks(t, threshold, errorfs.OpRead)
	defer func() { s.Close() }()
	blobs := map[string][]byte{}
	var onFailing []string
	for i := range 6 {
		k := fmt.Sprintf("before/%d", i)
		blobs[k] = randBytes(newRand(uint64(i)), 3000)
		if s.dirOf(put(t, s, k, blobs[k])) == 1 {
			onFailing = append(onFailing, k)
		}
	}
	if len(onFailing) != len(blobs) {
		t.Fatalf("%d of %d blobs on the roomier disk", len(onFailing), len(blobs))
	}
	faults[1].armed.Store(true)
	for i, k := range onFailing {
		_, _, err := s.Get(ctx, k)
		switch {
		case i < threshold-1 && (!errors.Is(err, syscall.EIO) || errors.Is(err, ErrDiskFailed)):
			t.Fatalf("read %d of the failing disk: %v, want EIO", i, err)
		case i >= threshold-1 && !errors.Is(err, ErrDiskFailed):
			t.Fatalf("read %d of the failing disk: %v, want ErrDiskFailed", i, err)
		}
	}
	if _, err := s.Stat(ctx, onFailing[0]); !errors.Is(err, ErrDiskFailed) {
		t.Fatalf("Stat of a blob on the failed disk: %v, want ErrDiskFailed", err)
	}
	st := s.Stats()
	if d := st.Disks[1]; !d.Failed || d.IOErrors != threshold || !strings.Contains(d.FailedReason, "/data1") || st.Disks[0].Failed {
		t.Fatalf("disk stats %+v: want /data1 failed after exactly %d I/O errors (no reads once failed)", st.Disks, threshold)
	}
	if got := s.FailedDisks(); !slices.Equal(got, []string{"/data1"}) {
		t.Fatalf("FailedDisks %v", got)
	}
	if err := s.Healthy(); err != nil {
		t.Fatalf("Healthy with one disk in service: %v", err)
	}
	if err := s.Writable(); err != nil {
		t.Fatalf("Writable with one disk in service: %v", err)
	}
	faults[1].armed.Store(false) // the failed disk would take writes now: none go there
	writes := faults[1].writes.Load()
	for i := range 10 {
		k := fmt.Sprintf("after/%d", i)
		blobs[k] = randBytes(newRand(uint64(100+i)), 3000)
		if d := s.dirOf(put(t, s, k, blobs[k])); d != 0 {
			t.Fatalf("%s written to data dir %d, the failed disk", k, d)
		}
	}
	if n := faults[1].writes.Load() - writes; n != 0 {
		t.Fatalf("%d writes reached the failed disk", n)
	}
	mustGet(t, s, "after/0", blobs["after/0"])
	if _, err := s.Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Disks[1].Scrub.Bytes != 0 {
		t.Fatal("scrub read the failed disk")
	}

	// Both disks failed: nothing serves.
	faults[0].armed.Store(true)
	for range threshold {
		s.Get(ctx, "after/0")
	}
	for name, err := range map[string]error{"Healthy": s.Healthy(), "Writable": s.Writable()} {
		if !errors.Is(err, ErrDiskFailed) || errors.Is(err, ErrReadOnly) || errors.Is(err, ErrNoSpace) {
			t.Fatalf("%s with every disk failed: %v, want ErrDiskFailed alone", name, err)
		}
	}
	if _, err := s.Put(ctx, "refused", strings.NewReader("x"), 1, PutOptions{}); !errors.Is(err, ErrDiskFailed) {
		t.Fatalf("Put with every disk failed: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	faults[0].armed.Store(false)
	s = mustOpen(t, opts)
	for k, v := range blobs {
		mustGet(t, s, k, v)
	}
	if got := s.FailedDisks(); len(got) != 0 {
		t.Fatalf("failed disks after a reopen: %v", got)
	}
}

// TestDiskFailsOnSyncError fails the fdatasyncs of one disk with a
// threshold of one: the put in that group fails, the disk is marked
// failed, and every later put succeeds on the other disk.
func TestDiskFailsOnSyncError(t *testing.T) {
	ctx := context.Background()
	s, _, faults := twoDisks(t, 1, errorfs.OpSync)
	defer s.Close()
	info := put(t, s, "durable", []byte("on the failing disk"))
	if s.dirOf(info) != 1 {
		t.Fatal("first blob not on the roomier disk")
	}
	faults[1].armed.Store(true)
	if _, err := s.Put(ctx, "lost", strings.NewReader("x"), 1, PutOptions{}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("put in the failed group: %v, want EIO", err)
	}
	if got := s.FailedDisks(); !slices.Equal(got, []string{"/data1"}) {
		t.Fatalf("FailedDisks %v after a failed fdatasync with threshold 1", got)
	}
	writes := faults[1].writes.Load()
	for i := range 10 {
		k := fmt.Sprintf("after/%d", i)
		if d := s.dirOf(put(t, s, k, []byte(k))); d != 0 {
			t.Fatalf("%s on data dir %d", k, d)
		}
	}
	if n := faults[1].writes.Load() - writes; n != 0 {
		t.Fatalf("%d writes reached the failed disk", n)
	}
	if _, _, err := s.Get(ctx, "durable"); !errors.Is(err, ErrDiskFailed) {
		t.Fatalf("Get of a blob on the failed disk: %v, want ErrDiskFailed", err)
	}
}

// TestDiskErrorsNotCounted checks what is not the disk's fault: a full
// disk and a negative threshold never mark a disk failed.
func TestDiskErrorsNotCounted(t *testing.T) {
	d := &dataDir{}
	for _, tc := range []struct {
		err       error
		threshold int
		counted   bool
	}{
		{syscall.EIO, 1, true},
		{fmt.Errorf("wrapped: %w", syscall.EIO), 1, true},
		{syscall.ENOSPC, 1, false},
		{context.Canceled, 1, false},
		{ioengine.ErrClosed, 1, false},
		{syscall.EIO, -1, true},
	} {
		if got := isDiskError(tc.err); got != tc.counted {
			t.Errorf("isDiskError(%v) = %v", tc.err, got)
		}
	}
	s, _, _ := twoDisks(t, -1, errorfs.OpRead)
	defer s.Close()
	d = s.dirs[0]
	for range 100 {
		d.noteIOError(s, syscall.EIO)
	}
	if d.failedErr() != nil || d.health.errors.Load() != 100 {
		t.Fatalf("threshold -1: failed %v after %d errors", d.failedErr(), d.health.errors.Load())
	}
}
