package cluster

import (
	"bytes"
	"context"
	"testing"
)

// markCorrupt marks id's entry for key corrupt, as its store's scrub does
// (in the index only: no apply, so the digests do not see it).
func markCorrupt(t *testing.T, tc *bgCluster, id, key string) uint64 {
	t.Helper()
	version, ok := tc.nodes[id].local.markCorrupt(key)
	if !ok {
		t.Fatalf("%s has no %q", id, key)
	}
	return version
}

// TestRepairCorruptCopiesFromAReplica: a key the local scrub found corrupt
// (RepairCorrupt, which cmd wires to blockstore's OnCorrupt) is copied back
// at its version from another home, without a read or an anti-entropy
// round; the queue is the read repairs' bounded one.
func TestRepairCorruptCopiesFromAReplica(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.rebuild()
	want := writeKeys(tc, "n1", testKeys(10), 1)
	key := "key-0004"
	n2 := tc.nodes["n2"]
	version := markCorrupt(t, tc, "n2", key)
	if version != want[key].version {
		t.Fatalf("n2 held %q at %d, want %d", key, version, want[key].version)
	}

	n2.c.RepairCorrupt(key, version)
	bg := n2.c.bg
	select {
	case req := <-bg.repairs:
		bg.repairOne(context.Background(), req)
	default:
		t.Fatal("RepairCorrupt queued nothing")
	}
	e, data := n2.local.entry(key)
	if e.Corrupt || e.Version != version || !bytes.Equal(data, want[key].data) {
		t.Fatalf("n2 after repair: %+v %q, want %q at %d, not corrupt", e, data, want[key].data, version)
	}
	if st := bg.status(); st.RepairsQueued != 1 || st.RepairsDone != 1 {
		t.Errorf("repairs queued %d done %d, want 1 1", st.RepairsQueued, st.RepairsDone)
	}
	// Bounded: past the queue's length requests are dropped and counted.
	for range repairQueueLength + 3 {
		n2.c.RepairCorrupt(key, version)
	}
	if st := bg.status(); st.RepairsDropped != 3 {
		t.Errorf("repairs dropped %d, want 3", st.RepairsDropped)
	}
}
