package blockstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"strata/internal/poll"
	"strata/ioengine/memfs"
)

// TestIndexCommitFailureIsReported fails every bbolt commit and checks the
// store stops retrying, reports it in Healthy, refuses writes with
// ErrIndexFailed (and ErrReadOnly) while acknowledged blobs stay readable,
// closes, and on the next Open replays what bbolt missed.
func TestIndexCommitFailureIsReported(t *testing.T) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	put(t, s, "committed", []byte("c"))
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	s.index.retryDelay.Store(int64(time.Millisecond))
	fault := errors.New("injected commit failure")
	s.index.commitFault.Store(&fault)

	put(t, s, "pending", []byte("p")) // durable in the volume, not in bbolt
	poll.Until(t, "Healthy to report the index", func() bool { return errors.Is(s.Healthy(), ErrIndexFailed) })
	if err := s.Healthy(); !errors.Is(err, ErrReadOnly) || !errors.Is(err, fault) {
		t.Fatalf("Healthy: %v, want ErrReadOnly wrapping the commit error", err)
	}
	if err := s.Writable(); !errors.Is(err, ErrIndexFailed) {
		t.Fatalf("Writable: %v, want ErrIndexFailed", err)
	}
	if n := s.Stats().IndexErrors; n != commitAttempts {
		t.Fatalf("%d commit attempts, want %d (bounded, not forever)", n, commitAttempts)
	}
	if err := s.index.flush(); !errors.Is(err, fault) {
		t.Fatalf("flush: %v, want the commit error", err)
	}
	records := s.Stats().RecordsWritten
	data := []byte("refused")
	if _, err := s.Put(ctx, "refused", bytes.NewReader(data), int64(len(data)), PutOptions{}); !errors.Is(err, ErrIndexFailed) || !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Put with a failed index: %v, want ErrIndexFailed and ErrReadOnly", err)
	}
	if err := s.Delete(ctx, "committed", DeleteOptions{}); !errors.Is(err, ErrIndexFailed) {
		t.Fatalf("Delete with a failed index: %v, want ErrIndexFailed", err)
	}
	if got := s.Stats().RecordsWritten; got != records {
		t.Fatalf("refused writes appended %d records", got-records)
	}
	mustGet(t, s, "pending", []byte("p")) // from memory
	mustGet(t, s, "committed", []byte("c"))
	if err := s.Close(); err == nil {
		t.Fatal("Close hid that index updates were not committed")
	}

	s = mustOpen(t, opts)
	defer s.Close()
	if err := s.Healthy(); err != nil {
		t.Fatalf("Healthy after reopen: %v", err)
	}
	if err := s.Writable(); err != nil {
		t.Fatalf("Writable after reopen: %v", err)
	}
	mustGet(t, s, "pending", []byte("p"))
	mustGet(t, s, "committed", []byte("c"))
	if _, err := s.Stat(ctx, "refused"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused write visible: %v", err)
	}
	put(t, s, "after", []byte("a"))
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseEndsCommitRetryWait checks Close does not wait out the backoff
// between commit retries.
func TestCloseEndsCommitRetryWait(t *testing.T) {
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	s.index.retryDelay.Store(int64(time.Hour))
	fault := errors.New("injected commit failure")
	s.index.commitFault.Store(&fault)
	put(t, s, "k", []byte("v"))
	poll.Until(t, "a failed commit attempt", func() bool { return s.Stats().IndexErrors > 0 })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err == nil {
			t.Fatal("Close hid that index updates were not committed")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close waited for the commit retry backoff")
	}
	s = mustOpen(t, opts)
	defer s.Close()
	mustGet(t, s, "k", []byte("v"))
}

// TestIndexLockedIsNotRebuilt checks a bbolt lock timeout is recognised as
// such (errors.Is, not the message), so a locked index is reported rather
// than moved aside and rebuilt.
func TestIndexLockedIsNotRebuilt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, IndexFileName)
	db, err := openBolt(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = openBolt(path, 0o600, &bolt.Options{Timeout: 10 * time.Millisecond})
	if !errors.Is(err, errIndexLocked) {
		t.Fatalf("second open: %v, want errIndexLocked", err)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 {
		t.Fatalf("index dir holds %d files, want only %s", len(names), IndexFileName)
	}
}
