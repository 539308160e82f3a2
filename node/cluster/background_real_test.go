package cluster

import (
	"context"
	"path/filepath"
	"testing"

	"strata/blockstore"
)

// bgRealLocal opens a small tiered store under dir for one node, closed when
// the test ends.
func bgRealLocal(t *testing.T, dir string) Local {
	t.Helper()
	return openTieredLocal(t, dir, blockstore.Options{
		DataDirs: []string{filepath.Join(dir, "hdd")}, IndexDir: filepath.Join(dir, "index"),
		VolumeSize: 16 << 20, ChunkSize: 256 << 10, MaxBlobSize: 4 << 20,
	})
}

// TestBackgroundOverRealStores runs hints, anti-entropy and a join's
// rebalancing over real tiered stores (blockstore's last writer wins,
// tombstones, Scan and Drop), not the fake.
func TestBackgroundOverRealStores(t *testing.T) {
	base := t.TempDir()
	tc := newBGClusterWith(t, 3, nil, func(id string) Local { return bgRealLocal(t, filepath.Join(base, id)) })
	tc.rebuild()
	tc.stop("n3")
	want := writeKeys(tc, "n1", testKeys(40), 1)
	for _, k := range []string{"key-0001", "key-0011", "key-0021"} {
		want[k] = written{version: tc.write("n1", k, nil)}
	}
	tc.restart("n3")
	tc.replay()
	assertHoldsAll(t, tc, "n3", want)
	if st := tc.nodes["n1"].c.bg.status(); len(st.HintsPending) != 0 {
		t.Fatalf("hints left after replay: %v", st.HintsPending)
	}
	tc.antiEntropy()
	for _, id := range tc.ids() {
		assertHoldsAll(t, tc, id, want)
	}

	guardCopies(t, tc, 3)
	tc.join("n4")
	tc.nodes["n4"].onDrop = tc.nodes["n1"].onDrop
	tc.rebuild()
	for _, id := range []string{"n1", "n2", "n3"} {
		if left, err := tc.nodes[id].c.bg.rebalancePass(context.Background()); err != nil || left != 0 {
			t.Fatalf("%s rebalance: %d left, %v", id, left, err)
		}
	}
	assertPlacedExactly(t, tc, "n1", want)
	assertHoldsAll(t, tc, "n4", want)
	tc.rebuild() // digests of the stores as they are now
	assertConvergedOn(t, tc, false)
}
