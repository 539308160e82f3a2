package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node/membership"
	"strata/node/replication"
)

// Small in-process fakes for the background tests (their store is a
// memLocal, memlocal_test.go): a membership world shared by every node, and
// a Peer that calls the other nodes' replica side directly.

// bgWorld is the membership every fake node sees.
type bgWorld struct {
	mu      sync.Mutex
	members map[string]membership.Member
	subs    []chan struct{}
}

func (w *bgWorld) add(m membership.Member) {
	w.mu.Lock()
	if w.members == nil {
		w.members = make(map[string]membership.Member)
	}
	w.members[m.ID] = m
	w.mu.Unlock()
	w.notify()
}

func (w *bgWorld) update(id string, change func(*membership.Member)) {
	w.mu.Lock()
	m := w.members[id]
	change(&m)
	w.members[id] = m
	w.mu.Unlock()
	w.notify()
}

func (w *bgWorld) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.subs {
		wake(ch)
	}
}

type bgMembers struct {
	w    *bgWorld
	self string
	ch   chan struct{}
}

func (w *bgWorld) membersFor(self string) *bgMembers {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.subs = append(w.subs, ch)
	w.mu.Unlock()
	return &bgMembers{w: w, self: self, ch: ch}
}

func (f *bgMembers) Self() membership.Member {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	return f.w.members[f.self]
}

func (f *bgMembers) Members() []membership.Member {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	var out []membership.Member
	for _, m := range f.w.members {
		if m.State != membership.Left {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b membership.Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (f *bgMembers) Changes() <-chan struct{} { return f.ch }

var errBGNodeDown = errors.New("fake net: node down")

// bgNet is the Peer every fake node uses: it calls the addressed node's
// replica side directly, unless that node is down.
type bgNet struct {
	mu    sync.Mutex
	nodes map[string]*Cluster
	down  map[string]bool

	digests, entryCalls, opens, puts atomic.Int64
	lookups                          map[string]*atomic.Int64 // per addr, set by tests that count them
	// onLookup, when set (before the nodes run), is called before every
	// Lookup reaches the addressed node.
	onLookup func(addr, key string)
}

func (n *bgNet) node(addr string) (*Cluster, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down[addr] {
		return nil, fmt.Errorf("%s: %w", addr, errBGNodeDown)
	}
	c := n.nodes[addr]
	if c == nil {
		return nil, fmt.Errorf("%s: no such node", addr)
	}
	return c, nil
}

func (n *bgNet) setDown(addr string, down bool) {
	n.mu.Lock()
	n.down[addr] = down
	n.mu.Unlock()
}

func (n *bgNet) PutReplica(ctx context.Context, addr, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	c, err := n.node(addr)
	if err != nil {
		return blockstore.Info{}, err
	}
	n.puts.Add(1)
	return c.ApplyPut(ctx, key, r, size, opts)
}

func (n *bgNet) ComposeReplica(ctx context.Context, addr, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	c, err := n.node(addr)
	if err != nil {
		return blockstore.Info{}, err
	}
	return c.ApplyCompose(ctx, key, parts, opts)
}

func (n *bgNet) DeleteReplica(ctx context.Context, addr, key string, version uint64) error {
	c, err := n.node(addr)
	if err != nil {
		return err
	}
	return c.ApplyDelete(ctx, key, version)
}

func (n *bgNet) Lookup(ctx context.Context, addr, key string) (blockstore.Entry, error) {
	if ctr := n.lookups[addr]; ctr != nil {
		ctr.Add(1)
	}
	if n.onLookup != nil {
		n.onLookup(addr, key)
	}
	c, err := n.node(addr)
	if err != nil {
		return blockstore.Entry{}, err
	}
	return c.Lookup(ctx, key)
}

func (n *bgNet) OpenRange(ctx context.Context, addr, key string, minVersion uint64, off, length int64) (io.ReadCloser, blockstore.Info, error) {
	c, err := n.node(addr)
	if err != nil {
		return nil, blockstore.Info{}, err
	}
	n.opens.Add(1)
	obj, r, info, err := openLocalRange(ctx, c, key, minVersion, off, length)
	if err != nil {
		return nil, blockstore.Info{}, err
	}
	return struct {
		io.Reader
		io.Closer
	}{r, obj}, info, nil
}

func (n *bgNet) Digest(ctx context.Context, addr, forPeer string) (replication.Digest, error) {
	c, err := n.node(addr)
	if err != nil {
		return replication.Digest{}, err
	}
	n.digests.Add(1)
	return c.bg.digest(ctx, forPeer)
}

func (n *bgNet) Entries(ctx context.Context, addr, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error) {
	c, err := n.node(addr)
	if err != nil {
		return nil, err
	}
	n.entryCalls.Add(1)
	return c.bg.entries(ctx, forPeer, buckets, startAfter, limit)
}

// bgClock is a clock tests move.
type bgClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *bgClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *bgClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// bgCluster is n fake nodes n1..nN over one world and one bgNet. The
// background loops do not run unless a test starts them: tests drive
// rebuilds, rounds, replays and passes themselves, so they are
// deterministic.
type bgCluster struct {
	t     testing.TB
	world *bgWorld
	net   *bgNet
	clock *bgClock
	dir   string
	opts  func(*Options)
	nodes map[string]*bgNode
	// newLocal makes a node's store; nil: newBGLocal.
	newLocal func(id string) Local
	// lastVersion is the last version write handed out.
	lastVersion uint64
}

type bgNode struct {
	id    string
	c     *Cluster
	local *memLocal // the fake store; nil when the node runs on a real one
	// onDrop, when set, is called before a Drop reaches the store.
	onDrop func(key string, version uint64)
}

// hookedLocal passes everything to the node's store and calls the node's
// onDrop first on Drop.
type hookedLocal struct {
	Local
	nd *bgNode
}

func (h hookedLocal) Drop(ctx context.Context, key string, version uint64) error {
	if h.nd.onDrop != nil {
		h.nd.onDrop(key, version)
	}
	return h.Local.Drop(ctx, key, version)
}

// entry returns the node's entry for key and, for a live blob, its bytes
// (zero Entry when none), through the Local interface.
func (nd *bgNode) entry(key string) (blockstore.Entry, []byte) {
	ctx := context.Background()
	e, err := nd.c.opts.Local.Lookup(ctx, key)
	if err != nil {
		return blockstore.Entry{}, nil
	}
	if e.Deleted || e.Corrupt {
		return e, nil
	}
	obj, err := nd.c.opts.Local.Open(ctx, key)
	if err != nil {
		return e, nil
	}
	defer obj.Close()
	data, _ := io.ReadAll(obj)
	return e, data
}

func newBGCluster(t testing.TB, n int, opts func(*Options)) *bgCluster {
	t.Helper()
	return newBGClusterWith(t, n, opts, nil)
}

// newBGClusterWith is newBGCluster with each node's store made by newLocal
// (nil: the fake).
func newBGClusterWith(t testing.TB, n int, opts func(*Options), newLocal func(id string) Local) *bgCluster {
	t.Helper()
	tc := &bgCluster{
		newLocal: newLocal,
		t:        t,
		world:    &bgWorld{},
		net:      &bgNet{nodes: map[string]*Cluster{}, down: map[string]bool{}},
		clock:    &bgClock{t: time.UnixMilli(1_760_000_000_000)},
		dir:      t.TempDir(),
		opts:     opts,
		nodes:    map[string]*bgNode{},
	}
	for i := range n {
		tc.world.add(membership.Member{ID: fmt.Sprintf("n%d", i+1), HTTPAddr: fmt.Sprintf("n%d", i+1), Weight: 1, State: membership.Alive})
	}
	for i := range n {
		tc.addNode(fmt.Sprintf("n%d", i+1))
	}
	tc.refresh()
	return tc
}

// join adds member id to the world and starts a node for it.
func (tc *bgCluster) join(id string) *bgNode {
	tc.world.add(membership.Member{ID: id, HTTPAddr: id, Weight: 1, State: membership.Alive})
	nd := tc.addNode(id)
	tc.refresh()
	return nd
}

func (tc *bgCluster) addNode(id string) *bgNode {
	tc.t.Helper()
	nd := &bgNode{id: id}
	var store Local
	if tc.newLocal != nil {
		store = tc.newLocal(id)
	} else {
		nd.local = newBGLocal(tc.clock.Now)
		store = nd.local
	}
	o := Options{
		Local:                  hookedLocal{Local: store, nd: nd},
		Peer:                   tc.net,
		Members:                tc.world.membersFor(id),
		HintsPath:              filepath.Join(tc.dir, id+"-hints.db"),
		HintReplayRate:         1e9,
		AntiEntropyBytesPerSec: 1 << 40,
		Now:                    tc.clock.Now,
	}
	if tc.opts != nil {
		tc.opts(&o)
	}
	c, err := New(o)
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.t.Cleanup(func() {
		if err := c.Close(); err != nil {
			tc.t.Errorf("close %s: %v", id, err)
		}
	})
	nd.c = c
	tc.nodes[id] = nd
	tc.net.mu.Lock()
	tc.net.nodes[id] = c
	tc.net.mu.Unlock()
	return nd
}

// refresh makes every node take a new membership snapshot.
func (tc *bgCluster) refresh() {
	tc.t.Helper()
	for _, nd := range tc.nodes {
		if err := nd.c.refreshView(); err != nil {
			tc.t.Fatal(err)
		}
	}
}

// stop makes id unreachable: down on the net, dead in gossip.
func (tc *bgCluster) stop(id string) {
	tc.net.setDown(id, true)
	tc.world.update(id, func(m *membership.Member) { m.State = membership.Dead })
	tc.refresh()
}

// restart brings id back.
func (tc *bgCluster) restart(id string) {
	tc.net.setDown(id, false)
	tc.world.update(id, func(m *membership.Member) { m.State = membership.Alive })
	tc.refresh()
}

func (tc *bgCluster) ids() []string {
	var out []string
	for id := range tc.nodes {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// rebuild rebuilds every node's digests, as a start does.
func (tc *bgCluster) rebuild() {
	tc.t.Helper()
	for _, id := range tc.ids() {
		if err := tc.nodes[id].c.bg.rebuildDigests(context.Background()); err != nil {
			tc.t.Fatalf("rebuild %s: %v", id, err)
		}
	}
}

// antiEntropy runs one round on every reachable node.
func (tc *bgCluster) antiEntropy() {
	for _, id := range tc.ids() {
		if !tc.net.down[id] {
			tc.nodes[id].c.bg.antiEntropyRound(context.Background())
		}
	}
}

// replay replays every reachable node's hints, unpaced.
func (tc *bgCluster) replay() {
	for _, id := range tc.ids() {
		if !tc.net.down[id] {
			tc.nodes[id].c.bg.replayHints(context.Background(), func() bool { return true })
		}
	}
}

// write is a minimal coordinator for the tests (the real one is write.go):
// a version from coord, the blob (or tombstone when data is nil) applied on
// every reachable home, a hint for every other home. It returns the
// version.
func (tc *bgCluster) write(coord, key string, data []byte) uint64 {
	tc.t.Helper()
	ctx := context.Background()
	cn := tc.nodes[coord]
	v := cn.c.currentView()
	// Versions are unique and grow in call order across coordinators (the
	// real coordinator tags them per node; that is not what these tests
	// are about), so the last write of a key is its newest.
	version := max(cn.c.opts.Local.NextVersion(), tc.lastVersion+1)
	tc.lastVersion = version
	cn.c.opts.Local.ObserveVersion(version)
	for _, h := range v.homes(key, cn.c.opts.Replicas) {
		var err error
		switch {
		case !h.Reachable():
			err = errBGNodeDown
		case data == nil && h.ID == coord:
			err = cn.c.ApplyDelete(ctx, key, version)
		case data == nil:
			err = tc.net.DeleteReplica(ctx, h.HTTPAddr, key, version)
		case h.ID == coord:
			_, err = cn.c.ApplyPut(ctx, key, bytes.NewReader(data), int64(len(data)), blockstore.PutOptions{Version: version})
		default:
			_, err = tc.net.PutReplica(ctx, h.HTTPAddr, key, bytes.NewReader(data), int64(len(data)), blockstore.PutOptions{Version: version})
		}
		if err != nil {
			cn.c.bg.hint(ctx, h.ID, key, version, data == nil)
		}
	}
	return version
}

// homesOf lists key's home ids under id's current view.
func (tc *bgCluster) homesOf(id, key string) []string {
	nd := tc.nodes[id]
	var out []string
	for _, h := range nd.c.currentView().homes(key, nd.c.opts.Replicas) {
		out = append(out, h.ID)
	}
	return out
}

// holders lists the nodes holding key at version or newer (blob or
// tombstone, not corrupt).
func (tc *bgCluster) holders(key string, version uint64) []string {
	var out []string
	for _, id := range tc.ids() {
		if e, err := tc.nodes[id].c.opts.Local.Lookup(context.Background(), key); err == nil && e.Version >= version && !e.Corrupt {
			out = append(out, id)
		}
	}
	return out
}

func blobData(key string, version uint64) []byte {
	return fmt.Appendf(nil, "%s@%d", key, version)
}

func testKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%04d", i)
	}
	return keys
}
