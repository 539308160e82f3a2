package blockstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestLookupSnapshot: once the index committed, lookups read through the
// shared snapshot (no transaction of their own) and see every commit: an
// overwrite, a delete, and a goroutine's own writes under concurrent
// commits.
func TestLookupSnapshot(t *testing.T) {
	s := mustOpen(t, testOptions(t, nil))
	defer s.Close()
	ctx := context.Background()
	put(t, s, "k", []byte("one"))
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	sn := s.index.snaps.cur.Load()
	if sn == nil {
		t.Fatal("no snapshot published after a commit")
	}
	mustGet(t, s, "k", []byte("one"))
	if sn.refs.Load() != 1 {
		t.Fatalf("snapshot holds %d references after lookups, want 1", sn.refs.Load())
	}
	info := put(t, s, "k", []byte("two"))
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Stat(ctx, "k"); err != nil || got.Version != info.Version {
		t.Fatalf("after an overwrite committed: version %d (%v), want %d", got.Version, err, info.Version)
	}
	if s.index.snaps.cur.Load() == sn {
		t.Fatal("the snapshot did not move past a commit")
	}
	if err := s.Delete(ctx, "k", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after a delete committed: %v", err)
	}

	// Each writer reads its own writes while the indexer commits and
	// empties pending under it.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("w%d", w)
			for i := range 150 {
				info := put(t, s, key, []byte(fmt.Sprint(i)))
				got, err := s.Stat(ctx, key)
				if err != nil || got.Version != info.Version {
					t.Errorf("%s write %d: read version %d (%v), want %d", key, i, got.Version, err, info.Version)
					return
				}
				if i%10 == 0 {
					if err := s.index.flush(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	s.index.snaps.close()
	if s.index.snaps.cur.Load() != nil || s.index.snaps.acquire() != nil {
		t.Fatal("a closed snapshot is still served")
	}
	mustGet(t, s, "w0", []byte("149")) // lookups fall back to their own transaction
}
