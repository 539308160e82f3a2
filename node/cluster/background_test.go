package cluster

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"strata/blockstore"
	"strata/internal/poll"
	"strata/node/membership"
	"strata/node/replication"
)

// writeKeys writes every key through coord and returns the version and
// bytes each key was written with.
func writeKeys(tc *bgCluster, coord string, keys []string, gen int) map[string]written {
	out := make(map[string]written, len(keys))
	for _, k := range keys {
		data := fmt.Appendf(nil, "%s gen %d", k, gen)
		out[k] = written{version: tc.write(coord, k, data), data: data}
	}
	return out
}

type written struct {
	version uint64
	data    []byte // nil: a delete
}

// assertHoldsAll fails unless node id holds every written key itself, at
// its version, with its bytes (or its tombstone), for every key id is a
// home of.
func assertHoldsAll(t *testing.T, tc *bgCluster, id string, want map[string]written) {
	t.Helper()
	missing := 0
	for k, w := range want {
		if !slices.Contains(tc.homesOf(id, k), id) {
			continue
		}
		e, data := tc.nodes[id].entry(k)
		switch {
		case e.Version != w.version:
			missing++
			if missing <= 3 {
				t.Errorf("%s: %q at version %d, want %d", id, k, e.Version, w.version)
			}
		case w.data == nil && !e.Deleted:
			t.Errorf("%s: %q is not deleted", id, k)
		case w.data != nil && !bytes.Equal(data, w.data):
			t.Errorf("%s: %q holds %q, want %q", id, k, data, w.data)
		}
	}
	if missing > 0 {
		t.Errorf("%s lacks %d of the keys it is home to", id, missing)
	}
}

func TestReplicaDownGetsHintsAndHoldsEveryKeyAfterReplay(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.rebuild()
	tc.stop("n3")
	want := writeKeys(tc, "n1", testKeys(60), 1)
	st := tc.nodes["n1"].c.bg.status()
	if st.HintsPending["n3"] != 60 || st.HintsStored != 60 {
		t.Fatalf("hints pending for n3: %d (stored %d), want 60", st.HintsPending["n3"], st.HintsStored)
	}
	tc.replay() // n3 still down: nothing moves
	if got := tc.nodes["n1"].c.bg.status().HintsPending["n3"]; got != 60 {
		t.Fatalf("replay to a dead member: %d hints left, want 60", got)
	}
	tc.restart("n3")
	tc.replay() // hints alone, no anti-entropy
	assertHoldsAll(t, tc, "n3", want)
	st = tc.nodes["n1"].c.bg.status()
	if st.HintsPending["n3"] != 0 || st.HintBytes != 0 || st.HintsReplayed != 60 {
		t.Errorf("after replay: %d pending, %d bytes, %d replayed; want 0, 0, 60", st.HintsPending["n3"], st.HintBytes, st.HintsReplayed)
	}
}

func TestHintsReplayOldestFirstAndDropWhatTheTargetHolds(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.stop("n3")
	v1 := tc.write("n1", "k", []byte("one"))
	v2 := tc.write("n1", "k", []byte("two"))
	hints, err := tc.nodes["n1"].c.bg.hints.oldest("n3", 10)
	if err != nil || len(hints) != 2 || hints[0].Version != v1 || hints[1].Version != v2 {
		t.Fatalf("hints for n3: %+v, %v; want versions %d then %d", hints, err, v1, v2)
	}
	tc.restart("n3")
	putsBefore := tc.net.puts.Load()
	tc.replay()
	e, data := tc.nodes["n3"].local.entry("k")
	if e.Version != v2 || string(data) != "two" {
		t.Fatalf("n3 holds %q at %d, want two at %d", data, e.Version, v2)
	}
	if p := tc.net.puts.Load() - putsBefore; p != 1 {
		t.Errorf("replay sent %d copies; the first hint copies the current version, the second finds it held", p)
	}
}

func TestHintReplayStopsAtAFailingTarget(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.stop("n3")
	writeKeys(tc, "n1", testKeys(10), 1)
	// Gossip says n3 is back, but its requests fail (flapping).
	tc.world.update("n3", func(m *membership.Member) { m.State = membership.Alive })
	tc.refresh()
	var lookups atomic.Int64
	tc.net.lookups = map[string]*atomic.Int64{"n3": &lookups}
	tc.nodes["n1"].c.bg.replayHints(context.Background(), func() bool { return true })
	if n := lookups.Load(); n != 1 {
		t.Errorf("%d requests to a failing target; want the first failure to stop its batch", n)
	}
	if got := tc.nodes["n1"].c.bg.status().HintsPending["n3"]; got != 10 {
		t.Errorf("%d hints left, want 10", got)
	}
}

func TestHintStoreIsBoundedAndSurvivesRestart(t *testing.T) {
	bound := 10 * replication.HintBytes("key-0000")
	tc := newBGCluster(t, 3, func(o *Options) { o.HintsMaxBytes = bound })
	tc.stop("n3")
	writeKeys(tc, "n1", testKeys(25), 1)
	st := tc.nodes["n1"].c.bg.status()
	if st.HintsPending["n3"] != 10 || st.HintsDropped != 15 || st.HintBytes != bound {
		t.Fatalf("bounded store: %d pending, %d dropped, %d bytes; want 10, 15, %d", st.HintsPending["n3"], st.HintsDropped, st.HintBytes, bound)
	}
	// Reopen the file: the count and the bound carry over.
	n1 := tc.nodes["n1"]
	if err := n1.c.bg.hints.close(); err != nil {
		t.Fatal(err)
	}
	hs, err := openHintStore(n1.c.opts.HintsPath, bound)
	if err != nil {
		t.Fatal(err)
	}
	n1.c.bg.hints = hs
	if pending, used := hs.pending(); pending["n3"] != 10 || used != bound {
		t.Fatalf("after reopen: %v pending, %d bytes; want 10, %d", pending, used, bound)
	}
	if ok, err := hs.add(context.Background(), "n3", replication.Hint{Key: "key-9999", Version: 1}); ok || err != nil {
		t.Errorf("add past the bound after reopen: %v, %v; want refused", ok, err)
	}
}

func TestAntiEntropyAloneRefillsAReplicaThatMissedWrites(t *testing.T) {
	tc := newBGCluster(t, 3, func(o *Options) { o.HintsPath = "" }) // hints off: every hint dropped
	tc.rebuild()
	tc.stop("n3")
	want := writeKeys(tc, "n1", testKeys(80), 1)
	if st := tc.nodes["n1"].c.bg.status(); st.HintsDropped != 80 || len(st.HintsPending) != 0 {
		t.Fatalf("hints off: %d dropped, %v pending; want 80 dropped", st.HintsDropped, st.HintsPending)
	}
	tc.restart("n3")
	tc.antiEntropy()
	assertHoldsAll(t, tc, "n3", want)
	assertConverged(t, tc)
}

// assertConverged checks that every pair's digests agree and that one more
// round of anti-entropy copies nothing and lists no entries.
func assertConverged(t *testing.T, tc *bgCluster) {
	t.Helper()
	assertConvergedOn(t, tc, true)
}

// assertConvergedOn is assertConverged; countWrites says whether the
// nodes' stores are fakes that count their writes.
func assertConvergedOn(t *testing.T, tc *bgCluster, countWrites bool) {
	t.Helper()
	for _, a := range tc.ids() {
		for _, b := range tc.ids() {
			if a == b {
				continue
			}
			da, errA := tc.nodes[a].c.bg.digest(context.Background(), b)
			db, errB := tc.nodes[b].c.bg.digest(context.Background(), a)
			if errA != nil || errB != nil {
				t.Fatalf("digests %s/%s: %v %v", a, b, errA, errB)
			}
			if diff, err := replication.DiffBuckets(da, db); err != nil || len(diff) != 0 {
				t.Errorf("digests of %s for %s and of %s for %s differ in %d buckets (%v)", a, b, b, a, len(diff), err)
			}
		}
	}
	writes := make(map[string]int64)
	for _, id := range tc.ids() {
		if countWrites {
			writes[id] = tc.nodes[id].local.writes.Load()
		}
	}
	entriesBefore, opensBefore := tc.net.entryCalls.Load(), tc.net.opens.Load()
	tc.antiEntropy()
	for _, id := range tc.ids() {
		if !countWrites {
			break
		}
		if w := tc.nodes[id].local.writes.Load(); w != writes[id] {
			t.Errorf("%s took %d writes in a round where nothing differs", id, w-writes[id])
		}
	}
	if e, o := tc.net.entryCalls.Load()-entriesBefore, tc.net.opens.Load()-opensBefore; e != 0 || o != 0 {
		t.Errorf("a round where nothing differs listed entries %d times and opened %d blobs", e, o)
	}
}

func TestWipedNodeRefillsByAntiEntropy(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.rebuild()
	want := writeKeys(tc, "n1", testKeys(120), 1)
	assertConverged(t, tc)
	tc.nodes["n2"].local.wipe()
	tc.nodes["n2"].c.bg.rebuildDigests(context.Background()) // the restart's rebuild
	tc.antiEntropy()
	assertHoldsAll(t, tc, "n2", want)
	st := tc.nodes["n2"].c.bg.status()
	if st.AntiEntropyKeysPulled != 120 {
		t.Errorf("n2 pulled %d keys, want 120 (three nodes, N=3: it is home to all)", st.AntiEntropyKeysPulled)
	}
	// n2 pulls from n1 first (rounds go in member order), then n3 has
	// nothing more to give.
	if r1, r3 := st.AntiEntropyPeers["n1"], st.AntiEntropyPeers["n3"]; r1.KeysPulled != 120 || r1.BucketsDiffering == 0 || r3.KeysPulled != 0 || r3.BucketsDiffering != 0 || r1.At.IsZero() {
		t.Errorf("n2's rounds: with n1 %+v, with n3 %+v", r1, r3)
	}
	assertConverged(t, tc)
	if r1 := tc.nodes["n2"].c.bg.status().AntiEntropyPeers["n1"]; r1.KeysPulled != 0 || r1.BucketsDiffering != 0 || r1.Error != "" {
		t.Errorf("n2's round with n1 once converged: %+v", r1)
	}
}

func TestCorruptCopyIsPulledAgain(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.rebuild()
	want := writeKeys(tc, "n1", testKeys(10), 1)
	n2 := tc.nodes["n2"]
	e, _ := n2.local.entry("key-0003")
	corrupt := e
	corrupt.Corrupt = true
	n2.local.mu.Lock()
	n2.local.entries["key-0003"] = &memEntry{e: corrupt, corruptAt: -1}
	n2.local.mu.Unlock()
	n2.c.bg.noteApplied("key-0003", e, corrupt) // as the store reports a failed checksum
	tc.antiEntropy()
	assertHoldsAll(t, tc, "n2", want)
	if got, _ := n2.local.entry("key-0003"); got.Corrupt {
		t.Error("the corrupt copy was not replaced")
	}
}

func TestDeleteWhileReplicaDownDoesNotComeBack(t *testing.T) {
	for _, c := range []struct {
		name  string
		hints bool
	}{{"hints", true}, {"anti-entropy alone", false}} {
		t.Run(c.name, func(t *testing.T) {
			tc := newBGCluster(t, 3, func(o *Options) {
				if !c.hints {
					o.HintsPath = ""
				}
			})
			tc.rebuild()
			want := writeKeys(tc, "n1", testKeys(20), 1)
			tc.stop("n3")
			for _, k := range []string{"key-0002", "key-0007"} {
				want[k] = written{version: tc.write("n1", k, nil)}
			}
			tc.restart("n3")
			// n3 holds the old blobs: rounds in every direction, and hint
			// replay, must leave the tombstones winning everywhere, and
			// nobody fetches the stale bytes.
			opensBefore := tc.net.opens.Load()
			defer func() {
				if o := tc.net.opens.Load() - opensBefore; o != 0 {
					t.Errorf("%d blobs opened to heal two deletes", o)
				}
			}()
			for range 2 {
				tc.replay()
				tc.antiEntropy()
			}
			for _, id := range tc.ids() {
				assertHoldsAll(t, tc, id, want)
				if _, err := tc.nodes[id].local.Stat(context.Background(), "key-0002"); err == nil {
					t.Errorf("%s serves the deleted key-0002", id)
				}
			}
			assertConverged(t, tc)
		})
	}
}

func TestTombstoneDroppableOnlyOnceEveryHomeHoldsIt(t *testing.T) {
	grace := 10 * 24 * time.Hour
	tc := newBGCluster(t, 3, func(o *Options) { o.TombstoneGrace = grace })
	tc.write("n1", "k", []byte("v"))
	tc.stop("n3")
	tc.write("n1", "k", nil)
	tomb, _ := tc.nodes["n1"].local.entry("k")
	if !tomb.Deleted {
		t.Fatal("n1 has no tombstone")
	}
	n1 := tc.nodes["n1"].c
	ctx := context.Background()
	if n1.TombstoneDroppable(ctx, tomb) {
		t.Fatal("droppable within the grace period")
	}
	tc.clock.advance(grace + time.Hour)
	if n1.TombstoneDroppable(ctx, tomb) {
		t.Fatal("droppable past the grace while n3 is down and lacks it")
	}
	tc.restart("n3")
	if n1.TombstoneDroppable(ctx, tomb) {
		t.Fatal("droppable past the grace while n3 holds the old blob")
	}
	tc.replay()
	if !n1.TombstoneDroppable(ctx, tomb) {
		t.Fatal("not droppable past the grace with every home holding it")
	}
	// Every home holds a fresh tombstone at once: the clock alone keeps it.
	tc.write("n1", "k2", []byte("v"))
	tc.write("n1", "k2", nil)
	fresh, _ := tc.nodes["n1"].local.entry("k2")
	if n1.TombstoneDroppable(ctx, fresh) {
		t.Fatal("droppable within the grace although every home holds it")
	}
	tc.clock.advance(grace)
	if !n1.TombstoneDroppable(ctx, fresh) {
		t.Fatal("not droppable at the end of the grace with every home holding it")
	}
	live, _ := tc.nodes["n2"].local.Lookup(ctx, "k")
	live.Deleted = false
	if n1.TombstoneDroppable(ctx, live) {
		t.Error("a live entry reported droppable")
	}
}

func TestReadRepairCopiesTheNewestToStaleHomes(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.stop("n3")
	v := tc.write("n1", "k", []byte("new"))
	tc.restart("n3")
	bg := tc.nodes["n2"].c.bg
	bg.repair("k", v, []string{"n3"})
	bg.repairOne(context.Background(), <-bg.repairs)
	if e, data := tc.nodes["n3"].local.entry("k"); e.Version != v || string(data) != "new" {
		t.Fatalf("n3 after repair: %q at %d, want new at %d", data, e.Version, v)
	}
	if st := bg.status(); st.RepairsQueued != 1 || st.RepairsDone != 1 {
		t.Errorf("repairs queued %d done %d, want 1 1", st.RepairsQueued, st.RepairsDone)
	}
	// The queue is bounded: past it requests are dropped and counted.
	for range repairQueueLength + 5 {
		bg.repair("k", v, []string{"n3"})
	}
	if st := bg.status(); st.RepairsDropped != 5 {
		t.Errorf("repairs dropped %d, want 5", st.RepairsDropped)
	}
}

// TestLoopsHealAReturningReplica runs the real loops (Start) and waits,
// with a deadline, for a replica that missed writes to hold them all.
func TestLoopsHealAReturningReplica(t *testing.T) {
	tc := newBGCluster(t, 3, func(o *Options) { o.AntiEntropyInterval = 5 * time.Millisecond })
	ctx := context.Background()
	for _, id := range tc.ids() {
		tc.nodes[id].c.Start(ctx)
	}
	poll.Until(t, "digests built", func() bool {
		for _, id := range tc.ids() {
			if tc.nodes[id].c.bg.status().DigestRebuilds == 0 {
				return false
			}
		}
		return true
	})
	tc.stop("n3")
	want := writeKeys(tc, "n2", testKeys(30), 1)
	tc.restart("n3")
	poll.Until(t, "n3 holds every key", func() bool {
		for k, w := range want {
			if e, _ := tc.nodes["n3"].local.entry(k); e.Version != w.version {
				return false
			}
		}
		return true
	})
	poll.Until(t, "hints on n2 drained", func() bool { return len(tc.nodes["n2"].c.bg.status().HintsPending) == 0 })
}

func TestEntriesRejectsBadBuckets(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.rebuild()
	for _, b := range []int{-1, replication.DigestBuckets} {
		if _, err := tc.nodes["n1"].c.bg.entries(context.Background(), "n2", []int{b}, "", 10); err == nil {
			t.Errorf("bucket %d accepted", b)
		}
	}
	if _, err := tc.nodes["n1"].c.bg.digest(context.Background(), "stranger"); err == nil {
		t.Error("digest for a member that is not a peer")
	}
}

// TestDigestsFollowAppliesAsARebuildWould: after random writes, deletes,
// overwrites and drops through the replica side, every node's maintained
// digests equal the ones a rebuild from its index computes.
func TestDigestsFollowAppliesAsARebuildWould(t *testing.T) {
	tc := newBGCluster(t, 4, nil)
	tc.rebuild()
	rng := rand.New(rand.NewPCG(7, 7))
	keys := testKeys(150)
	for i := range 600 {
		k := keys[rng.IntN(len(keys))]
		coord := tc.ids()[rng.IntN(4)]
		switch rng.IntN(5) {
		case 0:
			tc.write(coord, k, nil)
		case 1: // a misplaced copy that rebalancing would drop
			nd := tc.nodes[coord]
			if e, _ := nd.local.entry(k); e.Version != 0 {
				if err := nd.local.Drop(context.Background(), k, e.Version); err == nil {
					nd.c.bg.noteApplied(k, e, blockstore.Entry{})
				}
			}
		default:
			tc.write(coord, k, fmt.Appendf(nil, "v%d", i))
		}
	}
	ctx := context.Background()
	for _, id := range tc.ids() {
		bg := tc.nodes[id].c.bg
		before := make(map[string]replication.Digest)
		for _, p := range tc.ids() {
			if p != id {
				before[p], _ = bg.digest(ctx, p)
			}
		}
		if err := bg.rebuildDigests(ctx); err != nil {
			t.Fatal(err)
		}
		for p, d := range before {
			after, _ := bg.digest(ctx, p)
			if diff, err := replication.DiffBuckets(d, after); err != nil || len(diff) != 0 {
				t.Errorf("%s's digest for %s: maintained and rebuilt differ in buckets %v (%v)", id, p, diff, err)
			}
		}
	}
}

func TestUndecodableHintRecordsAreDropped(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.stop("n3")
	tc.write("n1", "k", []byte("v"))
	n1 := tc.nodes["n1"]
	err := n1.c.bg.hints.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("n3")).Put([]byte("garbage"), []byte{9, 9})
	})
	if err != nil {
		t.Fatal(err)
	}
	tc.restart("n3")
	tc.replay()
	if e, _ := tc.nodes["n3"].local.entry("k"); e.Version == 0 {
		t.Error("the good hint was not replayed past the bad record")
	}
	var left int
	n1.c.bg.hints.db.View(func(tx *bolt.Tx) error {
		left = tx.Bucket([]byte("n3")).Stats().KeyN
		return nil
	})
	if left != 0 {
		t.Errorf("%d records left for n3 after replay", left)
	}
}

// TestRandomHistoryConverges: random writes, overwrites and deletes from
// random coordinators while random nodes stop and return, with hint
// replays and anti-entropy rounds in between. Once everyone is back and a
// few rounds ran, every home of every key holds the newest version any
// node applied (blob bytes or tombstone): nothing acknowledged is lost and
// no deleted key comes back.
func TestRandomHistoryConverges(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			tc := newBGCluster(t, 4, nil)
			tc.rebuild()
			rng := rand.New(rand.NewPCG(seed, 99))
			keys := testKeys(40)
			newest := make(map[string]written)
			down := ""
			for i := range 300 {
				switch r := rng.IntN(20); {
				case r == 0 && down == "":
					down = tc.ids()[rng.IntN(4)]
					tc.stop(down)
				case r == 1 && down != "":
					tc.restart(down)
					down = ""
				case r == 2:
					tc.replay()
				case r == 3:
					tc.antiEntropy()
				default:
					k := keys[rng.IntN(len(keys))]
					coord := tc.ids()[rng.IntN(4)]
					if coord == down {
						continue
					}
					var data []byte
					if rng.IntN(4) != 0 {
						data = fmt.Appendf(nil, "%s op %d", k, i)
					}
					newest[k] = written{version: tc.write(coord, k, data), data: data}
				}
			}
			if down != "" {
				tc.restart(down)
			}
			for range 2 {
				tc.replay()
				tc.antiEntropy()
			}
			for _, id := range tc.ids() {
				assertHoldsAll(t, tc, id, newest)
			}
			assertConverged(t, tc)
		})
	}
}

// TestCoordinatorWritesHealTheReturningReplica goes through the real
// coordinator (Cluster.Put and Delete, with their quorum and their hints)
// rather than the tests' minimal one: with n3 down every write is
// acknowledged on W=2 and hinted, and after n3 returns, hints alone make
// it hold every key; a wiped n2 then refills by anti-entropy alone.
func TestCoordinatorWritesHealTheReturningReplica(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.rebuild()
	ctx := context.Background()
	tc.stop("n3")
	n1 := tc.nodes["n1"].c
	want := make(map[string]written)
	for _, k := range testKeys(30) {
		data := []byte("coordinated " + k)
		info, err := n1.Put(ctx, k, bytes.NewReader(data), int64(len(data)), blockstore.PutOptions{})
		if err != nil {
			t.Fatalf("put %s with one replica down: %v", k, err)
		}
		want[k] = written{version: info.Version, data: data}
	}
	for _, k := range []string{"key-0004", "key-0014"} {
		if err := n1.Delete(ctx, k, blockstore.DeleteOptions{}); err != nil {
			t.Fatalf("delete %s: %v", k, err)
		}
		e, _ := tc.nodes["n1"].entry(k)
		want[k] = written{version: e.Version}
	}
	n1.stragglers.Wait() // hints are stored once every replica answered (each bounded by ReplicaTimeout)
	if got := n1.bg.status().HintsPending["n3"]; got != 32 {
		t.Fatalf("%d hints for n3, want 32", got)
	}
	tc.restart("n3")
	tc.replay()
	assertHoldsAll(t, tc, "n3", want)

	tc.nodes["n2"].local.wipe()
	if err := tc.nodes["n2"].c.bg.rebuildDigests(ctx); err != nil {
		t.Fatal(err)
	}
	tc.antiEntropy()
	assertHoldsAll(t, tc, "n2", want)
	assertConverged(t, tc)
}
