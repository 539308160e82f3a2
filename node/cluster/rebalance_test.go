package cluster

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"strata/internal/poll"

	"strata/node/membership"
)

// guardCopies makes every Drop in tc check that the key keeps at least n
// copies at the dropped version or newer on the other nodes at that instant.
func guardCopies(t *testing.T, tc *bgCluster, n int) *atomic.Int64 {
	var drops atomic.Int64
	for _, id := range tc.ids() {
		self := id
		tc.nodes[id].onDrop = func(key string, version uint64) {
			drops.Add(1)
			others := 0
			for _, h := range tc.holders(key, version) {
				if h != self {
					others++
				}
			}
			if others < n {
				t.Errorf("%s drops %q at %d while only %d other nodes hold it, want >= %d", self, key, version, others, n)
			}
		}
	}
	return &drops
}

// assertPlacedExactly checks that every key is held at its version by
// exactly its homes under view of node viewer, and by nobody else.
func assertPlacedExactly(t *testing.T, tc *bgCluster, viewer string, want map[string]written) {
	t.Helper()
	bad := 0
	for k, w := range want {
		homes := tc.homesOf(viewer, k)
		slices.Sort(homes)
		holders := tc.holders(k, w.version)
		if !slices.Equal(holders, homes) {
			if bad++; bad <= 3 {
				t.Errorf("%q held by %v, want its homes %v", k, holders, homes)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d keys not on exactly their homes", bad, len(want))
	}
}

func TestJoiningMemberGetsItsKeysAndOldOwnersDropOnlyAfter(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.rebuild()
	want := writeKeys(tc, "n1", testKeys(300), 1)
	drops := guardCopies(t, tc, 3)
	n4 := tc.join("n4")
	n4.onDrop = tc.nodes["n1"].onDrop // n4 drops nothing, but guard it too
	tc.rebuild()
	moved := 0
	for _, k := range testKeys(300) {
		if slices.Contains(tc.homesOf("n1", k), "n4") {
			moved++
		}
	}
	if moved < 150 || moved > 300 {
		t.Fatalf("n4 is home to %d of 300 keys; want about 3/4 of them", moved)
	}
	ctx := context.Background()
	for _, id := range []string{"n1", "n2", "n3"} {
		left, err := tc.nodes[id].c.bg.rebalancePass(ctx)
		if err != nil || left != 0 {
			t.Fatalf("%s rebalance: %d left, %v", id, left, err)
		}
	}
	if int(drops.Load()) != moved {
		t.Errorf("%d drops, want one per moved key (%d)", drops.Load(), moved)
	}
	assertPlacedExactly(t, tc, "n1", want)
	assertHoldsAll(t, tc, "n4", want)
	var keysMoved uint64
	for _, id := range []string{"n1", "n2", "n3"} {
		st := tc.nodes[id].c.bg.status()
		keysMoved += st.KeysMoved
		if st.KeysMoving != 0 {
			t.Errorf("%s still has %d keys moving", id, st.KeysMoving)
		}
	}
	if int(keysMoved) != moved {
		t.Errorf("keys moved %d, want %d", keysMoved, moved)
	}
	assertConverged(t, tc)
}

func TestRebalanceKeepsTheCopyWhileANewHomeIsDown(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	want := writeKeys(tc, "n1", testKeys(100), 1)
	guardCopies(t, tc, 3)
	tc.join("n4")
	tc.stop("n4")
	left, err := tc.nodes["n1"].c.bg.rebalancePass(context.Background())
	if err != nil || left == 0 {
		t.Fatalf("pass with the new home down: %d left, %v; want keys left", left, err)
	}
	if st := tc.nodes["n1"].c.bg.status(); st.KeysMoving != int64(left) {
		t.Errorf("keys moving %d, want %d", st.KeysMoving, left)
	}
	for k, w := range want {
		if len(tc.holders(k, w.version)) < 3 {
			t.Fatalf("%q lost copies while n4 was down", k)
		}
	}
	tc.restart("n4")
	for _, id := range []string{"n1", "n2", "n3"} {
		if left, err := tc.nodes[id].c.bg.rebalancePass(context.Background()); err != nil || left != 0 {
			t.Fatalf("%s pass with n4 back: %d left, %v", id, left, err)
		}
	}
	assertPlacedExactly(t, tc, "n1", want)
}

func TestDrainMovesEverythingOff(t *testing.T) {
	tc := newBGCluster(t, 4, nil)
	tc.rebuild()
	want := writeKeys(tc, "n2", testKeys(200), 1)
	want["key-0005"] = written{version: tc.write("n2", "key-0005", nil)} // a tombstone moves as a tombstone
	if tc.nodes["n4"].local.len() == 0 {
		t.Fatal("n4 holds nothing to drain")
	}
	guardCopies(t, tc, 3)
	n4 := tc.nodes["n4"]
	n4.c.opts.SetDraining = func(draining bool) error {
		tc.world.update("n4", func(m *membership.Member) { m.Draining = draining })
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout) // a deadline, not a timed assertion
	defer cancel()
	if err := n4.c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := n4.local.len(); n != 0 {
		t.Fatalf("n4 still holds %d entries after Drain", n)
	}
	tc.refresh()
	assertPlacedExactly(t, tc, "n1", want)
	if st := n4.c.bg.status(); st.KeysMoving != 0 || st.KeysMoved == 0 {
		t.Errorf("n4 status: %d moving, %d moved", st.KeysMoving, st.KeysMoved)
	}
}

func TestDrainWithoutHookRefuses(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	if err := tc.nodes["n1"].c.Drain(context.Background()); err == nil {
		t.Fatal("Drain without Options.SetDraining succeeded")
	}
}

func TestDrainWaitsForADownHome(t *testing.T) {
	tc := newBGCluster(t, 4, nil)
	want := writeKeys(tc, "n2", testKeys(100), 1)
	guardCopies(t, tc, 3)
	n4 := tc.nodes["n4"]
	n4.c.opts.SetDraining = func(draining bool) error {
		tc.world.update("n4", func(m *membership.Member) { m.Draining = draining })
		return nil
	}
	tc.stop("n1")
	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n4.c.Drain(ctx) }()
	poll.Until(t, "a drain pass that leaves keys for n1", func() bool {
		st := n4.c.bg.status()
		return st.RebalancePasses >= 2 && st.KeysMoving > 0
	})
	select {
	case err := <-done:
		t.Fatalf("Drain returned (%v) while n1, a new home, is down", err)
	default:
	}
	tc.restart("n1")
	var err error
	poll.Until(t, "Drain to return once n1 is back", func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := n4.local.len(); n != 0 {
		t.Fatalf("n4 still holds %d entries", n)
	}
	tc.refresh()
	assertPlacedExactly(t, tc, "n1", want)
}
