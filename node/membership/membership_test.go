package membership

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"strata/internal/poll"
	"strata/internal/testport"
	"strata/ioengine"
)

var testSecret = []byte("test cluster secret")

// newNode builds a Membership on a free loopback port with loopback
// timing; edit changes the Options first. Close runs at cleanup.
func newNode(t *testing.T, id string, edit func(*Options)) *Membership {
	t.Helper()
	opts := Options{
		NodeID:   id,
		BindAddr: "127.0.0.1:0",
		HTTPAddr: "127.0.0.1:7" + strings.TrimPrefix(id, "n") + "00",
		Zone:     "zone-" + id,
		Weight:   1,
		Secret:   testSecret,
		Timing:   LoopbackTiming(),
	}
	if edit != nil {
		edit(&opts)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatalf("New(%s): %v", id, err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close(%s): %v", id, err)
		}
	})
	return m
}

// startNode is newNode, then Start.
func startNode(t *testing.T, id string, edit func(*Options)) *Membership {
	t.Helper()
	m := newNode(t, id, edit)
	if err := m.Start(t.Context()); err != nil {
		t.Fatalf("Start(%s): %v", id, err)
	}
	return m
}

func seeds(ms ...*Membership) func(*Options) {
	return func(o *Options) {
		for _, m := range ms {
			o.Seeds = append(o.Seeds, m.Self().GossipAddr)
		}
	}
}

// memberOf returns id as m sees it.
func memberOf(m *Membership, id string) (Member, bool) {
	for _, x := range m.Members() {
		if x.ID == id {
			return x, true
		}
	}
	return Member{}, false
}

// sees reports whether m holds id in state st.
func sees(m *Membership, id string, st State) bool {
	x, ok := memberOf(m, id)
	return ok && x.State == st
}

// allAlive reports whether every node sees every other one alive.
func allAlive(nodes ...*Membership) bool {
	for _, a := range nodes {
		for _, b := range nodes {
			if !sees(a, b.Self().ID, Alive) {
				return false
			}
		}
	}
	return true
}

func ids(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestOptionsRefused(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
		want error
	}{
		{"empty id", func(o *Options) { o.NodeID = "" }, ErrInvalidOptions},
		{"long id", func(o *Options) { o.NodeID = strings.Repeat("n", maxIDLen+1) }, ErrInvalidOptions},
		{"control character in id", func(o *Options) { o.NodeID = "n\x001" }, ErrInvalidOptions},
		{"empty secret", func(o *Options) { o.Secret = nil }, ErrNoSecret},
		{"no port", func(o *Options) { o.BindAddr = "127.0.0.1" }, ErrInvalidOptions},
		{"bad port", func(o *Options) { o.BindAddr = "127.0.0.1:99999" }, ErrInvalidOptions},
		{"bad advertise address", func(o *Options) { o.AdvertiseAddr = "nowhere" }, ErrInvalidOptions},
		{"host name to bind", func(o *Options) { o.BindAddr = "localhost:0" }, ErrInvalidOptions},
		{"host name to advertise", func(o *Options) { o.AdvertiseAddr = "localhost:7946" }, ErrInvalidOptions},
		{"negative weight", func(o *Options) { o.Weight = -1 }, ErrInvalidOptions},
		{"NaN weight", func(o *Options) { o.Weight = math.NaN() }, ErrInvalidOptions},
		{"zone too long", func(o *Options) { o.Zone = strings.Repeat("z", maxZoneLen+1) }, ErrInvalidOptions},
		{"control character in zone", func(o *Options) { o.Zone = "a\nb" }, ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{NodeID: "n1", BindAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:7070", Secret: testSecret}
			tt.edit(&opts)
			m, err := New(opts)
			if !errors.Is(err, tt.want) {
				if m != nil {
					m.Close()
				}
				t.Fatalf("New: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAloneNodeKnowsItself(t *testing.T) {
	m := newNode(t, "n1", func(o *Options) { o.Weight = 0 })
	self := m.Self()
	if self.ID != "n1" || self.State != Alive || self.Weight != 1 || self.Zone != "zone-n1" || self.HTTPAddr != "127.0.0.1:7100" {
		t.Fatalf("Self = %+v", self)
	}
	if _, port, err := net.SplitHostPort(self.GossipAddr); err != nil || port == "0" {
		t.Fatalf("GossipAddr %q: want the bound port (%v)", self.GossipAddr, err)
	}
	if got := m.Members(); len(got) != 1 || got[0] != self {
		t.Fatalf("Members = %+v, want only self", got)
	}
}

func TestJoinConvergesWithMetadata(t *testing.T) {
	t.Parallel()
	n1 := startNode(t, "n1", nil)
	n2 := startNode(t, "n2", seeds(n1))
	n3 := startNode(t, "n3", func(o *Options) { seeds(n2)(o); o.Weight = 2.5; o.Zone = "" })
	nodes := []*Membership{n1, n2, n3}
	var want []Member
	for _, n := range nodes {
		want = append(want, n.Self())
	}
	for _, n := range nodes {
		poll.Until(t, n.Self().ID+" sees all three alive with their metadata", func() bool {
			return slices.Equal(n.Members(), want)
		})
	}
	if got := ids(n3.Members()); !slices.IsSorted(got) {
		t.Fatalf("Members not sorted by ID: %v", got)
	}
	select {
	case <-n1.Changes():
	default:
		t.Fatal("n1's Changes was not signalled by the joins")
	}
}

func TestSeedsDownAtStartJoinLater(t *testing.T) {
	t.Parallel()
	seedAddr := freeLoopbackAddr(t)
	late := startNode(t, "n1", func(o *Options) { o.Seeds = []string{seedAddr} })
	if got := late.Members(); len(got) != 1 {
		t.Fatalf("before the seed is up: Members = %v, want only self", ids(got))
	}
	seed := startNode(t, "n2", func(o *Options) { o.BindAddr = seedAddr })
	poll.Until(t, "the late node joins the seed once it is up", func() bool {
		return sees(late, "n2", Alive) && sees(seed, "n1", Alive)
	})
}

// freeLoopbackAddr returns a loopback address nothing listens on now, for
// a node started later. The port is below the kernel's ephemeral range, so
// a node (or any test) binding port 0 meanwhile cannot be handed the same
// one; both TCP and UDP must be free there, as memberlist binds both.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	port, err := testport.Free("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// TestStoppedMemberIsDeadAndStays: a node that stops without a leave is
// declared dead (after memberlist's suspicion) and stays a member, still
// home to its keys, with its metadata.
func TestStoppedMemberIsDeadAndStays(t *testing.T) {
	t.Parallel()
	n1 := startNode(t, "n1", nil)
	n2 := startNode(t, "n2", seeds(n1))
	n3 := startNode(t, "n3", seeds(n1))
	want := n3.Self()
	poll.Until(t, "all see three alive", func() bool { return allAlive(n1, n2, n3) })
	if err := n3.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Membership{n1, n2} {
		poll.Until(t, n.Self().ID+" declares n3 dead", func() bool { return sees(n, "n3", Dead) })
		got, _ := memberOf(n, "n3")
		want.State = Dead
		if got != want {
			t.Fatalf("%s keeps n3 as %+v, want %+v", n.Self().ID, got, want)
		}
		if got.Reachable() {
			t.Fatalf("a dead member is reachable: %+v", got)
		}
	}
}

func TestLeaveRemovesMember(t *testing.T) {
	t.Parallel()
	// No reconnects to dead members, and push/pull (left records) only
	// every hour: this test is about the leaving flag.
	noReconnect := func(o *Options) { o.Timing.ReconnectInterval = time.Hour; o.Timing.PushPullInterval = time.Hour }
	n1 := startNode(t, "n1", noReconnect)
	n2 := startNode(t, "n2", func(o *Options) { noReconnect(o); seeds(n1)(o) })
	n3 := startNode(t, "n3", seeds(n1))
	poll.Until(t, "all see three alive", func() bool { return allAlive(n1, n2, n3) })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := n3.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if self := n3.Self(); self.State != Left {
		t.Fatalf("after Leave, Self = %+v, want Left", self)
	}
	if got := ids(n3.Members()); slices.Contains(got, "n3") {
		t.Fatalf("a left node lists itself: %v", got)
	}
	if err := n3.SetDraining(true); !errors.Is(err, ErrLeft) {
		t.Fatalf("SetDraining after Leave: %v, want ErrLeft", err)
	}
	for _, n := range []*Membership{n1, n2} {
		poll.Until(t, n.Self().ID+" removes n3", func() bool {
			_, ok := memberOf(n, "n3")
			return !ok
		})
	}
}

func TestDrainingIsGossiped(t *testing.T) {
	t.Parallel()
	n1 := startNode(t, "n1", nil)
	n2 := startNode(t, "n2", seeds(n1))
	poll.Until(t, "two alive", func() bool { return sees(n2, "n1", Alive) && sees(n1, "n2", Alive) })
	for _, draining := range []bool{true, false} {
		<-drained(n2.Changes())
		if err := n1.SetDraining(draining); err != nil {
			t.Fatal(err)
		}
		if got := n1.Self(); got.Draining != draining || got.Placed() == draining {
			t.Fatalf("Self after SetDraining(%v) = %+v", draining, got)
		}
		poll.Until(t, fmt.Sprintf("n2 sees n1 draining=%v", draining), func() bool {
			m, ok := memberOf(n2, "n1")
			return ok && m.Draining == draining && m.State == Alive
		})
		select {
		case <-n2.Changes():
		default:
			t.Fatal("n2's Changes was not signalled by the metadata update")
		}
	}
}

// drained empties a signal channel and returns a closed channel.
func drained(ch <-chan struct{}) <-chan struct{} {
	select {
	case <-ch:
	default:
	}
	done := make(chan struct{})
	close(done)
	return done
}

func TestWrongSecretCannotJoin(t *testing.T) {
	t.Parallel()
	n1 := startNode(t, "n1", nil)
	other := newNode(t, "n2", func(o *Options) { o.Secret = []byte("another secret") })
	n, err := other.ml.Join([]string{n1.Self().GossipAddr})
	if err == nil || n != 0 {
		t.Fatalf("join with another secret: contacted %d, err %v; want refused", n, err)
	}
	if got := ids(n1.Members()); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("n1's members after the attempt: %v", got)
	}
	if got := ids(other.Members()); !slices.Equal(got, []string{"n2"}) {
		t.Fatalf("the outsider's members after the attempt: %v", got)
	}
	if got := n1.ml.NumMembers(); got != 1 {
		t.Fatalf("n1's memberlist holds %d nodes, want 1", got)
	}
	// The same attempt with the right secret gets in: the secret is what
	// kept it out.
	insider := newNode(t, "n3", nil)
	if n, err := insider.ml.Join([]string{n1.Self().GossipAddr}); err != nil || n != 1 {
		t.Fatalf("join with the cluster secret: contacted %d, err %v", n, err)
	}
}

// TestRestartKnowsDownMembers: a restarted node knows the members from
// its state file at once, as Dead, rejoins through their addresses with
// no seeds, and gossip revives those that are up.
func TestRestartKnowsDownMembers(t *testing.T) {
	t.Parallel()
	statePath := filepath.Join(t.TempDir(), "members.json")
	withState := func(o *Options) { o.StatePath = statePath }
	n1 := startNode(t, "n1", withState)
	// n2 and n3 never reach out to a dead member and are never alone, so
	// the restarted n1 has to find them from its state file.
	quiet := func(o *Options) { o.Seeds = []string{n1.Self().GossipAddr}; o.Timing.ReconnectInterval = time.Hour }
	n2 := startNode(t, "n2", quiet)
	n3 := startNode(t, "n3", quiet)
	n4 := startNode(t, "n4", seeds(n1))
	poll.Until(t, "all see four alive", func() bool { return allAlive(n1, n2, n3, n4) })
	if err := n4.SetDraining(true); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "n1 sees n4 draining", func() bool { m, _ := memberOf(n1, "n4"); return m.Draining })
	want2, want3, want4 := n2.Self(), n3.Self(), n4.Self()
	n1Addr := n1.Self().GossipAddr
	for _, n := range []*Membership{n4, n1} {
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, "n2 and n3 see n1 dead", func() bool { return sees(n2, "n1", Dead) && sees(n3, "n1", Dead) })

	again := newNode(t, "n1", func(o *Options) { withState(o); o.BindAddr = n1Addr })
	want2.State, want3.State, want4.State = Dead, Dead, Dead
	want := []Member{again.Self(), want2, want3, want4}
	if got := again.Members(); !slices.Equal(got, want) {
		t.Fatalf("restarted, before gossip: Members =\n%+v\nwant\n%+v", got, want)
	}
	if err := again.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the restarted node rejoins through the persisted addresses", func() bool {
		return sees(again, "n2", Alive) && sees(again, "n3", Alive) && sees(n2, "n1", Alive) && sees(n3, "n1", Alive)
	})
	poll.Until(t, "n4, which is down, stays a dead member", func() bool { return sees(again, "n4", Dead) })
}

// TestLeaveOrDeath: memberlist reports a dead and a left node through
// one event; the leaving flag in the node's metadata, or a left record
// for that run of the node, tells them apart. Records from a peer remove
// a dead member of the same run only.
func TestLeaveOrDeath(t *testing.T) {
	m := newNode(t, "n1", nil)
	d := &delegates{m: m}
	node := func(id string, boot uint64, leaving bool) *memberlist.Node {
		meta, err := encodeMeta(nodeMeta{HTTPAddr: "h:1", Weight: 1, Boot: boot, Leaving: leaving})
		if err != nil {
			t.Fatal(err)
		}
		return &memberlist.Node{Name: id, Addr: net.IPv4(127, 0, 0, 1), Port: 1, Meta: meta}
	}
	for _, id := range []string{"crashed", "left", "alive", "dead", "restarted", "later"} {
		d.NotifyJoin(node(id, 7, false))
	}
	d.NotifyUpdate(node("left", 7, true))
	d.NotifyLeave(node("left", 7, true))       // flag: left
	d.NotifyLeave(node("crashed", 7, false))   // no flag, no record: dead
	d.NotifyLeave(node("dead", 7, false))      // dead, then a record comes
	d.NotifyLeave(node("restarted", 7, false)) // dead; the record is for an older run
	peer, err := encodeExchange([]leftRecord{
		{ID: "dead", Boot: 7, At: time.Now().UnixMilli()},
		{ID: "alive", Boot: 7, At: time.Now().UnixMilli()},
		{ID: "restarted", Boot: 6, At: time.Now().UnixMilli()},
		{ID: "later", Boot: 7, At: time.Now().UnixMilli()},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.MergeRemoteState(peer, false)
	d.NotifyLeave(node("later", 7, false)) // the record came before its leave
	got := map[string]State{}
	for _, x := range m.Members() {
		got[x.ID] = x.State
	}
	want := map[string]State{"n1": Alive, "crashed": Dead, "alive": Alive, "restarted": Dead}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("members: %v, want %v", got, want)
	}
	// What this node learnt, it passes on.
	recs, _, err := decodeExchange(d.LocalState(false))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs {
		names = append(names, fmt.Sprintf("%s/%d", r.ID, r.Boot))
	}
	if want := []string{"alive/7", "dead/7", "later/7", "left/7", "restarted/6"}; !slices.Equal(names, want) {
		t.Fatalf("left records passed on: %v, want %v", names, want)
	}
}

// TestLeftRecordsExpire: records older than LeftRetention are dropped,
// and past maxLeftRecords the oldest go.
func TestLeftRecordsExpire(t *testing.T) {
	now := time.UnixMilli(1_000_000_000_000)
	m := newNode(t, "n1", func(o *Options) { o.LeftRetention = 24 * time.Hour; o.Now = func() time.Time { return now } })
	kept := func() []leftRecord {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.leftRecords()
	}
	m.mergeLeft([]leftRecord{
		{ID: "old", Boot: 1, At: now.Add(-25 * time.Hour).UnixMilli()},
		{ID: "fresh", Boot: 1, At: now.Add(-23 * time.Hour).UnixMilli()},
	})
	if got := kept(); len(got) != 1 || got[0].ID != "fresh" {
		t.Fatalf("after expiry: %+v, want only fresh", got)
	}
	var recs []leftRecord
	for i := range maxLeftRecords + 10 {
		recs = append(recs, leftRecord{ID: fmt.Sprintf("n%05d", i), Boot: 1, At: now.Add(-time.Duration(i) * time.Second).UnixMilli()})
	}
	m.mergeLeft(recs)
	got := kept()
	if len(got) != maxLeftRecords {
		t.Fatalf("kept %d records, want %d", len(got), maxLeftRecords)
	}
	for _, r := range got {
		if r.ID == "fresh" || r.ID > fmt.Sprintf("n%05d", maxLeftRecords-1) {
			t.Fatalf("kept %+v, one of the oldest", r)
		}
	}
}

// TestStateFileKeepsLeftRecords: left records survive a restart: they
// remove the run they name from the members read with them, and are
// passed on to peers.
func TestStateFileKeepsLeftRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "members.json")
	now := time.Now().UnixMilli()
	st := state{
		members: []known{
			{Member{ID: "gone", GossipAddr: "127.0.0.1:1", Weight: 1, State: Dead}, 5},
			{Member{ID: "back", GossipAddr: "127.0.0.1:2", Weight: 1, State: Dead}, 9},
		},
		left: []leftRecord{{ID: "gone", Boot: 5, At: now}, {ID: "back", Boot: 8, At: now}},
	}
	if err := saveState(ioengine.OSFS(), path, st); err != nil {
		t.Fatal(err)
	}
	m := newNode(t, "n1", func(o *Options) { o.StatePath = path })
	if got := ids(m.Members()); !slices.Equal(got, []string{"back", "n1"}) {
		t.Fatalf("members after the restart: %v, want back and n1", got)
	}
	recs, _, err := decodeExchange((&delegates{m: m}).LocalState(false))
	if err != nil || len(recs) != 2 {
		t.Fatalf("records passed on: %+v, %v; want both", recs, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := loadState(ioengine.OSFS(), path)
	if err != nil || len(again.left) != 2 || len(again.members) != 1 {
		t.Fatalf("state file rewritten at Close: %+v, %v; want back and both records", again, err)
	}
}

func TestChangesCoalesceWithoutBlocking(t *testing.T) {
	m := newNode(t, "n1", nil)
	for range 100 {
		m.notify() // would block (and hang the test) if the send were not coalesced
	}
	<-m.Changes()
	select {
	case <-m.Changes():
		t.Fatal("100 changes made more than one pending signal")
	default:
	}
}

func TestAfterClose(t *testing.T) {
	m := newNode(t, "n1", nil)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := m.Start(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v, want ErrClosed", err)
	}
	if err := m.Leave(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Leave after Close: %v, want ErrClosed", err)
	}
	if err := m.SetDraining(true); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetDraining after Close: %v, want ErrClosed", err)
	}
}

// TestLeaveWhileDownIsLearntAfterRestart: a node that was down when a
// member left removes it after its restart, from the left record its
// peers pass on, instead of keeping it as Dead forever.
func TestLeaveWhileDownIsLearntAfterRestart(t *testing.T) {
	t.Parallel()
	statePath := filepath.Join(t.TempDir(), "members.json")
	n1 := startNode(t, "n1", func(o *Options) { o.StatePath = statePath })
	n2 := startNode(t, "n2", seeds(n1))
	n3 := startNode(t, "n3", seeds(n1))
	poll.Until(t, "all see three alive", func() bool { return allAlive(n1, n2, n3) })
	n1Addr := n1.Self().GossipAddr
	if err := n1.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := n3.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "n2 removes n3", func() bool { _, ok := memberOf(n2, "n3"); return !ok })
	if err := n3.Close(); err != nil {
		t.Fatal(err)
	}

	again := newNode(t, "n1", func(o *Options) { o.StatePath = statePath; o.BindAddr = n1Addr })
	if !sees(again, "n3", Dead) {
		t.Fatalf("restarted n1 should know n3 from its state file: %+v", again.Members())
	}
	if err := again.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "restarted n1 learns that n3 left", func() bool {
		_, ok := memberOf(again, "n3")
		return !ok && sees(again, "n2", Alive)
	})
}

// TestReconnectFindsRestartedMember: a member that restarts with no seeds
// and no state file (so it cannot find anyone) is found again by the
// others, which retry dead members: the way two halves of a healed
// partition merge.
func TestReconnectFindsRestartedMember(t *testing.T) {
	t.Parallel()
	n1 := startNode(t, "n1", nil)
	n2 := startNode(t, "n2", seeds(n1))
	n3 := startNode(t, "n3", seeds(n1))
	poll.Until(t, "all see three alive", func() bool { return allAlive(n1, n2, n3) })
	n3Addr := n3.Self().GossipAddr
	if err := n3.Close(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "n1 and n2 see n3 dead", func() bool { return sees(n1, "n3", Dead) && sees(n2, "n3", Dead) })
	lonely := startNode(t, "n3", func(o *Options) { o.BindAddr = n3Addr })
	poll.Until(t, "the others reconnect to n3", func() bool {
		return sees(n1, "n3", Alive) && sees(n2, "n3", Alive) && sees(lonely, "n1", Alive)
	})
}

// TestCloseStopsBackgroundWork: after Close no goroutine of this package
// runs, even while a join was being retried. (Not parallel: the parallel
// tests' nodes are not started yet when it runs.)
func TestCloseStopsBackgroundWork(t *testing.T) {
	m := startNode(t, "n1", func(o *Options) { o.Seeds = []string{freeLoopbackAddr(t)} })
	if n := ourGoroutines(); n == 0 {
		t.Fatal("no background goroutine found while started; the check below would prove nothing")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// wg.Wait returns once the loops ran their deferred Done; the goroutine
	// may still be listed for a moment after that, on its way out. Give
	// exiting goroutines a bounded moment; one that never exits still fails.
	deadline := time.Now().Add(5 * time.Second)
	n := ourGoroutines()
	for n != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = ourGoroutines()
	}
	if n != 0 {
		t.Fatalf("%d goroutines of the package still run after Close", n)
	}
}

// ourGoroutines counts goroutines started by Membership.Start (running
// or not yet scheduled).
func ourGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "strata/node/membership.(*Membership).Start") {
			n++
		}
	}
	return n
}

// TestLateJoinerLearnsDeadMember: memberlist forgets a dead node after
// GossipToTheDead and never passes an unknown dead node on, so a node that
// joins after that (or restarts with its state file wiped) learns the
// dead member only from this package's push/pull payload. Without it the
// newcomer places keys over another member set than everyone else.
func TestLateJoinerLearnsDeadMember(t *testing.T) {
	t.Parallel()
	const forget = 200 * time.Millisecond
	fast := func(more ...func(*Options)) func(*Options) {
		return func(o *Options) {
			o.Timing.GossipToTheDead = forget
			for _, f := range more {
				f(o)
			}
		}
	}
	n1 := startNode(t, "n1", fast())
	n2 := startNode(t, "n2", fast(seeds(n1)))
	n3 := startNode(t, "n3", fast(seeds(n1), func(o *Options) { o.Weight = 3; o.Zone = "far" }))
	poll.Until(t, "all see three alive", func() bool { return allAlive(n1, n2, n3) })
	wantDead := n3.Self()
	wantDead.State = Dead
	if err := n3.Close(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "n1 and n2 see n3 dead", func() bool { return sees(n1, "n3", Dead) && sees(n2, "n3", Dead) })
	// Past GossipToTheDead (with room: memberlist drops dead nodes on its
	// next gossip round after it), n1's and n2's memberlists no longer
	// hold n3.
	since := time.Now()
	poll.Until(t, "memberlist's GossipToTheDead to pass", func() bool { return time.Since(since) > 5*forget })

	n4 := startNode(t, "n4", fast(seeds(n1)))
	n2Addr := n2.Self().GossipAddr
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	wiped := startNode(t, "n2", fast(seeds(n1), func(o *Options) { o.BindAddr = n2Addr }))
	for _, n := range []*Membership{n4, wiped} {
		poll.Until(t, n.Self().ID+" learns n3 as a dead member, with its metadata", func() bool {
			got, ok := memberOf(n, "n3")
			return ok && got == wantDead
		})
	}
	poll.Until(t, "n1, n2 and n4 hold the same members", func() bool {
		a, b, c := n1.Members(), wiped.Members(), n4.Members()
		return len(a) == 4 && slices.Equal(a, b) && slices.Equal(a, c)
	})
	var placed []string
	for _, m := range n4.Members() {
		if m.Placed() {
			placed = append(placed, m.ID)
		}
	}
	if want := []string{"n1", "n2", "n3", "n4"}; !slices.Equal(placed, want) {
		t.Fatalf("n4 places keys over %v, want %v", placed, want)
	}
}

// TestDeadRecordsMerge: a peer's dead records add the members this node
// does not know, as Dead with their metadata; they never override what
// this node knows (alive or dead), never name this node, and never bring
// back a run a left record says left. What this node holds as Dead, it
// passes on.
func TestDeadRecordsMerge(t *testing.T) {
	m := newNode(t, "n1", nil)
	d := &delegates{m: m}
	meta, err := encodeMeta(nodeMeta{HTTPAddr: "h:1", Weight: 1, Boot: 7})
	if err != nil {
		t.Fatal(err)
	}
	d.NotifyJoin(&memberlist.Node{Name: "alive", Addr: net.IPv4(127, 0, 0, 1), Port: 1, Meta: meta})
	rec := func(id string, boot uint64) deadRecord {
		return deadRecord{ID: id, Boot: boot, GossipAddr: "127.0.0.1:9", HTTPAddr: "127.0.0.1:8", Zone: "z", Weight: 2}
	}
	now := time.Now().UnixMilli()
	// "gone" left in the run the record names; "reborn" left in an older
	// run than the one that died.
	peer, err := encodeExchange([]leftRecord{{ID: "gone", Boot: 3, At: now}, {ID: "reborn", Boot: 2, At: now}},
		[]deadRecord{rec("alive", 7), rec("gone", 3), rec("n1", 1), rec("new", 5), rec("reborn", 4)})
	if err != nil {
		t.Fatal(err)
	}
	<-drained(m.Changes())
	d.MergeRemoteState(peer, false)
	select {
	case <-m.Changes():
	default:
		t.Fatal("Changes was not signalled by the new dead member")
	}
	want := []Member{
		{ID: "alive", HTTPAddr: "h:1", GossipAddr: "127.0.0.1:1", Weight: 1, State: Alive},
		m.Self(),
		{ID: "new", HTTPAddr: "127.0.0.1:8", GossipAddr: "127.0.0.1:9", Zone: "z", Weight: 2, State: Dead},
		{ID: "reborn", HTTPAddr: "127.0.0.1:8", GossipAddr: "127.0.0.1:9", Zone: "z", Weight: 2, State: Dead},
	}
	if got := m.Members(); !slices.Equal(got, want) {
		t.Fatalf("members:\n%+v\nwant\n%+v", got, want)
	}
	// The second time, nothing changes: the members are known now.
	d.MergeRemoteState(peer, false)
	select {
	case <-m.Changes():
		t.Fatal("Changes signalled by records of known members")
	default:
	}
	_, dead, err := decodeExchange(d.LocalState(false))
	if err != nil {
		t.Fatal(err)
	}
	if want := []deadRecord{rec("new", 5), rec("reborn", 4)}; !slices.Equal(dead, want) {
		t.Fatalf("dead records passed on: %+v, want %+v", dead, want)
	}
	// A left record for the run, arriving later, removes it as usual.
	later, err := encodeExchange([]leftRecord{{ID: "new", Boot: 5, At: time.Now().UnixMilli()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.MergeRemoteState(later, false)
	if _, ok := memberOf(m, "new"); ok {
		t.Fatal("a left record did not remove the member learnt dead")
	}
}

// TestFailedLeaveCanBeRetried: a Leave whose broadcast does not go out in
// time fails and leaves the node a member (Self, Members, SetDraining as
// before); a retry then delivers the leave by a state exchange with the
// live members, and the others remove the node.
func TestFailedLeaveCanBeRetried(t *testing.T) {
	t.Parallel()
	// No gossip rounds, probes or periodic push/pulls: nothing carries a
	// broadcast, so the first Leave cannot get its message out.
	silent := func(o *Options) {
		o.Timing.GossipInterval, o.Timing.ProbeInterval, o.Timing.PushPullInterval = time.Hour, time.Hour, time.Hour
		o.Timing.ReconnectInterval = time.Hour
	}
	n1 := startNode(t, "n1", silent)
	n2 := startNode(t, "n2", func(o *Options) { silent(o); seeds(n1)(o) })
	poll.Until(t, "both see both alive", func() bool { return allAlive(n1, n2) })

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	err := n1.Leave(ctx)
	cancel()
	if err == nil {
		t.Fatal("Leave succeeded although nothing could carry its broadcast")
	}
	if self := n1.Self(); self.State == Left {
		t.Fatalf("after a failed Leave, Self = %+v; want it still a member", self)
	}
	if got := ids(n1.Members()); !slices.Contains(got, "n1") {
		t.Fatalf("after a failed Leave, n1's members %v leave it out", got)
	}
	if err := n1.SetDraining(n1.Self().Draining); err != nil {
		t.Fatalf("SetDraining (unchanged) after a failed Leave: %v", err)
	}
	if !sees(n2, "n1", Alive) {
		t.Fatal("n2 learnt the leave although nothing carried it; the test proves nothing")
	}

	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := n1.Leave(ctx); err != nil {
		t.Fatalf("retried Leave: %v", err)
	}
	if self := n1.Self(); self.State != Left {
		t.Fatalf("after the retry, Self = %+v; want Left", self)
	}
	poll.Until(t, "n2 removes n1 after the retry", func() bool { _, ok := memberOf(n2, "n1"); return !ok })
}
