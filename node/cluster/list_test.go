package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"strata/blockstore"
	"strata/node/replication"
)

// seed applies a replica write of key at version straight on the given
// nodes (a blob of size bytes, or a tombstone when size < 0).
func seed(t *testing.T, tc *testCluster, key string, version uint64, size int, ids ...string) {
	t.Helper()
	for _, id := range ids {
		c := tc.node(id).c
		var err error
		if size < 0 {
			err = c.ApplyDelete(context.Background(), key, version)
		} else {
			_, err = c.ApplyPut(context.Background(), key, bytes.NewReader(make([]byte, size)), int64(size), blockstore.PutOptions{Version: version})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func keysOf(infos []blockstore.Info) []string {
	var out []string
	for _, i := range infos {
		out = append(out, i.Key)
	}
	return out
}

// List merges every member's entries by key: newest wins, tombstones hide
// older copies elsewhere, prefix and start-after bound it, and pages
// (also across the members' own page size) add up to the whole.
func TestListMerge(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 4, nil)
	var want []string
	const v = 100 << 16
	for i := range 2500 { // more than one member page (listPage)
		key := fmt.Sprintf("a/%04d", i)
		seed(t, tc, key, v, 1, tc.homes(key)...)
		want = append(want, key)
	}
	seed(t, tc, "b/x", v, 1, tc.homes("b/x")...)
	seed(t, tc, "a.", v, 1, tc.homes("a.")...) // sorts just before the prefix "a/"

	// a/0007 deleted on its homes; a leftover older copy on a non-home
	// (rebalancing not done) must not bring it back.
	homes := tc.homes("a/0007")
	seed(t, tc, "a/0007", v+1, -1, homes...)
	for _, n := range tc.nodes {
		if !slices.Contains(homes, n.id) {
			seed(t, tc, "a/0007", v, 1, n.id)
		}
	}
	want = slices.DeleteFunc(want, func(k string) bool { return k == "a/0007" })
	// a/0009 newer (bigger) on one home only: the listing shows the newest.
	seed(t, tc, "a/0009", v+1, 9, tc.homes("a/0009")[0])

	got, err := tc.node("n1").c.List(ctx, "a/", "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keysOf(got), want) {
		t.Fatalf("List gave %d keys, want %d (first %v)", len(got), len(want), keysOf(got)[:min(5, len(got))])
	}
	for _, info := range got {
		if info.Key == "a/0009" && (info.Size != 9 || info.Version != v+1) {
			t.Errorf("a/0009 listed as %+v, want the newest (size 9)", info)
		}
	}

	// Pages of 7 through another coordinator add up to the same list.
	var paged []string
	after := ""
	for {
		page, err := tc.node("n3").c.List(ctx, "a/00", after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, keysOf(page)...)
		after = page[len(page)-1].Key
	}
	if !slices.Equal(paged, want[:99]) { // a/0000..a/0099 less a/0007
		t.Errorf("paged listing gave %d keys, want %d", len(paged), 99)
	}

	// One member down (N-R = 1 may be): still complete.
	tc.setDead("n2")
	got, err = tc.node("n1").c.List(ctx, "a/", "a/2000", 10000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keysOf(got), want[2000:]) {
		t.Errorf("with n2 down: %d keys, want %d", len(got), len(want[2000:]))
	}
	// Two down: some keys may have no answering home left.
	tc.setDead("n3")
	if _, err := tc.node("n1").c.List(ctx, "a/", "", 10); !errors.Is(err, replication.ErrNoQuorum) {
		t.Errorf("List with two members down = %v, want ErrNoQuorum", err)
	}
}

func TestJustBefore(t *testing.T) {
	for _, p := range []string{"a", "a/", "photos/2024", "x\x01", "é"} {
		b := justBefore(p)
		if b >= p {
			t.Errorf("justBefore(%q) = %q, not before it", p, b)
		}
	}
}
