package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"strata/ioengine/memfs"
)

// entrySummary is what the replica tests compare of an Entry.
type entrySummary struct {
	key     string
	version uint64
	size    int64
	deleted bool
	corrupt bool
}

func summarize(e Entry) entrySummary {
	return entrySummary{key: e.Key, version: e.Version, size: e.Size, deleted: e.Deleted, corrupt: e.Corrupt}
}

func (s entrySummary) String() string {
	kind := "blob"
	switch {
	case s.deleted:
		kind = "tombstone"
	case s.corrupt:
		kind = "corrupt"
	}
	return fmt.Sprintf("%s@%d(%s,%d)", s.key, s.version, kind, s.size)
}

func putAt(t testing.TB, s *Store, key string, version uint64, value string) Info {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader([]byte(value)), int64(len(value)), PutOptions{Version: version})
	if err != nil {
		t.Fatalf("Put %q v%d: %v", key, version, err)
	}
	return info
}

func deleteAt(t testing.TB, s *Store, key string, version uint64) {
	t.Helper()
	if err := s.Delete(context.Background(), key, DeleteOptions{Version: version}); err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete %q v%d: %v", key, version, err)
	}
}

// markCorrupt indexes key as corrupt at version, as recovery does for a
// record whose header decodes but whose body fails its checksum.
func markCorrupt(s *Store, key string, version uint64) {
	s.index.apply([]indexOp{{kind: opKey, key: key, e: indexEntry{flags: entryCorrupt, version: version}}})
}

func scanAll(t testing.TB, s *Store, page int) []entrySummary {
	t.Helper()
	var out []entrySummary
	after := ""
	for {
		ents, err := s.Scan(context.Background(), after, page)
		if err != nil {
			t.Fatalf("Scan after %q: %v", after, err)
		}
		for _, e := range ents {
			out = append(out, summarize(e))
		}
		if len(ents) < page {
			return out
		}
		after = ents[len(ents)-1].Key
	}
}

// TestLookupAndScanSeeEveryEntryKind: Lookup and Scan report live blobs,
// tombstones and corrupt entries (List and Stat hide the last two), the
// newest entry where pending holds a newer one than bbolt, and nothing
// for a key never written; with the entries pending, committed to bbolt,
// half of each, and after a reopen.
func TestLookupAndScanSeeEveryEntryKind(t *testing.T) {
	ctx := context.Background()
	want := []entrySummary{
		{key: "a/live", version: 10, size: 3},
		{key: "b/tombstone", version: 20, deleted: true},
		{key: "c/corrupt", version: 30, corrupt: true},
		{key: "d/deleted", version: 50, deleted: true},
		{key: "e/overwritten", version: 70, size: 5},
	}
	for _, mode := range []string{"pending", "committed", "mixed", "reopen"} {
		t.Run(mode, func(t *testing.T) {
			opts := testOptions(t, memfs.New(memfs.Options{}))
			s := mustOpen(t, opts)
			defer func() { s.Close() }()
			commit := func(yes bool) {
				if yes {
					if err := s.index.flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			putAt(t, s, "a/live", 10, "one")
			deleteAt(t, s, "b/tombstone", 20)
			putAt(t, s, "d/deleted", 40, "gone")
			putAt(t, s, "e/overwritten", 60, "old")
			commit(mode == "committed" || mode == "mixed")
			// Mixed: these stay pending, over the older entries in bbolt.
			markCorrupt(s, "c/corrupt", 30)
			deleteAt(t, s, "d/deleted", 50)
			putAt(t, s, "e/overwritten", 70, "newer")
			commit(mode == "committed")
			if mode == "reopen" {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = mustOpen(t, opts)
			}
			for _, w := range want {
				e, err := s.Lookup(ctx, w.key)
				if err != nil {
					t.Fatalf("Lookup %q: %v", w.key, err)
				}
				if got := summarize(e); got != w {
					t.Errorf("Lookup %q: %v, want %v", w.key, got, w)
				}
			}
			if _, err := s.Lookup(ctx, "never/written"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Lookup of a key never written: %v, want ErrNotFound", err)
			}
			if _, err := s.Lookup(ctx, ""); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Lookup of an empty key: %v, want ErrInvalidKey", err)
			}
			for _, page := range []int{1, 2, 100} {
				got := scanAll(t, s, page)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("Scan in pages of %d:\n got %v\nwant %v", page, got, want)
				}
			}
			if ents, err := s.Scan(ctx, "c/corrupt", 2); err != nil || len(ents) != 2 || ents[0].Key != "d/deleted" {
				t.Errorf("Scan after c/corrupt: %v, %v; want d/deleted first, 2 entries", ents, err)
			}
			list, err := s.List(ctx, "", "", 100)
			if err != nil || len(list) != 2 {
				t.Errorf("List: %v, %v; want the two live blobs only", list, err)
			}
			e, err := s.Lookup(ctx, "e/overwritten")
			if err != nil {
				t.Fatal(err)
			}
			if _, data, err := s.Get(ctx, "e/overwritten"); err != nil || string(data) != "newer" || e.Checksum != crc32c(data) {
				t.Errorf("Lookup's Info does not describe the bytes Get returns: %q, %v", data, err)
			}
		})
	}
}

// TestNextVersionIncreasesAboveEverything: versions from NextVersion
// strictly increase with the wall clock standing still, and exceed every
// version observed, stored by a versioned Put, or on disk after a reopen
// with the clock set back.
func TestNextVersionIncreasesAboveEverything(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	opts := testOptions(t, memfs.New(memfs.Options{}))
	opts.Now = func() time.Time { return now }
	s := mustOpen(t, opts)
	defer func() { s.Close() }()
	wall := uint64(now.UnixMilli()) << 16
	observed := wall + 1000 // a peer's clock ahead of ours
	stored := observed + 500
	steps := []struct {
		name  string
		do    func()
		floor uint64 // every later version is above it
	}{
		{"wall clock", func() {}, wall - 1},
		{"observed", func() { s.ObserveVersion(observed) }, observed},
		{"observed older", func() { s.ObserveVersion(wall) }, observed},
		{"stored by a versioned put", func() { putAt(t, s, "k", stored, "v") }, stored},
		{"reopened with the clock set back", func() {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			now = now.Add(-time.Hour)
			s = mustOpen(t, opts)
		}, stored},
	}
	last := uint64(0)
	for _, st := range steps {
		st.do()
		for i := range 100 {
			v := s.NextVersion()
			if v <= st.floor || v <= last {
				t.Fatalf("%s: version %d (#%d) not above %d and the previous %d", st.name, v, i, st.floor, last)
			}
			last = v
		}
	}
	if info := put(t, s, "k2", []byte("x")); info.Version <= last {
		t.Fatalf("a store-stamped Put got version %d, not above the last issued %d", info.Version, last)
	}
}

// dropWant is what a dropped key should look like: gone, or back at a
// version (an extra copy a crash or rebuild brought back).
type dropWant struct {
	version uint64 // 0: no entry
	value   string
}

func checkDropped(t *testing.T, s *Store, when, key string, want dropWant) {
	t.Helper()
	ctx := context.Background()
	e, err := s.Lookup(ctx, key)
	if want.version == 0 {
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: Lookup %q: %v at v%d, want ErrNotFound", when, key, err, e.Version)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: Stat %q: %v, want ErrNotFound", when, key, err)
		}
		for _, se := range scanAll(t, s, 100) {
			if se.key == key {
				t.Fatalf("%s: Scan shows the dropped key: %v", when, se)
			}
		}
		list, err := s.List(ctx, "", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range list {
			if in.Key == key {
				t.Fatalf("%s: List shows the dropped key at v%d", when, in.Version)
			}
		}
		return
	}
	if err != nil || e.Version != want.version {
		t.Fatalf("%s: Lookup %q: v%d, %v; want v%d", when, key, e.Version, err, want.version)
	}
	if want.value == "" {
		if !e.Deleted {
			t.Fatalf("%s: %q at v%d is not a tombstone", when, key, e.Version)
		}
		return
	}
	mustGet(t, s, key, []byte(want.value))
}

// TestDrop forgets a key at its current version and checks what is seen
// right away, once bbolt has the drop, after a reopen, after a crash that
// kept or lost the committed drop, and after an index rebuild (which
// brings the copy back from its record: an extra copy, never a lost
// write); and that a write after the drop wins in every one of those, and
// that the other keys are untouched.
func TestDrop(t *testing.T) {
	const key = "drop/k"
	const v = 1000
	cases := []struct {
		name    string
		setup   func(t *testing.T, s *Store) // leaves key at v
		after   func(t *testing.T, s *Store) // runs after the drop
		commit  bool                         // flush before the drop
		gone    dropWant                     // with the drop in effect
		rebuilt dropWant                     // after a rebuild, or a crash losing the drop
	}{
		{
			name:    "blob pending",
			setup:   func(t *testing.T, s *Store) { putAt(t, s, key, v, "value") },
			rebuilt: dropWant{v, "value"},
		},
		{
			name:    "blob committed",
			setup:   func(t *testing.T, s *Store) { putAt(t, s, key, v, "value") },
			commit:  true,
			rebuilt: dropWant{v, "value"},
		},
		{
			// The drop must not let the older committed version show.
			name: "blob pending over an older committed one",
			setup: func(t *testing.T, s *Store) {
				putAt(t, s, key, v-500, "older")
				if err := s.index.flush(); err != nil {
					t.Fatal(err)
				}
				putAt(t, s, key, v, "value")
			},
			rebuilt: dropWant{v, "value"},
		},
		{
			name:    "tombstone",
			setup:   func(t *testing.T, s *Store) { putAt(t, s, key, v-1, "x"); deleteAt(t, s, key, v) },
			commit:  true,
			rebuilt: dropWant{v, ""},
		},
		{
			name:    "then a newer write",
			setup:   func(t *testing.T, s *Store) { putAt(t, s, key, v, "value") },
			after:   func(t *testing.T, s *Store) { putAt(t, s, key, v+1, "newer") },
			gone:    dropWant{v + 1, "newer"},
			rebuilt: dropWant{v + 1, "newer"},
		},
		{
			name:    "then a newer delete",
			setup:   func(t *testing.T, s *Store) { putAt(t, s, key, v, "value") },
			after:   func(t *testing.T, s *Store) { deleteAt(t, s, key, v+1) },
			commit:  true,
			gone:    dropWant{v + 1, ""},
			rebuilt: dropWant{v + 1, ""},
		},
		{
			// The key is forgotten, so an older write is taken; a rebuild
			// then finds the dropped record newer (last writer wins).
			name:    "then an older write",
			setup:   func(t *testing.T, s *Store) { putAt(t, s, key, v, "value") },
			after:   func(t *testing.T, s *Store) { putAt(t, s, key, v-10, "late") },
			gone:    dropWant{v - 10, "late"},
			rebuilt: dropWant{v, "value"},
		},
	}
	for _, tc := range cases {
		for _, mode := range []string{"live", "committed", "reopen", "crash after commit", "crash before commit", "rebuild"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				ctx := context.Background()
				mfs := memfs.New(memfs.Options{})
				opts := testOptions(t, mfs)
				s := mustOpen(t, opts)
				defer func() { s.Close() }()
				putAt(t, s, "other/a", 10, "a")
				deleteAt(t, s, "other/b", 20)
				tc.setup(t, s)
				if tc.commit {
					if err := s.index.flush(); err != nil {
						t.Fatal(err)
					}
				}
				crashed := opts
				if mode == "crash before commit" {
					// The index as of before the drop: recovery finds the
					// record past no watermark, the drop is lost.
					if err := s.index.flush(); err != nil {
						t.Fatal(err)
					}
					crashed.IndexDir = t.TempDir()
					copyIndex(t, s, crashed.IndexDir)
				}
				if err := s.Drop(ctx, key, v); err != nil {
					t.Fatalf("Drop at the current version: %v", err)
				}
				if tc.after != nil {
					tc.after(t, s)
				}
				want := tc.gone
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
				case "crash after commit":
					if err := s.index.flush(); err != nil {
						t.Fatal(err)
					}
					crashed.IndexDir = t.TempDir()
					copyIndex(t, s, crashed.IndexDir)
					crashed.FS = mfs.CrashClone()
					s.Close()
					s = mustOpen(t, crashed)
				case "crash before commit":
					crashed.FS = mfs.CrashClone()
					s.Close()
					s = mustOpen(t, crashed)
					want = tc.rebuilt
				case "rebuild":
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
						t.Fatal(err)
					}
					s = mustOpen(t, opts)
					want = tc.rebuilt
				}
				checkDropped(t, s, mode, key, want)
				if err := s.index.flush(); err != nil {
					t.Fatal(err)
				}
				checkDropped(t, s, mode+", committed", key, want)
				mustGet(t, s, "other/a", []byte("a"))
				if e, err := s.Lookup(ctx, "other/b"); err != nil || !e.Deleted || e.Version != 20 {
					t.Fatalf("the other tombstone: %+v, %v", e, err)
				}
			})
		}
	}
}

// TestDropRefusesAnotherVersion: a Drop at a version the key is not at
// (older, newer, or a key never written, or one already dropped) fails
// with ErrNotFound and changes nothing: entry, bytes, counts, index.
func TestDropRefusesAnotherVersion(t *testing.T) {
	ctx := context.Background()
	for _, committed := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed=%v", committed), func(t *testing.T) {
			s := mustOpen(t, testOptions(t, memfs.New(memfs.Options{})))
			defer s.Close()
			putAt(t, s, "k", 100, "value")
			putAt(t, s, "gone", 50, "g")
			if err := s.Drop(ctx, "gone", 50); err != nil {
				t.Fatal(err)
			}
			if committed {
				if err := s.index.flush(); err != nil {
					t.Fatal(err)
				}
			}
			before := s.Stats()
			for _, tc := range []struct {
				key     string
				version uint64
			}{{"k", 99}, {"k", 101}, {"k", 0}, {"never", 100}, {"gone", 50}} {
				if err := s.Drop(ctx, tc.key, tc.version); !errors.Is(err, ErrNotFound) {
					t.Errorf("Drop %q at v%d: %v, want ErrNotFound", tc.key, tc.version, err)
				}
			}
			if err := s.Drop(ctx, "", 100); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Drop of an empty key: %v, want ErrInvalidKey", err)
			}
			checkDropped(t, s, "refused", "k", dropWant{100, "value"})
			if err := s.index.flush(); err != nil {
				t.Fatal(err)
			}
			checkDropped(t, s, "refused, committed", "k", dropWant{100, "value"})
			after := s.Stats()
			if committed && (after.LiveKeys != before.LiveKeys || after.LiveBytes != before.LiveBytes) {
				t.Errorf("live keys %d -> %d, bytes %d -> %d after refused drops", before.LiveKeys, after.LiveKeys, before.LiveBytes, after.LiveBytes)
			}
			if after.RecordsWritten != before.RecordsWritten {
				t.Errorf("refused drops wrote %d records", after.RecordsWritten-before.RecordsWritten)
			}
		})
	}
}

// TestDropKeepsLiveCountsAndCheckClean: the live key and byte counts drop
// with a dropped blob (not with a dropped tombstone), as committed and
// after a reopen recounts nothing; and fsck's Check finds no problem in
// the records Drop left without an index entry.
func TestDropKeepsLiveCountsAndCheckClean(t *testing.T) {
	ctx := context.Background()
	opts := testOptions(t, memfs.New(memfs.Options{}))
	s := mustOpen(t, opts)
	putAt(t, s, "a", 10, "12345")
	putAt(t, s, "b", 11, "123")
	putAt(t, s, "c", 12, "1")
	deleteAt(t, s, "c", 13)
	putAt(t, s, "d", 14, "1234567")
	putAt(t, s, "d", 15, "12")
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.LiveKeys != 3 || st.LiveBytes != 10 {
		t.Fatalf("before: live %d keys, %d bytes; want 3, 10", st.LiveKeys, st.LiveBytes)
	}
	for _, d := range []struct {
		key string
		v   uint64
	}{{"a", 10}, {"c", 13}, {"d", 15}} {
		if err := s.Drop(ctx, d.key, d.v); err != nil {
			t.Fatalf("Drop %s v%d: %v", d.key, d.v, err)
		}
	}
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.LiveKeys != 1 || st.LiveBytes != 3 {
		t.Fatalf("after drops: live %d keys, %d bytes; want 1, 3", st.LiveKeys, st.LiveBytes)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(ctx, opts, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() || rep.Dropped != 3 {
		t.Fatalf("Check after drops: clean=%v dropped=%d problems %v; want clean, 3 dropped", rep.Clean(), rep.Dropped, rep.Problems)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	if st := s.Stats(); st.LiveKeys != 1 || st.LiveBytes != 3 {
		t.Fatalf("after reopen: live %d keys, %d bytes; want 1, 3", st.LiveKeys, st.LiveBytes)
	}
	// A write after the drop is checked like any other.
	putAt(t, s, "a", 20, "again")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err = Check(ctx, opts, CheckOptions{}); err != nil || !rep.Clean() {
		t.Fatalf("Check after a write over a drop: %v, problems %v", err, rep.Problems)
	}
}

// modelEntry is one key's state in TestDropAgainstModel's model.
type modelEntry struct {
	version uint64
	deleted bool
}

// rank orders equal versions as the index does: a tombstone beats a blob.
func (m modelEntry) beats(cur modelEntry) bool {
	if m.version != cur.version {
		return m.version > cur.version
	}
	return m.deleted && !cur.deleted
}

// TestDropAgainstModel runs random versioned puts, deletes and drops (at
// the current version and at others) over a few keys, with commits,
// reopens and crashes (after a commit) in between, and compares Lookup,
// Get and Scan with a model after every step. At the end Check must find
// nothing wrong, and a rebuild must give every key its newest record
// written, dropped or not (last writer wins over the volumes).
func TestDropAgainstModel(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			testDropAgainstModel(t, seed)
		})
	}
}

func testDropAgainstModel(t *testing.T, seed uint64) {
	ctx := context.Background()
	r := newRand(seed)
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	defer func() { s.Close() }()
	keys := []string{"k0", "k1", "k2", "k3"}
	cur := map[string]modelEntry{}
	newest := map[string]modelEntry{} // newest record written per key
	value := func(key string, v uint64) string { return fmt.Sprintf("%s@%d", key, v) }
	record := func(key string, m modelEntry) {
		if old, ok := newest[key]; !ok || m.beats(old) {
			newest[key] = m
		}
	}
	check := func(step int, what string, model map[string]modelEntry) {
		t.Helper()
		var want []entrySummary
		for _, k := range keys {
			m, ok := model[k]
			e, err := s.Lookup(ctx, k)
			if !ok {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("step %d (%s): Lookup %s: v%d deleted=%v, %v; want no entry", step, what, k, e.Version, e.Deleted, err)
				}
				continue
			}
			if err != nil || e.Version != m.version || e.Deleted != m.deleted {
				t.Fatalf("step %d (%s): Lookup %s: v%d deleted=%v, %v; want v%d deleted=%v", step, what, k, e.Version, e.Deleted, err, m.version, m.deleted)
			}
			w := entrySummary{key: k, version: m.version, deleted: m.deleted}
			if !m.deleted {
				w.size = int64(len(value(k, m.version)))
				mustGet(t, s, k, []byte(value(k, m.version)))
			}
			want = append(want, w)
		}
		if got := scanAll(t, s, 3); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("step %d (%s): Scan\n got %v\nwant %v", step, what, got, want)
		}
	}
	for step := range 200 {
		k := keys[r.IntN(len(keys))]
		v := uint64(1 + r.IntN(60))
		var what string
		switch n := r.IntN(100); {
		case n < 35:
			what = fmt.Sprintf("put %s v%d", k, v)
			putAt(t, s, k, v, value(k, v))
			if m, ok := cur[k]; !ok || (modelEntry{version: v}).beats(m) {
				cur[k] = modelEntry{version: v}
				record(k, cur[k])
			}
		case n < 50:
			what = fmt.Sprintf("delete %s v%d", k, v)
			deleteAt(t, s, k, v)
			if m, ok := cur[k]; !ok || (modelEntry{version: v, deleted: true}).beats(m) {
				cur[k] = modelEntry{version: v, deleted: true}
				record(k, cur[k])
			}
		case n < 80:
			m, ok := cur[k]
			if ok && r.IntN(4) > 0 {
				v = m.version
			}
			what = fmt.Sprintf("drop %s v%d", k, v)
			err := s.Drop(ctx, k, v)
			if ok && m.version == v {
				if err != nil {
					t.Fatalf("step %d: %s at the current version: %v", step, what, err)
				}
				delete(cur, k)
			} else if !errors.Is(err, ErrNotFound) {
				t.Fatalf("step %d: %s, not the current version: %v, want ErrNotFound", step, what, err)
			}
		case n < 92:
			what = "commit"
			if err := s.index.flush(); err != nil {
				t.Fatal(err)
			}
			var liveKeys, liveBytes int64
			for k, m := range cur {
				if !m.deleted {
					liveKeys, liveBytes = liveKeys+1, liveBytes+int64(len(value(k, m.version)))
				}
			}
			if st := s.Stats(); st.LiveKeys != liveKeys || st.LiveBytes != liveBytes {
				t.Fatalf("step %d: live %d keys, %d bytes; want %d, %d", step, st.LiveKeys, st.LiveBytes, liveKeys, liveBytes)
			}
		case n < 96:
			what = "reopen"
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, opts)
		default:
			what = "crash after a commit"
			if err := s.index.flush(); err != nil {
				t.Fatal(err)
			}
			crashed := opts
			crashed.IndexDir = t.TempDir()
			copyIndex(t, s, crashed.IndexDir)
			crashed.FS = mfs.CrashClone()
			s.Close()
			// Later steps reopen the crashed copy.
			opts, mfs = crashed, crashed.FS.(*memfs.FS)
			s = mustOpen(t, opts)
		}
		check(step, what, cur)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(ctx, opts, CheckOptions{})
	if err != nil || !rep.Clean() {
		t.Fatalf("Check: %v, problems %v", err, rep.Problems)
	}
	if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	check(-1, "rebuild", newest)
}

// TestDropWhileIndexerCommits: goroutines each own a few keys and run
// random versioned puts, deletes and drops on them, checking Lookup
// against their own model after every step, while another goroutine keeps
// the indexer committing (so drops, the writes after them and their
// commits interleave). Afterwards nothing is left pending, and a reopen
// gives every key its modelled entry.
func TestDropWhileIndexerCommits(t *testing.T) {
	ctx := context.Background()
	opts := testOptions(t, memfs.New(memfs.Options{}))
	s := mustOpen(t, opts)
	defer func() { s.Close() }()
	const workers, keysEach, steps = 4, 3, 150
	models := make([]map[string]modelEntry, workers)
	errc := make(chan error, workers)
	commitErr := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				commitErr <- nil
				return
			default:
			}
			if err := s.index.flush(); err != nil {
				commitErr <- err
				return
			}
			time.Sleep(100 * time.Microsecond) // a pause, not a timed assertion
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		models[w] = map[string]modelEntry{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			model := models[w]
			r := newRand(uint64(w) + 100)
			for i := range steps {
				k := fmt.Sprintf("w%d/k%d", w, r.IntN(keysEach))
				v := uint64(1 + r.IntN(40))
				m, ok := model[k]
				switch n := r.IntN(3); n {
				case 0, 1:
					deleted := n == 1
					var err error
					if deleted {
						err = s.Delete(ctx, k, DeleteOptions{Version: v})
					} else {
						_, err = s.Put(ctx, k, bytes.NewReader([]byte("v")), 1, PutOptions{Version: v})
					}
					if err != nil && !errors.Is(err, ErrNotFound) {
						errc <- err
						return
					}
					if next := (modelEntry{version: v, deleted: deleted}); !ok || next.beats(m) {
						model[k] = next
					}
				case 2:
					if ok {
						v = m.version
					}
					err := s.Drop(ctx, k, v)
					if ok != (err == nil) {
						errc <- fmt.Errorf("step %d: Drop %s v%d: %v (entry: %v)", i, k, v, err, ok)
						return
					}
					delete(model, k)
				}
				if err := checkModelKey(s, k, model); err != nil {
					errc <- fmt.Errorf("step %d: %w", i, err)
					return
				}
				// Only this worker changes its keys: Scan must show them
				// exactly as modelled.
				prefix := fmt.Sprintf("w%d/", w)
				ents, err := s.Scan(ctx, prefix, keysEach)
				if err != nil {
					errc <- err
					return
				}
				var got []string
				for _, e := range ents {
					if strings.HasPrefix(e.Key, prefix) {
						got = append(got, fmt.Sprintf("%s@%d/%v", e.Key, e.Version, e.Deleted))
					}
				}
				var want []string
				for j := range keysEach {
					kj := fmt.Sprintf("%sk%d", prefix, j)
					if m, ok := model[kj]; ok {
						want = append(want, fmt.Sprintf("%s@%d/%v", kj, m.version, m.deleted))
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					errc <- fmt.Errorf("step %d: Scan of %s: %v, want %v", i, prefix, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	if err := <-commitErr; err != nil {
		t.Fatal(err)
	}
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().PendingKeys; n != 0 {
		t.Fatalf("%d entries still pending after a flush", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	for w := range workers {
		for i := range keysEach {
			if err := checkModelKey(s, fmt.Sprintf("w%d/k%d", w, i), models[w]); err != nil {
				t.Fatalf("after reopen: %v", err)
			}
		}
	}
}

func checkModelKey(s *Store, k string, model map[string]modelEntry) error {
	m, ok := model[k]
	e, err := s.Lookup(context.Background(), k)
	switch {
	case !ok && !errors.Is(err, ErrNotFound):
		return fmt.Errorf("Lookup %s: v%d, %v; want no entry", k, e.Version, err)
	case ok && (err != nil || e.Version != m.version || e.Deleted != m.deleted):
		return fmt.Errorf("Lookup %s: v%d deleted=%v, %v; want v%d deleted=%v", k, e.Version, e.Deleted, err, m.version, m.deleted)
	}
	return nil
}

// TestNextVersionAfterCrashAboveIssued: versions issued for writes stored
// elsewhere (nothing local at those versions) stay below the clock after
// a crash and a restart with the wall clock set back, once an index
// commit followed them.
func TestNextVersionAfterCrashAboveIssued(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	opts.Now = func() time.Time { return now }
	s := mustOpen(t, opts)
	putAt(t, s, "local", 5, "x") // an old local write
	var issued uint64
	for range 10 {
		issued = s.NextVersion()
	}
	putAt(t, s, "local", 6, "y") // its commit stores the clock with it
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	crashed := opts
	crashed.IndexDir = t.TempDir()
	copyIndex(t, s, crashed.IndexDir)
	crashed.FS = mfs.CrashClone()
	s.Close()
	now = now.Add(-time.Hour)
	s = mustOpen(t, crashed)
	defer s.Close()
	if v := s.NextVersion(); v <= issued {
		t.Fatalf("after a crash with the clock set back: version %d, not above %d issued before the last commit", v, issued)
	}
}

// TestNextVersionAfterCrashAboveIssuedWithoutOps: a coordinator issues
// versions for keys it is not home of (no local op, so no index commit),
// after observing a peer whose clock runs ahead; a crash right after, and
// a restart with the wall clock set back, still give versions above every
// one issued before the crash (the persisted clock ceiling).
func TestNextVersionAfterCrashAboveIssuedWithoutOps(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	opts.Now = func() time.Time { return now }
	s := mustOpen(t, opts)
	putAt(t, s, "local", 5, "x") // an old local write, committed
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	s.ObserveVersion(uint64(now.Add(10*time.Second).UnixMilli()) << 16) // a fast peer
	var issued uint64
	for range 1000 {
		issued = max(issued, s.NextVersion())
	}
	crashed := opts
	crashed.IndexDir = t.TempDir()
	copyIndex(t, s, crashed.IndexDir)
	crashed.FS = mfs.CrashClone()
	s.Close()
	now = now.Add(-time.Hour)
	s = mustOpen(t, crashed)
	defer s.Close()
	if v := s.NextVersion(); v <= issued {
		t.Fatalf("after a crash with no local op since the versions were issued: version %d, not above %d", v, issued)
	}
}

// TestNextVersionWritesCeilingRarely: the clock ceiling keeps its cost off
// NextVersion: no write while the stamps stay under it, one write when the
// refresher finds the wall clock has moved on, and one when a fast peer's
// version pushes the clock past it.
func TestNextVersionWritesCeilingRarely(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	opts := testOptions(t, memfs.New(memfs.Options{}))
	opts.Now = func() time.Time { return now } // the wall clock only moves when told
	s := mustOpen(t, opts)
	defer s.Close()
	issue := func(when string, wantWrites uint64) {
		t.Helper()
		before := s.clock.ceilingWrites()
		for range 10000 {
			s.NextVersion()
		}
		if got := s.clock.ceilingWrites() - before; got != wantWrites {
			t.Fatalf("%s: 10000 versions wrote the ceiling %d times, want %d", when, got, wantWrites)
		}
	}
	issue("after Open", 0)
	now = now.Add(10 * time.Second)
	before := s.clock.ceilingWrites()
	s.clock.refresh()
	if got := s.clock.ceilingWrites() - before; got != 1 {
		t.Fatalf("refresh after the wall clock moved on wrote %d times, want 1", got)
	}
	issue("after a refresh", 0)
	s.ObserveVersion(uint64(now.Add(time.Minute).UnixMilli()) << 16)
	issue("after observing a fast peer", 1)
}

// TestDropAgainWhileDropCommits: a key dropped at v, written again at v
// and dropped at v again while the first drop's batch (with the write) is
// in flight stays dropped when that batch completes: the second drop's
// marker must not be taken for the first one's and leave pending, which
// would show the write bbolt just committed until the second drop commits.
// (Found through TestDropWhileIndexerCommits, which hit it about 1 run in 30.)
func TestDropAgainWhileDropCommits(t *testing.T) {
	ctx := context.Background()
	opts := testOptions(t, memfs.New(memfs.Options{}))
	s := mustOpen(t, opts)
	defer func() { s.Close() }()
	putAt(t, s, "k", 21, "a")
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	// Each commit waits for the test: inflight reports its batch, resume
	// lets it go. Every wait has a deadline, so a bug cannot hang the test.
	inflight, resume := make(chan []indexOp), make(chan struct{})
	hook := func(batch []indexOp) {
		inflight <- slices.Clone(batch)
		<-resume
	}
	s.index.commitHook.Store(&hook)
	defer func() {
		s.index.commitHook.Store(nil)
		close(resume)
	}()
	waitBatch := func(what string) []indexOp {
		t.Helper()
		select {
		case b := <-inflight:
			return b
		case <-time.After(time.Minute):
			t.Fatalf("no commit of %s within a minute", what)
			return nil
		}
	}
	release := func() {
		select {
		case resume <- struct{}{}:
		case <-time.After(time.Minute):
			t.Fatal("the commit did not take its release within a minute")
		}
	}
	putAt(t, s, "other", 1, "o") // a batch to hold while the next ops queue
	go s.index.flush()
	waitBatch("other")
	if err := s.Drop(ctx, "k", 21); err != nil {
		t.Fatal(err)
	}
	putAt(t, s, "k", 21, "b") // after a drop any version is taken
	release()
	b := waitBatch("the drop and the write")
	isDrop := func(op indexOp) bool { return op.kind == opDrop && op.key == "k" }
	isPut := func(op indexOp) bool { return op.kind == opKey && op.key == "k" }
	if !slices.ContainsFunc(b, isDrop) || !slices.ContainsFunc(b, isPut) {
		t.Fatalf("the second batch is %v, want the drop and the write of k", b)
	}
	if err := s.Drop(ctx, "k", 21); err != nil { // the write, dropped again
		t.Fatal(err)
	}
	release()
	waitBatch("the second drop") // held: the second drop is not committed yet
	if e, err := s.Lookup(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the first drop's batch committed: Lookup k = v%d, %v; want ErrNotFound (dropped again)", e.Version, err)
	}
	if ents := scanAll(t, s, 100); slices.ContainsFunc(ents, func(e entrySummary) bool { return e.key == "k" }) {
		t.Fatalf("Scan shows the key dropped again: %v", ents)
	}
	release()
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after every commit: Lookup k: %v, want ErrNotFound", err)
	}
}
