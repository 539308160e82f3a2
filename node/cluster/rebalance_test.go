package cluster

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strata/blockstore"
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
	n4.c.opts.SetDraining = gossipDraining(tc, "n4")
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
	n4.c.opts.SetDraining = gossipDraining(tc, "n4")
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

// A view change while a pass is moving an entry: the drop is decided
// under the current view, not the one the pass started with. Here the
// pass starts with n4 placed (n1 no longer a home of the key) and, while
// it confirms the new homes, n4 starts draining: n1 is a home again and
// keeps its copy.
func TestRebalanceKeepsTheCopyWhenAViewChangeMakesItAHomeAgain(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.join("n4")
	key := keyHomedOn(t, tc, "n1", []string{"n2", "n3", "n4"})
	tc.world.update("n4", func(m *membership.Member) { m.Draining = true })
	tc.refresh()
	version := tc.write("n2", key, []byte("v1")) // homes n1, n2, n3
	tc.world.update("n4", func(m *membership.Member) { m.Draining = false })
	tc.refresh()
	// The pass starts under that view; the first lookup of a new home
	// flips n4 back to draining.
	var once sync.Once
	tc.net.onLookup = func(addr, k string) {
		if k == key {
			once.Do(func() {
				tc.world.update("n4", func(m *membership.Member) { m.Draining = true })
				tc.refresh()
			})
		}
	}
	if _, err := tc.nodes["n1"].c.bg.rebalancePass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if homes := tc.homesOf("n1", key); !slices.Contains(homes, "n1") {
		t.Fatalf("homes after the change %v, want n1 among them", homes)
	}
	if e, _ := tc.nodes["n1"].entry(key); e.Version != version {
		t.Fatalf("n1, a home again, dropped its copy (holds version %d, want %d)", e.Version, version)
	}
	if st := tc.nodes["n1"].c.bg.status(); st.KeysMoving != 0 {
		t.Errorf("keys moving %d for a key n1 is a home of again", st.KeysMoving)
	}
}

// A view change that replaces a confirmed new home with another: the
// drop waits until the current homes confirmed.
func TestRebalanceDropsOnlyOnceTheCurrentHomesConfirmed(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	tc.join("n4")
	tc.join("n5")
	// Under {n1..n5} the key's homes are n2, n3, n4; without n4 (draining)
	// they are n2, n3, n5; without n4 and n5 they are n1, n2, n3.
	key := ""
	for i := range 100000 {
		k := fmt.Sprintf("swap-%d", i)
		if homesWithout(tc, k, nil) == "n2,n3,n4" && homesWithout(tc, k, []string{"n4"}) == "n2,n3,n5" && homesWithout(tc, k, []string{"n4", "n5"}) == "n1,n2,n3" {
			key = k
			break
		}
	}
	if key == "" {
		t.Fatal("no key with the homes this test needs")
	}
	setDraining(tc, true, "n4", "n5")
	version := tc.write("n2", key, []byte("v1")) // homes n1, n2, n3
	setDraining(tc, false, "n4", "n5")
	var once sync.Once
	tc.net.onLookup = func(addr, k string) {
		if k == key {
			once.Do(func() { setDraining(tc, true, "n4") }) // homes now n2, n3, n5
		}
	}
	left, err := tc.nodes["n1"].c.bg.rebalancePass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := tc.nodes["n5"].entry(key); e.Version != version {
		if e, _ := tc.nodes["n1"].entry(key); e.Version != version {
			t.Fatalf("n1 dropped %q while n5, a current home, does not hold it", key)
		}
		if left != 1 {
			t.Errorf("pass left %d, want the key left to move", left)
		}
	}
	// The next pass (the view change woke one) moves it for good.
	tc.net.onLookup = nil
	if left, err := tc.nodes["n1"].c.bg.rebalancePass(context.Background()); err != nil || left != 0 {
		t.Fatalf("second pass: %d left, %v", left, err)
	}
	if got := tc.holders(key, version); !slices.Equal(got, []string{"n2", "n3", "n4", "n5"}) && !slices.Equal(got, []string{"n2", "n3", "n5"}) {
		t.Errorf("%q held by %v, want n2, n3, n5 (and n4, draining, until it drains)", key, got)
	}
}

// keyHomedOn finds a key whose homes are want under the current view and
// that self was a home of without the members not in it.
func keyHomedOn(t *testing.T, tc *bgCluster, self string, want []string) string {
	t.Helper()
	for i := range 100000 {
		k := fmt.Sprintf("moving-%d", i)
		if homesWithout(tc, k, nil) == strings.Join(want, ",") && slices.Contains(strings.Split(homesWithout(tc, k, []string{want[len(want)-1]}), ","), self) {
			return k
		}
	}
	t.Fatalf("no key with homes %v", want)
	return ""
}

// homesWithout is key's sorted homes over the world's members except
// those in without.
func homesWithout(tc *bgCluster, key string, without []string) string {
	var ms []membership.Member
	for _, m := range tc.nodes["n1"].c.currentView().members {
		if !slices.Contains(without, m.ID) {
			m.Draining = false
			ms = append(ms, m)
		}
	}
	v, err := newView(ms[0], ms)
	if err != nil {
		tc.t.Fatal(err)
	}
	var ids []string
	for _, h := range v.homes(key, 3) {
		ids = append(ids, h.ID)
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

func setDraining(tc *bgCluster, draining bool, ids ...string) {
	for _, id := range ids {
		tc.world.update(id, func(m *membership.Member) { m.Draining = draining })
	}
	tc.refresh()
}

// A coordinator that has not heard of a drain yet still sends the
// draining node writes. Drain waits until every reachable member's view
// has it draining, then moves what arrived meanwhile: here n2, with a
// stale view, writes a key through n1 (draining) and n2 while n3 is dead;
// after the drain and the leave, at least W of the key's new homes hold
// it.
func TestDrainMovesWritesFromCoordinatorsThatHaveNotSeenIt(t *testing.T) {
	tc := newBGCluster(t, 4, nil)
	tc.rebuild()
	key := ""
	for i := range 100000 {
		if k := fmt.Sprintf("late-%d", i); homesWithout(tc, k, nil) == "n1,n2,n3" {
			key = k
			break
		}
	}
	if key == "" {
		t.Fatal("no key homed on n1, n2, n3")
	}
	tc.stop("n3")
	n1 := tc.nodes["n1"]
	n1.c.opts.SetDraining = func(draining bool) error {
		tc.world.update("n1", func(m *membership.Member) { m.Draining = draining })
		// Gossip reaches n1, n3 and n4 at once; n2 hears of it later.
		for _, id := range []string{"n1", "n3", "n4"} {
			if err := tc.nodes[id].c.refreshView(); err != nil {
				return err
			}
			if id != "n1" {
				if err := tc.nodes[id].c.bg.rebuildDigests(context.Background()); err != nil {
					return err
				}
			}
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout) // a deadline, not a timed assertion
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n1.c.Drain(ctx) }()
	var drainErr error
	drained := false
	poll.Until(t, "the drain to end or to wait for n2's view", func() bool {
		select {
		case drainErr = <-done:
			drained = true
			return true
		default:
			return slices.Contains(n1.c.bg.status().DrainWaitingOn, "n2")
		}
	})
	// n2 still places n1: the write goes to n1 and n2, and n3 is hinted.
	data := []byte("written while n1 drains")
	info, err := tc.nodes["n2"].c.Put(ctx, key, bytes.NewReader(data), int64(len(data)), blockstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tc.holders(key, info.Version); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Fatalf("the write is on %v, want n1 and n2", got)
	}
	// n2 hears of the drain; n3 comes back.
	if err := tc.nodes["n2"].c.refreshView(); err != nil {
		t.Fatal(err)
	}
	if err := tc.nodes["n2"].c.bg.rebuildDigests(ctx); err != nil {
		t.Fatal(err)
	}
	tc.restart("n3")
	if !drained {
		poll.Until(t, "Drain to return", func() bool {
			select {
			case drainErr = <-done:
				return true
			default:
				return false
			}
		})
	}
	if drainErr != nil {
		t.Fatal(drainErr)
	}
	// n1 leaves with whatever it still holds.
	tc.net.setDown("n1", true)
	tc.world.update("n1", func(m *membership.Member) { m.State = membership.Left })
	tc.refresh()
	var held []string
	for _, id := range tc.homesOf("n2", key) {
		if e, _ := tc.nodes[id].entry(key); e.Version == info.Version && !e.Deleted {
			held = append(held, id)
		}
	}
	if len(held) < 2 {
		t.Fatalf("after n1 left, only %v of the new homes %v hold the acknowledged write, want at least W=2", held, tc.homesOf("n2", key))
	}
}

// A replica write that lands on a node after it stopped being a home (the
// coordinator's view is older) is moved to the key's homes without
// waiting for another view change: the node runs its rebalancing loop,
// has finished its pass, and then gets the write.
func TestWriteOnANonHomeIsMovedWithoutAViewChange(t *testing.T) {
	tc := newBGCluster(t, 3, func(o *Options) { o.AntiEntropyInterval = time.Hour })
	// n4 joins; n1, n3 and n4 hear of it, n2 not yet.
	tc.world.add(membership.Member{ID: "n4", HTTPAddr: "n4", Weight: 1, State: membership.Alive})
	tc.addNode("n4")
	for _, id := range []string{"n1", "n3", "n4"} {
		if err := tc.nodes[id].c.refreshView(); err != nil {
			t.Fatal(err)
		}
	}
	key := ""
	for i := range 100000 {
		k := fmt.Sprintf("stale-%d", i)
		if homesWithout(tc, k, nil) == "n2,n3,n4" && homesWithout(tc, k, []string{"n4"}) == "n1,n2,n3" {
			key = k
			break
		}
	}
	if key == "" {
		t.Fatal("no key with the homes this test needs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout) // a deadline, not a timed assertion
	defer cancel()
	n1 := tc.nodes["n1"]
	n1.c.Start(ctx)
	poll.Until(t, "n1's first rebalance pass", func() bool { return n1.c.bg.status().RebalancePasses >= 1 })
	data := []byte("from a stale coordinator")
	info, err := tc.nodes["n2"].c.Put(ctx, key, bytes.NewReader(data), int64(len(data)), blockstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the key to move from n1 to n4", func() bool {
		return slices.Equal(tc.holders(key, info.Version), []string{"n2", "n3", "n4"})
	})
}

// gossipDraining is a SetDraining hook for node id: the flag reaches every
// node's view at once, and each other node rebuilds its digests under the
// new view, as its digest loop would.
func gossipDraining(tc *bgCluster, id string) func(bool) error {
	return func(draining bool) error {
		tc.world.update(id, func(m *membership.Member) { m.Draining = draining })
		for _, other := range tc.ids() {
			nd := tc.nodes[other]
			if err := nd.c.refreshView(); err != nil {
				return err
			}
			if other != id {
				if err := nd.c.bg.rebuildDigests(context.Background()); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// A write that lands on the draining node during its last pass (a request
// sent before its coordinator heard of the drain) makes Drain pass again
// rather than return with it.
func TestDrainPassesAgainWhenAWriteLandsDuringItsPass(t *testing.T) {
	tc := newBGCluster(t, 4, nil)
	tc.rebuild()
	writeKeys(tc, "n2", testKeys(50), 1)
	n4 := tc.nodes["n4"]
	if n4.local.len() == 0 {
		t.Fatal("n4 holds nothing to drain")
	}
	n4.c.opts.SetDraining = gossipDraining(tc, "n4")
	late := "aaa-late" // sorts before every key the pass walks: it has passed it
	var once sync.Once
	var lateErr error
	tc.net.onLookup = func(addr, key string) {
		if key != late {
			once.Do(func() {
				_, lateErr = n4.c.ApplyPut(context.Background(), late, bytes.NewReader([]byte("late")), 4, blockstore.PutOptions{Version: n4.c.opts.Local.NextVersion()})
			})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), poll.Timeout) // a deadline, not a timed assertion
	defer cancel()
	if err := n4.c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if lateErr != nil {
		t.Fatal(lateErr)
	}
	if n := n4.local.len(); n != 0 {
		t.Fatalf("n4 still holds %d entries after Drain (the late write among them: %v)", n, slices.Contains(tc.anyHolders(late), "n4"))
	}
	if got := tc.anyHolders(late); len(got) != 3 {
		t.Errorf("the late write is on %v, want its three homes", got)
	}
}

// anyHolders lists the nodes holding any entry for key.
func (tc *bgCluster) anyHolders(key string) []string {
	var out []string
	for _, id := range tc.ids() {
		if e, _ := tc.nodes[id].entry(key); e.Version != 0 {
			out = append(out, id)
		}
	}
	return out
}
