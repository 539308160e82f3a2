package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"strata/ioengine/memfs"
)

// lwwStep is one versioned write: a Put of value, or a Delete when value
// is nil.
type lwwStep struct {
	version uint64
	value   []byte
}

func putV(v uint64, value string) lwwStep { return lwwStep{version: v, value: []byte(value)} }
func delV(v uint64) lwwStep               { return lwwStep{version: v} }

// TestVersionedWritesLastWriterWins applies versioned Puts and Deletes in
// orders hinted handoff and anti-entropy produce, and checks the newest
// version wins: right away, with the index committed after every step,
// across a Close/reopen after every step, after a crash that loses the
// uncommitted index, and after an index rebuild.
// lowCRC and highCRC are two contents whose CRC32C order the test relies
// on (checked in TestTieBreakContents).
const (
	lowCRC  = "content-a"
	highCRC = "content-b"
)

func TestTieBreakContents(t *testing.T) {
	if lo, hi := crc32c([]byte(lowCRC)), crc32c([]byte(highCRC)); lo >= hi {
		t.Fatalf("crc32c(%q) = %#x is not below crc32c(%q) = %#x: swap the constants", lowCRC, lo, highCRC, hi)
	}
}

func TestVersionedWritesLastWriterWins(t *testing.T) {
	orders := []struct {
		name  string
		steps []lwwStep
		want  lwwStep // value nil: not found, at that tombstone version
	}{
		{"delete v100 then put v50", []lwwStep{delV(100), putV(50, "old")}, delV(100)},
		{"put v10, delete v20, delete v40, put v30", []lwwStep{putV(10, "a"), delV(20), delV(40), putV(30, "b")}, delV(40)},
		{"delete v50 then put v100", []lwwStep{delV(50), putV(100, "new")}, putV(100, "new")},
		{"put v10, delete v20, delete v30, put v40", []lwwStep{putV(10, "a"), delV(20), delV(30), putV(40, "b")}, putV(40, "b")},
		{"delete v40, delete v20, put v30", []lwwStep{delV(40), delV(20), putV(30, "b")}, delV(40)},
		{"put v30, delete v20", []lwwStep{putV(30, "b"), delV(20)}, putV(30, "b")},
		{"delete v20 on a tombstone of v20, put v20", []lwwStep{delV(20), delV(20), putV(20, "same")}, delV(20)},
		// Two coordinators stamped one version: the higher checksum wins
		// in either order of arrival.
		{"put v50 low, put v50 high", []lwwStep{putV(50, lowCRC), putV(50, highCRC)}, putV(50, highCRC)},
		{"put v50 high, put v50 low", []lwwStep{putV(50, highCRC), putV(50, lowCRC)}, putV(50, highCRC)},
		{"put v50 high, put v50 high", []lwwStep{putV(50, highCRC), putV(50, highCRC)}, putV(50, highCRC)},
	}
	modes := []string{"live", "committed", "reopen", "crash", "rebuild"}
	for _, order := range orders {
		for _, mode := range modes {
			t.Run(order.name+"/"+mode, func(t *testing.T) {
				ctx := context.Background()
				mfs := memfs.New(memfs.Options{})
				opts := testOptions(t, mfs)
				s := mustOpen(t, opts)
				defer func() { s.Close() }()
				crashed := opts
				if mode == "crash" {
					// The index as of before the first step: recovery
					// replays every step from the volume.
					crashed.IndexDir = t.TempDir()
					copyIndex(t, s, crashed.IndexDir)
				}
				const key = "lww/key"
				for i, st := range order.steps {
					if st.value == nil {
						err := s.Delete(ctx, key, DeleteOptions{Version: st.version})
						if err != nil && !errors.Is(err, ErrNotFound) {
							t.Fatalf("step %d: Delete v%d: %v", i, st.version, err)
						}
					} else {
						_, err := s.Put(ctx, key, bytes.NewReader(st.value), int64(len(st.value)), PutOptions{Version: st.version})
						if err != nil {
							t.Fatalf("step %d: Put v%d: %v", i, st.version, err)
						}
					}
					switch mode {
					case "committed":
						if err := s.index.flush(); err != nil {
							t.Fatal(err)
						}
					case "reopen":
						if err := s.Close(); err != nil {
							t.Fatal(err)
						}
						s = mustOpen(t, opts)
					}
				}
				switch mode {
				case "crash":
					crashed.FS = mfs.CrashClone()
					s.Close()
					s = mustOpen(t, crashed)
				case "rebuild":
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
						t.Fatal(err)
					}
					s = mustOpen(t, opts)
				}
				checkLWW(t, s, key, order.want)
				if err := s.index.flush(); err != nil {
					t.Fatal(err)
				}
				checkLWW(t, s, key, order.want) // and once it is in bbolt
			})
		}
	}
}

func checkLWW(t *testing.T, s *Store, key string, want lwwStep) {
	t.Helper()
	ctx := context.Background()
	if want.value == nil {
		if _, err := s.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Stat: %v, want ErrNotFound (tombstone v%d)", err, want.version)
		}
		e, ok, err := s.index.lookup(key)
		if err != nil || !ok || !e.tombstone() || e.version != want.version {
			t.Fatalf("index entry %+v ok=%v err=%v, want tombstone v%d", e, ok, err, want.version)
		}
		return
	}
	info, got, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v, want %q at v%d", err, want.value, want.version)
	}
	if !bytes.Equal(got, want.value) || info.Version != want.version {
		t.Fatalf("Get: %q at v%d, want %q at v%d", got, info.Version, want.value, want.version)
	}
}

// copyIndex copies the committed state of s's index into dir.
func copyIndex(t testing.TB, s *Store, dir string) {
	t.Helper()
	err := s.index.db.View(func(tx *bolt.Tx) error {
		return tx.CopyFile(filepath.Join(dir, IndexFileName), 0o600)
	})
	if err != nil {
		t.Fatalf("index snapshot: %v", err)
	}
}

// TestDeleteReportsNotFoundAfterWriting checks what a Delete of a key with
// no blob writes and answers: a versioned one writes a durable tombstone
// and still reports ErrNotFound; an unversioned one writes nothing.
func TestDeleteReportsNotFoundAfterWriting(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		version     uint64
		wantRecords uint64
	}{
		{"versioned", 100, 1},
		{"unversioned", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mfs := memfs.New(memfs.Options{})
			opts := testOptions(t, mfs)
			s := mustOpen(t, opts)
			err := s.Delete(ctx, "missing", DeleteOptions{Version: tc.version})
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("Delete of a missing key: %v, want ErrNotFound", err)
			}
			if got := s.Stats().RecordsWritten; got != tc.wantRecords {
				t.Fatalf("records written: %d, want %d", got, tc.wantRecords)
			}
			crashed := opts
			crashed.FS = mfs.CrashClone() // the tombstone is durable before Delete returns
			s.Close()
			crashed.IndexDir = t.TempDir() // and found by a rebuild
			s = mustOpen(t, crashed)
			defer s.Close()
			e, ok, err := s.index.lookup("missing")
			if err != nil {
				t.Fatal(err)
			}
			if tc.version != 0 && (!ok || !e.tombstone() || e.version != tc.version) {
				t.Fatalf("after a crash: entry %+v ok=%v, want tombstone v%d", e, ok, tc.version)
			}
			if tc.version == 0 && ok {
				t.Fatalf("unversioned delete of a missing key left %+v", e)
			}
		})
	}
}

// writeUnindexed appends a blob record of key at version straight through
// the appender without an index op: durable in the volume, unknown to the
// index, as a record replayed after a crash is.
func writeUnindexed(t testing.TB, s *Store, key string, value []byte, version uint64) {
	t.Helper()
	h := recordHeader{rawLen: len(value), payloadLen: len(value), contentCRC: crc32c(value), version: version, modTime: s.modTime()}
	buf := s.getBuf(recordOverhead + len(key) + len(value))
	defer s.putBuf(buf)
	copy(buf.B[payloadOffset(key, "", 0):], value)
	rec := finishRecord(buf.B, h, key, "", nil)
	if _, err := s.write(context.Background(), s.pickDir(nil, false), rec, indexOp{}); err != nil {
		t.Fatal(err)
	}
}

// TestRecoveredOlderRecordNeverOverwritesNewer commits one version of a key
// to bbolt, then has recovery replay another version of it from past the
// watermark, and checks the newest wins in pending, once the replayed
// entries reach bbolt, and after another reopen.
func TestRecoveredOlderRecordNeverOverwritesNewer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name                string
		committed, replayed uint64
	}{
		{"older replayed after a newer one is committed", 200, 100},
		{"newer replayed after an older one is committed", 100, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mfs := memfs.New(memfs.Options{})
			opts := testOptions(t, mfs)
			s := mustOpen(t, opts)
			values := map[uint64][]byte{tc.committed: []byte("committed"), tc.replayed: []byte("replayed")}
			v := values[tc.committed]
			if _, err := s.Put(ctx, "k", bytes.NewReader(v), int64(len(v)), PutOptions{Version: tc.committed}); err != nil {
				t.Fatal(err)
			}
			if err := s.index.flush(); err != nil {
				t.Fatal(err)
			}
			crashed := opts
			crashed.IndexDir = t.TempDir()
			copyIndex(t, s, crashed.IndexDir) // the watermark is before the next record
			writeUnindexed(t, s, "k", values[tc.replayed], tc.replayed)
			crashed.FS = mfs.CrashClone()
			s.Close()

			newest := max(tc.committed, tc.replayed)
			want := lwwStep{version: newest, value: values[newest]}
			s = mustOpen(t, crashed)
			checkLWW(t, s, "k", want) // pending, over bbolt
			if err := s.index.flush(); err != nil {
				t.Fatal(err)
			}
			checkLWW(t, s, "k", want)
			err := s.index.db.View(func(tx *bolt.Tx) error {
				e, err := decodeEntry(tx.Bucket(bucketKeys).Get([]byte("k")))
				if err != nil {
					return err
				}
				if e.version != newest {
					return fmt.Errorf("bbolt holds v%d, want v%d", e.version, newest)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, crashed)
			defer s.Close()
			checkLWW(t, s, "k", want)
		})
	}
}

// TestRecoveryWithClockSetBack writes with the clock at T, reopens with
// the clock an hour earlier, writes again and checks the new writes win
// with higher versions, whether the old versions were replayed by
// recovery or live only in bbolt.
func TestRecoveryWithClockSetBack(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"clean close", "committed then crash", "crash before commit", "rebuild"} {
		t.Run(how, func(t *testing.T) {
			var now atomic.Int64
			now.Store(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
			mfs := memfs.New(memfs.Options{})
			opts := testOptions(t, mfs)
			opts.Now = func() time.Time { return time.Unix(0, now.Load()) }
			s := mustOpen(t, opts)
			reopen := opts
			if how == "crash before commit" {
				reopen.IndexDir = t.TempDir()
				copyIndex(t, s, reopen.IndexDir)
			}
			old := map[string]Info{}
			for i := range 20 {
				k := fmt.Sprintf("k%02d", i)
				old[k] = put(t, s, k, []byte("old "+k))
			}
			switch how {
			case "clean close":
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			case "committed then crash":
				if err := s.index.flush(); err != nil {
					t.Fatal(err)
				}
				reopen.IndexDir = t.TempDir()
				copyIndex(t, s, reopen.IndexDir)
				reopen.FS = mfs.CrashClone()
				s.Close()
			case "crash before commit":
				reopen.FS = mfs.CrashClone()
				s.Close()
			case "rebuild":
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
					t.Fatal(err)
				}
			}
			now.Add(-int64(time.Hour))
			s = mustOpen(t, reopen)
			defer s.Close()
			for k, o := range old {
				if k == "k00" {
					if err := s.Delete(ctx, k, DeleteOptions{}); err != nil {
						t.Fatalf("Delete %s: %v", k, err)
					}
					if _, err := s.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
						t.Fatalf("delete with the clock set back lost to v%d: %v", o.Version, err)
					}
					continue
				}
				info := put(t, s, k, []byte("new "+k))
				if info.Version <= o.Version {
					t.Fatalf("%s: new version %d not above the one on disk %d", k, info.Version, o.Version)
				}
				mustGet(t, s, k, []byte("new "+k))
			}
		})
	}
}
