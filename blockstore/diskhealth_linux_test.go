package blockstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"strata/ioengine"
)

// loopDisk is an ext4 filesystem on a loop device over a file in a temp
// dir, mounted under it; fail makes the device answer EIO from then on.
type loopDisk struct {
	t       *testing.T
	backing string
	dev     string
	mnt     string
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newLoopDisk makes one of size bytes, or skips the test when not root or
// a tool is missing.
func newLoopDisk(t *testing.T, size string) *loopDisk {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a loop device (losetup, mkfs.ext4, mount); the fault-injecting engine covers the logic")
	}
	for _, tool := range []string{"losetup", "mkfs.ext4", "mount", "umount", "truncate"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: cannot build a loop device", tool)
		}
	}
	dir := t.TempDir()
	l := &loopDisk{t: t, backing: filepath.Join(dir, "disk.img"), mnt: filepath.Join(dir, "mnt")}
	run(t, "truncate", "-s", size, l.backing)
	out, err := exec.Command("losetup", "--find", "--show", l.backing).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device available: %v: %s", err, out)
	}
	l.dev = strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", l.dev).Run() })
	run(t, "mkfs.ext4", "-q", l.dev)
	if err := os.Mkdir(l.mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", l.dev, l.mnt)
	t.Cleanup(func() {
		if exec.Command("umount", l.mnt).Run() != nil {
			exec.Command("umount", "-l", l.mnt).Run()
		}
	})
	return l
}

// fail shrinks the device to its first MiB: every read or write past it
// (where the volumes' blocks lie) answers EIO, as a dying disk does.
func (l *loopDisk) fail() {
	run(l.t, "truncate", "-s", "1M", l.backing)
	run(l.t, "losetup", "-c", l.dev)
}

// TestLoopDeviceStartsFailing runs a store on two disks, one of them a real
// loop device that starts failing: reads of its blobs fail with I/O
// errors until the threshold marks the disk failed, then answer
// ErrDiskFailed; the other disk keeps serving and takes the new writes.
func TestLoopDeviceStartsFailing(t *testing.T) {
	// The failing disk is the roomier one, so new blobs go there first.
	l := newLoopDisk(t, "64M")
	healthy := newLoopDisk(t, "40M")
	ctx := context.Background()
	failing := filepath.Join(l.mnt, "data")
	opts := Options{
		FS:                 ioengine.OSFS(),
		DataDirs:           []string{filepath.Join(healthy.mnt, "data"), failing},
		IndexDir:           t.TempDir(),
		VolumeSize:         4 << 20,
		ChunkSize:          64 << 10,
		MaxBlobSize:        8 << 20,
		MaxBatchBytes:      256 << 10,
		DiskErrorThreshold: 3,
	}
	s := mustOpen(t, opts)
	t.Cleanup(func() { s.Close() }) // before the unmounts
	var onLoop []string
	for i := 0; len(onLoop) < 5 && i < 200; i++ {
		k := fmt.Sprintf("k%03d", i)
		if s.dirOf(put(t, s, k, randBytes(newRand(uint64(i)), 50<<10))) == 1 {
			onLoop = append(onLoop, k)
		}
	}
	if len(onLoop) < 5 {
		t.Fatalf("only %d blobs landed on the loop disk", len(onLoop))
	}
	l.fail()
	var last error
	for _, k := range onLoop {
		_, _, last = s.Get(ctx, k)
		if last == nil {
			t.Fatalf("Get %s served after the device failed", k)
		}
	}
	if !errors.Is(last, ErrDiskFailed) {
		t.Fatalf("last read of the failed device: %v, want ErrDiskFailed", last)
	}
	if got := s.FailedDisks(); !slices.Equal(got, []string{failing}) {
		t.Fatalf("FailedDisks %v, want [%s]", got, failing)
	}
	for i := range 5 {
		if s.dirOf(put(t, s, fmt.Sprintf("after%d", i), []byte("x"))) != 0 {
			t.Fatal("a new blob went to the failed disk")
		}
	}
	if err := s.Healthy(); err != nil {
		t.Fatalf("Healthy with the other disk serving: %v", err)
	}
}
