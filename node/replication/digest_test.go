package replication

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"strata/blockstore"
)

func entry(key string, version uint64, deleted, corrupt bool) blockstore.Entry {
	return blockstore.Entry{Info: blockstore.Info{Key: key, Version: version}, Deleted: deleted, Corrupt: corrupt}
}

func TestBucketOfIsStableAndInRange(t *testing.T) {
	// Pinned: every node must bucket a key alike, across versions of the code.
	for _, c := range []struct {
		key  string
		want int
	}{{"a", 248}, {"photos/1.jpg", 543}} {
		if got := BucketOf(c.key); got != c.want || got < 0 || got >= DigestBuckets {
			t.Errorf("BucketOf(%q) = %d, want %d in [0,%d)", c.key, got, c.want, DigestBuckets)
		}
	}
	if got := EntryHash("a", 1, false); got != 0x7d0cd3f1c2831466 {
		t.Errorf("EntryHash(a, 1, false) = %#x, want 0x7d0cd3f1c2831466", got)
	}
	seen := make(map[int]bool)
	for i := range 20000 {
		seen[BucketOf(fmt.Sprintf("k%d", i))] = true
	}
	if len(seen) < DigestBuckets*99/100 {
		t.Errorf("20000 keys fill %d of %d buckets", len(seen), DigestBuckets)
	}
}

func TestContribution(t *testing.T) {
	blob := entry("k", 7, false, false)
	for _, c := range []struct {
		name string
		e    blockstore.Entry
		zero bool
		same bool // equal to blob's
	}{
		{"blob", blob, false, true},
		{"no entry", blockstore.Entry{}, true, false},
		{"corrupt counts as missing", entry("k", 7, false, true), true, false},
		{"tombstone differs from blob", entry("k", 7, true, false), false, false},
		{"other version differs", entry("k", 8, false, false), false, false},
		{"other key differs", entry("j", 7, false, false), false, false},
	} {
		got := Contribution(c.e)
		if (got == 0) != c.zero || (got == Contribution(blob)) != c.same {
			t.Errorf("%s: contribution %x (zero %v, same as blob %v)", c.name, got, c.zero, c.same)
		}
	}
}

func TestNewerAndHolds(t *testing.T) {
	none := blockstore.Entry{}
	b5, b6 := entry("k", 5, false, false), entry("k", 6, false, false)
	t5, c5 := entry("k", 5, true, false), entry("k", 5, false, true)
	for _, c := range []struct {
		name        string
		a, b        blockstore.Entry
		newer       bool
		aHoldsWantB bool
	}{
		{"higher version", b6, b5, true, true},
		{"lower version", b5, b6, false, false},
		{"tombstone over blob at equal version", t5, b5, true, true},
		{"blob under tombstone", b5, t5, false, false},
		{"blob over corrupt", b5, c5, true, true},
		{"corrupt does not hold its version", c5, b5, false, false},
		{"anything over none", b5, none, true, true},
		{"none holds nothing", none, b5, false, false},
		{"same", b5, b5, false, true},
		{"newer corrupt holds an older version", entry("k", 6, false, true), b5, true, true},
	} {
		if got := Newer(c.a, c.b); got != c.newer {
			t.Errorf("%s: Newer = %v, want %v", c.name, got, c.newer)
		}
		if got := Holds(c.a, c.b); got != c.aHoldsWantB {
			t.Errorf("%s: Holds = %v, want %v", c.name, got, c.aHoldsWantB)
		}
	}
}

func TestDiffBuckets(t *testing.T) {
	a := NewDigestTable(1, []string{"p"})
	b := NewDigestTable(1, []string{"p"})
	for i := range 100 {
		e := entry(fmt.Sprintf("k%d", i), uint64(i+1), false, false)
		a.Add([]string{"p"}, e)
		b.Add([]string{"p"}, e)
	}
	da, _ := a.Digest("p")
	db, _ := b.Digest("p")
	if diff, err := DiffBuckets(da, db); err != nil || len(diff) != 0 {
		t.Fatalf("equal tables: diff %v, %v", diff, err)
	}
	b.Update([]string{"p"}, "k3", entry("k3", 4, false, false), entry("k3", 9, true, false))
	db, _ = b.Digest("p")
	if diff, err := DiffBuckets(da, db); err != nil || !slices.Equal(diff, []int{BucketOf("k3")}) {
		t.Fatalf("one change: diff %v, %v; want [%d]", diff, err, BucketOf("k3"))
	}
	other := NewDigestTable(2, []string{"p"})
	dother, _ := other.Digest("p")
	if _, err := DiffBuckets(da, dother); !errors.Is(err, ErrViewMismatch) {
		t.Errorf("different views: %v, want ErrViewMismatch", err)
	}
	if _, err := DiffBuckets(da, Digest{View: 1, Buckets: make([]uint64, 3)}); !errors.Is(err, ErrBadDigest) {
		t.Errorf("short digest: %v, want ErrBadDigest", err)
	}
	if _, ok := a.Digest("stranger"); ok || a.Has("stranger") || !a.Has("p") {
		t.Error("the table knows a peer it was not built for, or not one it was")
	}
}

// TestDigestIncrementalEqualsRebuilt: after random puts, deletes,
// corruptions and drops applied incrementally, every peer's digest equals
// the one rebuilt from the final state.
func TestDigestIncrementalEqualsRebuilt(t *testing.T) {
	peers := []string{"a", "b", "c", "d"}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		// sharedWith is a fixed function of the key, as the view makes it.
		shared := func(key string) []string {
			i := BucketOf(key) % len(peers)
			return []string{peers[i], peers[(i+1)%len(peers)]}
		}
		state := make(map[string]blockstore.Entry)
		inc := NewDigestTable(9, peers)
		for range 2000 {
			key := fmt.Sprintf("key-%d", rng.IntN(300))
			old := state[key]
			var cur blockstore.Entry
			switch rng.IntN(4) {
			case 0:
				cur = entry(key, old.Version+1+rng.Uint64N(3), false, false)
			case 1:
				cur = entry(key, old.Version+1, true, false)
			case 2:
				cur = old
				cur.Corrupt = old.Version != 0
			case 3: // dropped: no entry
			}
			if cur.Version == 0 {
				delete(state, key)
			} else {
				state[key] = cur
			}
			inc.Update(shared(key), key, old, cur)
		}
		rebuilt := NewDigestTable(9, peers)
		for _, e := range state {
			rebuilt.Add(shared(e.Key), e)
		}
		for _, p := range peers {
			di, _ := inc.Digest(p)
			dr, _ := rebuilt.Digest(p)
			if diff, err := DiffBuckets(di, dr); err != nil || len(diff) != 0 {
				t.Fatalf("seed %d peer %s: incremental and rebuilt differ in buckets %v (%v)", seed, p, diff, err)
			}
		}
	}
}
