package blockstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"strata/ioengine/memfs"
)

// checkFixture is a closed store of ten blobs and a deleted key, with
// where each record lies and where volume 1's written data ends.
type checkFixture struct {
	opts  Options
	mfs   *memfs.FS
	infos map[string]Info
	end   int64
}

func newCheckFixture(t *testing.T) checkFixture {
	t.Helper()
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	infos := map[string]Info{}
	for i := range 10 {
		k := fmt.Sprintf("k%d", i)
		infos[k] = put(t, s, k, randBytes(newRand(uint64(i)), 5000))
	}
	if err := s.Delete(context.Background(), "k0", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	end := s.volumes[1].end.Load()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return checkFixture{opts: opts, mfs: mfs, infos: infos, end: end}
}

// editIndex changes the fixture's closed index.db in one transaction.
func editIndex(t *testing.T, f checkFixture, edit func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(f.opts.IndexDir, IndexFileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(edit); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, f checkFixture)
		want   []string // substrings of the problems, in any order; none: clean
		// repairs: --repair leaves a clean store; refused: it declines.
		repairs, refused bool
		unindexed        int64
	}{
		{name: "clean store"},
		{
			name: "flipped bit mid-volume",
			damage: func(t *testing.T, f checkFixture) {
				off := f.infos["k3"].loc.offset + int64(recordHeaderLen+2+30)
				vf := volumeFile(t, f.mfs, "/data0", 1)
				defer vf.Close()
				pokeFile(t, vf, off, func(b []byte) []byte { b[off%4096] ^= 0x40; return b })
			},
			// The rebuild keeps the key marked corrupt: only a replica repairs it.
			want: []string{`key "k3": corrupt blob record`},
		},
		{
			name: "torn tail",
			damage: func(t *testing.T, f checkFixture) {
				vf := volumeFile(t, f.mfs, "/data0", 1)
				defer vf.Close()
				garbage := []byte(strings.Repeat("\x5a", 700))
				pokeFile(t, vf, f.end, func(b []byte) []byte { copy(b[f.end%4096:], garbage); return b })
			},
			want:    []string{"torn tail"},
			repairs: true,
		},
		{
			name: "index missing",
			damage: func(t *testing.T, f checkFixture) {
				if err := os.Remove(filepath.Join(f.opts.IndexDir, IndexFileName)); err != nil {
					t.Fatal(err)
				}
			},
			want:    []string{"index.db is missing"},
			repairs: true,
		},
		{
			name: "index lacks a key",
			damage: func(t *testing.T, f checkFixture) {
				editIndex(t, f, func(tx *bolt.Tx) error { return tx.Bucket(bucketKeys).Delete([]byte("k5")) })
			},
			want:    []string{`key "k5": record on disk at version`},
			repairs: true,
		},
		{
			name: "index holds an older version",
			damage: func(t *testing.T, f checkFixture) {
				editIndex(t, f, func(tx *bolt.Tx) error {
					b := tx.Bucket(bucketKeys)
					e, err := decodeEntry(b.Get([]byte("k5")))
					if err != nil {
						return err
					}
					e.version--
					return b.Put([]byte("k5"), e.encode(nil))
				})
			},
			want:    []string{`key "k5": record on disk at version`, "is newer than the index's version", "the record there is at version"},
			repairs: true,
		},
		{
			name: "records past the watermark are not a problem",
			damage: func(t *testing.T, f checkFixture) {
				// As after a crash: the index had not committed k5, nor
				// moved the watermark past it, nor counted its bytes.
				editIndex(t, f, func(tx *bolt.Tx) error {
					r := volumeRecord{state: volOpen, watermark: f.infos["k5"].loc.offset}
					if err := tx.Bucket(bucketVolumes).Put(volumeKey(1), r.encode()); err != nil {
						return err
					}
					if err := putLive(tx, liveDelta{1: -f.infos["k5"].loc.length}); err != nil {
						return err
					}
					return tx.Bucket(bucketKeys).Delete([]byte("k5"))
				})
			},
			unindexed: 1,
		},
		{
			name: "live-byte count off",
			damage: func(t *testing.T, f checkFixture) {
				editIndex(t, f, func(tx *bolt.Tx) error { return putLive(tx, liveDelta{1: 1000}) })
			},
			want:    []string{"volume 1 at offset 0: the index counts", "garbage accounting is off"},
			repairs: true,
		},
		{
			name: "index entry points past the end",
			damage: func(t *testing.T, f checkFixture) {
				vf := volumeFile(t, f.mfs, "/data0", 1)
				defer vf.Close()
				if err := vf.Truncate(f.infos["k9"].loc.offset); err != nil {
					t.Fatal(err)
				}
			},
			want:    []string{`key "k9": index entry`, "points past the end"},
			repairs: true,
		},
		{
			name: "identity file missing",
			damage: func(t *testing.T, f checkFixture) {
				if err := f.mfs.Remove(filepath.Join("/data0", IdentityFileName)); err != nil {
					t.Fatal(err)
				}
			},
			want:    []string{"identity file strata-disk.id is missing"},
			refused: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCheckFixture(t)
			if tc.damage != nil {
				tc.damage(t, f)
			}
			rep, err := Check(ctx, f.opts, CheckOptions{})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			got := fmt.Sprint(rep.Problems)
			t.Logf("%d problems: %s (records %d, entries %d)", rep.ProblemCount, got, rep.Records, rep.IndexEntries)
			if len(tc.want) == 0 && rep.ProblemCount != 0 {
				t.Fatalf("clean store: %d problems: %s", rep.ProblemCount, got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems %s lack %q", got, w)
				}
			}
			if rep.Unindexed != tc.unindexed {
				t.Errorf("%d records counted unindexed, want %d", rep.Unindexed, tc.unindexed)
			}
			if rep.Records == 0 || rep.Volumes == 0 {
				t.Errorf("report read nothing: %+v", rep)
			}
			if len(tc.want) == 0 {
				return
			}
			// Without Repair, nothing changed: the same check finds the same.
			again, err := Check(ctx, f.opts, CheckOptions{})
			if err != nil || fmt.Sprint(again.Problems) != got {
				t.Fatalf("second check differs: %v %v, was %s", err, again.Problems, got)
			}
			rep, err = Check(ctx, f.opts, CheckOptions{Repair: true})
			if err != nil {
				t.Fatalf("Check with Repair: %v", err)
			}
			switch {
			case tc.refused:
				if rep.Repaired || rep.RepairRefused == "" {
					t.Fatalf("repair ran with an identity problem: %+v", rep)
				}
				return
			case !rep.Repaired || rep.After == nil:
				t.Fatalf("repair did not run: %+v", rep)
			case tc.repairs && !rep.Clean():
				t.Fatalf("problems after repair: %v", rep.After.Problems)
			}
			after, err := Check(ctx, f.opts, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.repairs && after.ProblemCount != 0 {
				t.Fatalf("check after repair: %v", after.Problems)
			}
			// Repair never loses an acknowledged blob that was intact.
			s := mustOpen(t, f.opts)
			defer s.Close()
			for k := range f.infos {
				if k == "k0" || k == "k3" && !tc.repairs || k == "k9" && strings.Contains(tc.name, "past the end") {
					continue
				}
				if _, err := s.Stat(ctx, k); err != nil {
					t.Errorf("after repair: %v", err)
				}
			}
		})
	}
}

// TestCheckRefusesRunningStore: a store holding the directories makes
// Check fail with ErrLocked, changing nothing.
func TestCheckRefusesRunningStore(t *testing.T) {
	opts := testOptions(t, memfs.New(memfs.Options{}))
	s := mustOpen(t, opts)
	defer s.Close()
	put(t, s, "k", []byte("v"))
	for _, repair := range []bool{false, true} {
		if _, err := Check(context.Background(), opts, CheckOptions{Repair: repair}); !errors.Is(err, ErrLocked) {
			t.Fatalf("Check(repair=%v) of a running store: %v, want ErrLocked", repair, err)
		}
	}
	mustGet(t, s, "k", []byte("v"))
}
