package blockstore

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"

	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

// TestOverlappedGroupFailsWithTheSyncBeforeIt: a group whose write went to
// the disk while the previous group's fdatasync ran is not covered by that
// fdatasync. When that fdatasync fails, both groups fail: the later one is
// never acknowledged, never visible (before or after a restart), and gets
// no fdatasync of its own on the failed volume (a failed fdatasync is never
// retried, and a later one would not make the earlier failure good).
// Syncs and writes are counted through errorfs; nothing is timed.
func TestOverlappedGroupFailsWithTheSyncBeforeIt(t *testing.T) {
	ctx := context.Background()
	gate := newSyncGate()
	gate.failHeld = true
	opts := testOptions(t, errorfs.Wrap(memfs.New(memfs.Options{}), gate))
	opts.Compression = CodecNone
	s := mustOpen(t, opts)
	put(t, s, "before", []byte("durable"))

	held := gate.holdPut(s, "held")
	writes, syncs := gate.writes.Load(), gate.syncs.Load()
	// A quarter of the cap is cut at once and written while "held" syncs.
	large := opts.MaxBatchBytes / 4
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "overlapped", bytes.NewReader(bytes.Repeat([]byte{7}, large)), int64(large), PutOptions{})
		done <- err
	}()
	gate.awaitWrite(t, writes, "the later group was not written while the earlier fdatasync ran")
	select {
	case err := <-done:
		close(gate.release)
		t.Fatalf("a group written during an unfinished fdatasync was answered before it: %v", err)
	default:
	}
	close(gate.release)
	for name, ch := range map[string]<-chan error{"held": held, "overlapped": done} {
		err := <-ch
		if !errors.Is(err, ErrReadOnly) || !errors.Is(err, syscall.EIO) {
			t.Fatalf("%s: error %v, want ErrReadOnly wrapping EIO", name, err)
		}
		if _, err := s.Stat(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s failed but is visible: %v", name, err)
		}
	}
	if n := gate.syncs.Load() - syncs; n != 0 {
		t.Fatalf("%d fdatasyncs after the failed one before any new put; the overlapped group must fail without one", n)
	}
	if v, _ := s.volume(1); uint8(v.state.Load()) != volFailed {
		t.Fatal("volume 1 not retired after its fdatasync failed")
	}
	if info := put(t, s, "next", []byte("works")); info.loc.volume == 1 {
		t.Fatal("write after the failure went to the failed volume")
	}
	mustGet(t, s, "before", []byte("durable"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	for _, k := range []string{"held", "overlapped"} {
		if _, err := s.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s visible after reopen: %v", k, err)
		}
	}
	mustGet(t, s, "before", []byte("durable"))
	mustGet(t, s, "next", []byte("works"))
}
