package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
			commit := func() {
				if mode == "committed" || mode == "mixed" {
					if err := s.index.flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			putAt(t, s, "a/live", 10, "one")
			deleteAt(t, s, "b/tombstone", 20)
			putAt(t, s, "d/deleted", 40, "gone")
			putAt(t, s, "e/overwritten", 60, "old")
			commit()
			if mode == "mixed" {
				mode = "pending" // the rest stays pending, over the older entries in bbolt
			}
			markCorrupt(s, "c/corrupt", 30)
			deleteAt(t, s, "d/deleted", 50)
			putAt(t, s, "e/overwritten", 70, "newer")
			commit()
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
