package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/membership"
	"strata/node/replication"
)

// This file holds the in-process cluster the coordinator's tests run on:
// memLocal stores (memlocal_test.go), fakeNet (a Peer that calls the other Clusters'
// replica methods directly, with switches for a node that is down, stalls,
// fails mid-body) and a shared roster for membership.

// roster is the membership every node of a test cluster shares.
type roster struct {
	mu      sync.Mutex
	members []membership.Member
	changes chan struct{}
}

func (r *roster) setState(id string, st membership.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.members {
		if r.members[i].ID == id {
			r.members[i].State = st
		}
	}
}

// memberView is one node's Members over the roster.
type memberView struct {
	r    *roster
	self string
}

func (m memberView) Self() membership.Member {
	for _, mem := range m.Members() {
		if mem.ID == m.self {
			return mem
		}
	}
	return membership.Member{ID: m.self}
}

func (m memberView) Members() []membership.Member {
	m.r.mu.Lock()
	defer m.r.mu.Unlock()
	return append([]membership.Member(nil), m.r.members...)
}

func (m memberView) Changes() <-chan struct{} { return m.r.changes }

// errDown is what a request to a node switched down fails with.
var errDown = errors.New("fakenet: connection refused")

// fakeNet is the Peer of every node: it calls the addressed node's replica
// side directly.
type fakeNet struct {
	mu    sync.Mutex
	nodes map[string]*testNode // by HTTPAddr
}

func (f *fakeNet) node(addr string) (*testNode, error) {
	f.mu.Lock()
	n := f.nodes[addr]
	f.mu.Unlock()
	if n == nil {
		return nil, fmt.Errorf("fakenet: no node at %s", addr)
	}
	if n.down.Load() {
		return nil, errDown
	}
	return n, nil
}

func (f *fakeNet) PutReplica(ctx context.Context, addr, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	f.mu.Lock()
	if n := f.nodes[addr]; n != nil {
		n.putReplicas.Add(1) // attempts, refused ones included
	}
	f.mu.Unlock()
	n, err := f.node(addr)
	if err != nil {
		return blockstore.Info{}, err
	}
	if n.stall.Load() {
		<-ctx.Done() // takes no byte, never answers
		return blockstore.Info{}, ctx.Err()
	}
	if n.hangAfterBody.Load() {
		io.Copy(io.Discard, r) // takes the whole body, never answers
		<-ctx.Done()
		return blockstore.Info{}, ctx.Err()
	}
	if n.slow.Load() {
		r = &slowReader{r: r}
	}
	if after := n.failAfter.Load(); after > 0 {
		r = &failingReader{r: r, left: after, err: errors.New("fakenet: connection reset mid-body")}
	}
	return n.c.ApplyPut(ctx, key, r, size, opts)
}

func (f *fakeNet) ComposeReplica(ctx context.Context, addr, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	n, err := f.node(addr)
	if err != nil {
		return blockstore.Info{}, err
	}
	if n.stall.Load() {
		<-ctx.Done()
		return blockstore.Info{}, ctx.Err()
	}
	n.composes.Add(1)
	return n.c.ApplyCompose(ctx, key, parts, opts)
}

func (f *fakeNet) DeleteReplica(ctx context.Context, addr, key string, version uint64) error {
	n, err := f.node(addr)
	if err != nil {
		return err
	}
	if n.stall.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return n.c.ApplyDelete(ctx, key, version)
}

func (f *fakeNet) Lookup(ctx context.Context, addr, key string) (blockstore.Entry, error) {
	n, err := f.node(addr)
	if err != nil {
		return blockstore.Entry{}, err
	}
	n.lookups.Add(1)
	return n.c.Lookup(ctx, key)
}

func (f *fakeNet) OpenRange(ctx context.Context, addr, key string, minVersion uint64, off, length int64) (io.ReadCloser, blockstore.Info, error) {
	n, err := f.node(addr)
	if err != nil {
		return nil, blockstore.Info{}, err
	}
	n.openRanges.Add(1)
	n.requested.Add(length)
	obj, r, info, err := openLocalRange(ctx, n.c, key, minVersion, off, length)
	if err != nil {
		return nil, blockstore.Info{}, err
	}
	return &rangeReader{r: r, obj: obj, served: &n.servedBytes}, info, nil
}

// openLocalRange is the replica side of OpenRange both fake nets serve:
// c's local copy of key, at minVersion or newer, from off for length bytes
// (to the end when negative).
func openLocalRange(ctx context.Context, c *Cluster, key string, minVersion uint64, off, length int64) (node.Object, io.Reader, blockstore.Info, error) {
	obj, err := c.OpenLocal(ctx, key)
	if err != nil {
		return nil, nil, blockstore.Info{}, err
	}
	info := obj.Info()
	if info.Version < minVersion {
		obj.Close()
		return nil, nil, blockstore.Info{}, fmt.Errorf("fakenet: %q at %d, asked >= %d: %w", key, info.Version, minVersion, replication.ErrVersionGone)
	}
	if _, err := obj.Seek(off, io.SeekStart); err != nil {
		obj.Close()
		return nil, nil, blockstore.Info{}, err
	}
	var r io.Reader = obj
	if length >= 0 {
		r = io.LimitReader(obj, length)
	}
	return obj, r, info, nil
}

func (f *fakeNet) Digest(ctx context.Context, addr, forPeer string) (replication.Digest, error) {
	n, err := f.node(addr)
	if err != nil {
		return replication.Digest{}, err
	}
	return n.c.Digest(ctx, forPeer)
}

func (f *fakeNet) Entries(ctx context.Context, addr, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error) {
	n, err := f.node(addr)
	if err != nil {
		return nil, err
	}
	return n.c.Entries(ctx, forPeer, buckets, startAfter, limit)
}

type rangeReader struct {
	r      io.Reader
	obj    node.Object
	served *atomic.Int64
}

func (r *rangeReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.served.Add(int64(n))
	return n, err
}

func (r *rangeReader) Close() error { return r.obj.Close() }

// slowReader hands out at most 16 KiB per read, after a short pause.
type slowReader struct{ r io.Reader }

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(200 * time.Microsecond)
	return s.r.Read(p[:min(len(p), 16<<10)])
}

// failingReader passes left bytes through, then fails with err.
type failingReader struct {
	r    io.Reader
	left int64
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= int64(n)
	return n, err
}

// testNode is one member of a test cluster with its switches.
type testNode struct {
	id, addr string
	local    *memLocal // nil over a real store
	store    Local     // what the Cluster runs on (local, or a real store)
	c        *Cluster

	down  atomic.Bool // requests to it fail at once
	stall atomic.Bool // replica writes to it take nothing, never answer
	// hangAfterBody: replica writes to it take the whole body, never answer.
	hangAfterBody atomic.Bool
	// slow: replica writes to it take the body in small pieces with a
	// pause before each (progress, well within the replica timeout).
	slow      atomic.Bool
	failAfter atomic.Int64 // replica writes to it fail after this many body bytes (0: off)

	putReplicas, lookups, openRanges, servedBytes, composes atomic.Int64
	requested                                               atomic.Int64 // bytes asked for by OpenRange

	mu      sync.Mutex
	hints   []hintReq
	repairs []repairReq
}

type hintReq struct {
	target, key string
	version     uint64
	deleted     bool
}

type repairReq struct {
	key     string
	version uint64
	stale   []string
}

func (n *testNode) hinted() []hintReq {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]hintReq(nil), n.hints...)
}

func (n *testNode) repaired() []repairReq {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]repairReq(nil), n.repairs...)
}

// testCluster is k Clusters on fake locals over one fakeNet and roster.
type testCluster struct {
	t      testing.TB
	net    *fakeNet
	roster *roster
	nodes  []*testNode
}

// newTestCluster starts k nodes n1..nk on fake locals (N=3, W=2, R=2
// unless tune says otherwise) and closes them when the test ends.
func newTestCluster(t testing.TB, k int, tune func(*Options)) *testCluster {
	t.Helper()
	return newTestClusterOn(t, k, tune, nil)
}

// newTestClusterOn is newTestCluster with each node's Local from
// newLocal (nil: fake locals).
func newTestClusterOn(t testing.TB, k int, tune func(*Options), newLocal func(t testing.TB, id string) Local) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, net: &fakeNet{nodes: make(map[string]*testNode)}, roster: &roster{changes: make(chan struct{})}}
	for i := 1; i <= k; i++ {
		id := fmt.Sprintf("n%d", i)
		tc.roster.members = append(tc.roster.members, membership.Member{ID: id, HTTPAddr: id + ".test:7070", Weight: 1, State: membership.Alive})
	}
	for i := 1; i <= k; i++ {
		id := fmt.Sprintf("n%d", i)
		n := &testNode{id: id, addr: id + ".test:7070"}
		if newLocal != nil {
			n.store = newLocal(t, id)
		} else {
			n.local = newFakeLocal()
			n.store = n.local
		}
		opts := Options{
			Local: n.store, Peer: tc.net, Members: memberView{r: tc.roster, self: id},
			ReplicaTimeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler),
		}
		if tune != nil {
			tune(&opts)
		}
		c, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		n.c = c
		c.watch = &watcher{
			hint: func(target, key string, version uint64, deleted bool) {
				n.mu.Lock()
				defer n.mu.Unlock()
				n.hints = append(n.hints, hintReq{target, key, version, deleted})
			},
			repair: func(key string, version uint64, stale []string) {
				n.mu.Lock()
				defer n.mu.Unlock()
				n.repairs = append(n.repairs, repairReq{key, version, stale})
			},
		}
		tc.net.nodes[n.addr] = n
		tc.nodes = append(tc.nodes, n)
		t.Cleanup(func() {
			if err := c.Close(); err != nil {
				t.Errorf("close %s: %v", id, err)
			}
		})
	}
	return tc
}

func (tc *testCluster) node(id string) *testNode {
	for _, n := range tc.nodes {
		if n.id == id {
			return n
		}
	}
	tc.t.Fatalf("no node %s", id)
	return nil
}

// setDead marks id dead in membership (every node's view) and switches
// its requests off.
func (tc *testCluster) setDead(id string) {
	tc.node(id).down.Store(true)
	tc.roster.setState(id, membership.Dead)
	tc.refresh()
}

func (tc *testCluster) refresh() {
	for _, n := range tc.nodes {
		if err := n.c.refreshView(); err != nil {
			tc.t.Fatal(err)
		}
	}
}

// homes is key's home IDs in placement order.
func (tc *testCluster) homes(key string) []string {
	var ids []string
	for _, m := range tc.nodes[0].c.currentView().homes(key, tc.nodes[0].c.opts.Replicas) {
		ids = append(ids, m.ID)
	}
	return ids
}

// keyWithHomes finds a key (prefix + number) whose homes are exactly ids
// in that order, or, with anyOrder, that set in any order.
func (tc *testCluster) keyWithHomes(prefix string, anyOrder bool, ids ...string) string {
	tc.t.Helper()
	want := strings.Join(ids, ",")
	for i := range 100000 {
		key := fmt.Sprintf("%s%d", prefix, i)
		got := tc.homes(key)
		if anyOrder {
			sort.Strings(got)
		}
		if strings.Join(got, ",") == want {
			return key
		}
	}
	tc.t.Fatalf("no key with homes %v", ids)
	return ""
}

// put writes body under key through coordinator id.
func (tc *testCluster) put(ctx context.Context, id, key string, body []byte) (blockstore.Info, error) {
	return tc.node(id).c.Put(ctx, key, bytes.NewReader(body), int64(len(body)), blockstore.PutOptions{ContentType: "application/x-test"})
}

// readAll reads key through coordinator id and returns its bytes and tier.
func (tc *testCluster) readAll(ctx context.Context, id, key string) ([]byte, string, error) {
	obj, err := tc.node(id).c.Open(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	return data, obj.Tier(), err
}

// holding lists the nodes whose local store holds key live at version.
func (tc *testCluster) holding(key string, version uint64) []string {
	var ids []string
	for _, n := range tc.nodes {
		if e, err := n.store.Lookup(context.Background(), key); err == nil && !e.Deleted && e.Version == version {
			ids = append(ids, n.id)
		}
	}
	return ids
}

// anyHolds lists the nodes holding any entry for key.
func (tc *testCluster) anyHolds(key string) []string {
	var ids []string
	for _, n := range tc.nodes {
		if _, err := n.store.Lookup(context.Background(), key); err == nil {
			ids = append(ids, n.id)
		}
	}
	return ids
}

// pattern is deterministic content of n bytes (seeded), cheap to check.
func pattern(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
