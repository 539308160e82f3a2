package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"strata/blockstore"
	"strata/node"
	"strata/node/replication"
)

// putAll writes body under key through n1 and waits until every reachable
// home has it.
func putAll(t *testing.T, tc *testCluster, key string, body []byte) blockstore.Info {
	t.Helper()
	info, err := tc.put(context.Background(), "n1", key, body)
	if err != nil {
		t.Fatalf("Put %q: %v", key, err)
	}
	waitStragglers(t, tc)
	return info
}

func totalOpenRanges(tc *testCluster) int64 {
	var n int64
	for _, nd := range tc.nodes {
		n += nd.openRanges.Load()
	}
	return n
}

// A read takes the newest version among its R answers, reads it from a
// holder, and sends the stale home to read repair.
func TestReadNewestAmongQuorum(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, nil)
	old := putAll(t, tc, "k", []byte("old bytes"))
	newer := []byte("newer bytes, only on n2")
	newVersion := old.Version + 1<<16
	if _, err := tc.node("n2").c.ApplyPut(ctx, "k", bytes.NewReader(newer), int64(len(newer)), blockstore.PutOptions{Version: newVersion}); err != nil {
		t.Fatal(err)
	}
	tc.setDead("n3") // R=2 from n1 now asks exactly n1 and n2

	data, tier, err := tc.readAll(ctx, "n1", "k")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, newer) {
		t.Errorf("read %q, want the newest %q", data, newer)
	}
	if tier != "peer" {
		t.Errorf("tier %q, want peer (n1's own copy is stale)", tier)
	}
	if got := tc.node("n1").repaired(); len(got) != 1 || got[0].version != newVersion || !slices.Equal(got[0].stale, []string{"n1"}) {
		t.Errorf("repairs %+v, want n1 brought to %x", got, newVersion)
	}
	info, err := tc.node("n1").c.Stat(ctx, "k")
	if err != nil || info.Version != newVersion || info.Size != int64(len(newer)) {
		t.Errorf("Stat = %+v, %v; want version %x", info, err, newVersion)
	}
}

// With every home current, each home reads its own copy: no bytes cross
// the network, the tier is the local one, nothing is repaired.
func TestReadSelfFirst(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, nil)
	body := pattern(4, 200<<10)
	putAll(t, tc, "k", body)
	for _, n := range tc.nodes {
		data, tier, err := tc.readAll(ctx, n.id, "k")
		if err != nil || !bytes.Equal(data, body) {
			t.Fatalf("read via %s: %d bytes, %v", n.id, len(data), err)
		}
		if tier != "hdd" {
			t.Errorf("read via %s: tier %q, want its own hdd", n.id, tier)
		}
		if len(n.repaired()) != 0 {
			t.Errorf("read via %s asked for repairs %+v", n.id, n.repaired())
		}
	}
	if got := totalOpenRanges(tc); got != 0 {
		t.Errorf("%d remote range reads, want none", got)
	}
}

// A corrupt copy is never served: the read moves to another holder of the
// same version at the same offset, returns the right bytes and reports
// the corrupt home for repair.
func TestReadFailsOverCorruptCopy(t *testing.T) {
	body := pattern(5, 700<<10)
	tests := []struct {
		name       string
		nodes      int
		reader     string
		corrupt    func(tc *testCluster, key string) // what to break
		wantRepair []string
		wantErr    error
		wantTier   string
		wantPrefix int      // with wantErr: bytes read before the error must match
		keyHomes   []string // placement order of the key's homes
	}{
		{
			name: "own copy fails its checksum mid-blob", nodes: 3, reader: "n1",
			corrupt:    func(tc *testCluster, key string) { tc.node("n1").local.corruptBytes(key, 300<<10) },
			wantRepair: []string{"n1"}, wantTier: "peer",
		},
		{
			name: "own copy known corrupt in the index", nodes: 3, reader: "n1",
			corrupt:    func(tc *testCluster, key string) { tc.node("n1").local.markCorrupt(key) },
			wantRepair: []string{"n1"}, wantTier: "peer",
		},
		{
			// R=2 asks the first two homes; both fail mid-stream, so the
			// read looks the third up and finishes from it.
			name: "proxy: both asked holders corrupt mid-stream", nodes: 4, reader: "n4",
			keyHomes: []string{"n2", "n3", "n1"},
			corrupt: func(tc *testCluster, key string) {
				for _, id := range []string{"n2", "n3"} {
					tc.node(id).local.corruptBytes(key, 200<<10+7)
				}
			},
			wantRepair: []string{"n2", "n3"}, wantTier: "peer",
		},
		{
			name: "every copy corrupt: an error, never bad bytes", nodes: 3, reader: "n2",
			corrupt: func(tc *testCluster, key string) {
				for _, n := range tc.nodes {
					n.local.corruptBytes(key, 500<<10)
				}
			},
			wantRepair: []string{"n1", "n2", "n3"}, wantErr: blockstore.ErrCorrupt, wantPrefix: 500 << 10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			tc := newTestCluster(t, tt.nodes, nil)
			key := "k"
			if tt.keyHomes != nil {
				key = tc.keyWithHomes("k", false, tt.keyHomes...)
			}
			info := putAll(t, tc, key, body)
			tt.corrupt(tc, key)
			data, tier, err := tc.readAll(ctx, tt.reader, key)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("read = %v, want %v", err, tt.wantErr)
				}
				if len(data) > tt.wantPrefix || !bytes.Equal(data, body[:len(data)]) {
					t.Fatalf("read %d bytes before the error; they must be a prefix of the blob of at most %d", len(data), tt.wantPrefix)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(data, body) {
					t.Fatalf("read %d bytes that are not the blob", len(data))
				}
				if tier != tt.wantTier {
					t.Errorf("tier %q, want %q", tier, tt.wantTier)
				}
			}
			var repaired []string
			for _, r := range tc.node(tt.reader).repaired() {
				if r.key != key || r.version != info.Version {
					t.Errorf("repair %+v, want %q at %x", r, key, info.Version)
				}
				repaired = append(repaired, r.stale...)
			}
			slices.Sort(repaired)
			if !slices.Equal(repaired, tt.wantRepair) {
				t.Errorf("repaired %v, want %v", repaired, tt.wantRepair)
			}
		})
	}
}

// ReadAt and Seek work on a remote object (http.ServeContent seeks), fail
// over mid-range, and a short range costs one small request, not the blob.
func TestRemoteObjectRanges(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 4, nil)
	key := tc.keyWithHomes("r", true, "n1", "n2", "n3")
	body := pattern(6, 3<<20+123)
	putAll(t, tc, key, body)

	obj, err := tc.node("n4").c.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if got := obj.Locate(); got != "peer" {
		t.Errorf("Locate = %q, want peer", got)
	}
	p := make([]byte, 4096)
	if n, err := obj.ReadAt(p, 1<<20); err != nil || n != len(p) || !bytes.Equal(p, body[1<<20:1<<20+4096]) {
		t.Fatalf("ReadAt(1 MiB) = %d, %v", n, err)
	}
	var requested int64
	for _, n := range tc.nodes {
		requested += n.requested.Load()
	}
	if requested > firstWindow {
		t.Errorf("a 4 KiB range asked peers for %d bytes, want at most one window (%d)", requested, firstWindow)
	}

	// The holder being read breaks: the next range comes from another.
	for _, id := range []string{"n1", "n2", "n3"} {
		if tc.node(id).openRanges.Load() > 0 {
			tc.node(id).local.corruptBytes(key, 2<<20)
		}
	}
	if _, err := obj.Seek(2<<20-100, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rest, body[2<<20-100:]) {
		t.Fatalf("read from 2 MiB-100 to the end: %d bytes, not the blob's", len(rest))
	}
	if end, err := obj.Seek(0, io.SeekEnd); err != nil || end != int64(len(body)) {
		t.Errorf("Seek(end) = %d, %v", end, err)
	}
	if n, err := obj.ReadAt(p, int64(len(body))-10); n != 10 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 10, EOF", n, err)
	}
}

// A sequential remote read doubles its window: few requests for a large
// blob.
func TestRemoteSequentialReadWindows(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 4, nil)
	key := tc.keyWithHomes("s", true, "n1", "n2", "n3")
	body := pattern(7, 4<<20)
	putAll(t, tc, key, body)
	data, tier, err := tc.readAll(ctx, "n4", key)
	if err != nil || !bytes.Equal(data, body) || tier != "peer" {
		t.Fatalf("proxy read: %d bytes, tier %q, %v", len(data), tier, err)
	}
	// 128K, 256K, 512K, 1M, 2M, then the last 128K.
	if got := totalOpenRanges(tc); got > 6 {
		t.Errorf("%d range requests for 4 MiB, want at most 6", got)
	}
}

// A node that is not a home proxies: it reads from a home, says "peer",
// and keeps no copy.
func TestProxyReadFromNonHome(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 5, nil)
	key := tc.keyWithHomes("p", true, "n1", "n2", "n3")
	body := pattern(8, 50<<10)
	putAll(t, tc, key, body)
	for _, id := range []string{"n4", "n5"} {
		data, tier, err := tc.readAll(ctx, id, key)
		if err != nil || !bytes.Equal(data, body) {
			t.Fatalf("read via %s: %d bytes, %v", id, len(data), err)
		}
		if tier != "peer" {
			t.Errorf("read via %s: tier %q, want peer", id, tier)
		}
		if _, err := tc.node(id).local.Lookup(ctx, key); !errors.Is(err, blockstore.ErrNotFound) {
			t.Errorf("%s kept a copy of a key it is not home to (%v)", id, err)
		}
	}
}

// ?consistency=one reads this node's own copy (stale or not) without
// asking any other home; a non-home reads the first reachable home.
func TestConsistencyOne(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 4, nil)
	key := tc.keyWithHomes("c", true, "n1", "n2", "n3")
	old := putAll(t, tc, key, []byte("old"))
	for _, id := range []string{"n2", "n3"} {
		if _, err := tc.node(id).c.ApplyPut(ctx, key, bytes.NewReader([]byte("new")), 3, blockstore.PutOptions{Version: old.Version + 1<<16}); err != nil {
			t.Fatal(err)
		}
	}
	one := node.WithConsistencyOne(ctx)
	lookupsBefore := tc.node("n2").lookups.Load() + tc.node("n3").lookups.Load()
	data, tier, err := tc.readAll(one, "n1", key)
	if err != nil || string(data) != "old" || tier != "hdd" {
		t.Errorf("consistency=one via a home: %q, tier %q, %v; want its own old copy", data, tier, err)
	}
	if got := tc.node("n2").lookups.Load() + tc.node("n3").lookups.Load(); got != lookupsBefore {
		t.Errorf("consistency=one asked %d other homes", got-lookupsBefore)
	}
	if len(tc.node("n1").repaired()) != 0 {
		t.Error("consistency=one asked for repairs; it compares no versions")
	}
	data, _, err = tc.readAll(ctx, "n1", key)
	if err != nil || string(data) != "new" {
		t.Errorf("quorum read via n1: %q, %v; want new", data, err)
	}
	data, tier, err = tc.readAll(one, "n4", key)
	if err != nil || tier != "peer" {
		t.Errorf("consistency=one via a non-home: %q, tier %q, %v", data, tier, err)
	}
	if first := tc.homes(key)[0]; (first == "n1") != (string(data) == "old") {
		t.Errorf("consistency=one via a non-home read %q; the first home is %s", data, first)
	}
}

// Reads need R answers: with two of three homes dead, no quorum.
func TestReadNoQuorum(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, nil)
	putAll(t, tc, "k", []byte("x"))
	tc.setDead("n2")
	tc.setDead("n3")
	if _, err := tc.node("n1").c.Open(ctx, "k"); !errors.Is(err, replication.ErrNoQuorum) {
		t.Errorf("Open = %v, want ErrNoQuorum", err)
	}
	if _, err := tc.node("n1").c.Stat(ctx, "k"); !errors.Is(err, replication.ErrNoQuorum) {
		t.Errorf("Stat = %v, want ErrNoQuorum", err)
	}
	data, _, err := tc.readAll(node.WithConsistencyOne(ctx), "n1", "k")
	if err != nil || string(data) != "x" {
		t.Errorf("consistency=one with the others dead: %q, %v", data, err)
	}
}

// A home that refuses a lookup is replaced by the next home, so one
// failure does not cost the read its quorum.
func TestReadAsksTheNextHomeOnFailure(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, nil)
	putAll(t, tc, "k", []byte("x"))
	for _, id := range []string{"n2", "n3"} {
		tc.node(id).down.Store(true) // alive in membership, refusing requests
		data, _, err := tc.readAll(ctx, "n1", "k")
		if err != nil || string(data) != "x" {
			t.Errorf("read with %s refusing: %q, %v", id, data, err)
		}
		tc.node(id).down.Store(false)
	}
}
