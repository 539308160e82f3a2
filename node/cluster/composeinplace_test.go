package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node/membership"
	"strata/node/placement"
	"strata/node/replication"
)

// colocatedUpload writes count parts co-located with key through
// coordinator via and returns their keys and the content they make.
func colocatedUpload(t *testing.T, ctx context.Context, tc *testCluster, via, key string, sizes ...int) ([]string, []byte) {
	t.Helper()
	var parts []string
	var want []byte
	for i, n := range sizes {
		p := placement.Colocate(key, fmt.Sprintf(".s3/uploads/u/%05d", i+1))
		body := pattern(byte(i+7), n)
		if _, err := tc.put(ctx, via, p, body); err != nil {
			t.Fatal(err)
		}
		parts, want = append(parts, p), append(want, body...)
	}
	waitStragglers(t, tc)
	return parts, want
}

// applyOn writes body under key on the homes ids only, at one new
// version, as replica applies with no hint: a write the other homes
// missed and nothing has repaired yet.
func applyOn(t *testing.T, ctx context.Context, tc *testCluster, key string, body []byte, ids ...string) {
	t.Helper()
	version := tc.node(ids[0]).store.NextVersion()
	for _, id := range ids {
		if _, err := tc.node(id).c.ApplyPut(ctx, key, bytes.NewReader(body), int64(len(body)), blockstore.PutOptions{Version: version}); err != nil {
			t.Fatal(err)
		}
	}
}

// localBytes reads key from node id's own store (no cluster read).
func localBytes(t *testing.T, ctx context.Context, tc *testCluster, id, key string) []byte {
	t.Helper()
	obj, err := tc.node(id).store.Open(ctx, key)
	if err != nil {
		t.Fatalf("%s: open %q locally: %v", id, key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("%s: read %q locally: %v", id, key, err)
	}
	return data
}

type traffic struct{ puts, ranges, composes int64 }

func trafficOf(tc *testCluster) traffic {
	var tr traffic
	for _, n := range tc.nodes {
		tr.puts += n.putReplicas.Load()
		tr.ranges += n.openRanges.Load()
		tr.composes += n.composes.Load()
	}
	return tr
}

// Co-located parts are composed on each home in its own store: no replica
// PUT, no range read (no content byte moves), every home holds the blob at
// one version and none of the parts.
func TestComposeColocatedInPlace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := newTestClusterOn(t, 4, nil, tieredLocalOnMemfs)
	key := tc.keyWithHomes("bucket/obj", true, "n1", "n2", "n3")
	parts, want := colocatedUpload(t, ctx, tc, "n2", key, 5000, 300<<10+7, 1)
	if got := tc.homes(parts[1]); fmt.Sprint(got) != fmt.Sprint(tc.homes(key)) {
		t.Fatalf("part homes %v, key homes %v", got, tc.homes(key))
	}
	before := trafficOf(tc)
	meta := map[string]string{"X-Strata-S3-Etag": "abc-3"}
	// n4 is not a home: it coordinates without holding anything.
	info, err := tc.node("n4").c.Compose(ctx, key, parts, blockstore.ComposeOptions{ContentType: "a/b", Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	after := trafficOf(tc)
	if after.puts != before.puts || after.ranges != before.ranges {
		t.Fatalf("compose moved bytes: replica puts %d -> %d, range reads %d -> %d", before.puts, after.puts, before.ranges, after.ranges)
	}
	if after.composes-before.composes != 3 {
		t.Fatalf("%d replica composes, want 3", after.composes-before.composes)
	}
	if info.Size != int64(len(want)) || info.Meta["X-Strata-S3-Etag"] != "abc-3" {
		t.Fatalf("Compose: %+v", info)
	}
	if got := tc.holding(key, info.Version); len(got) != 3 {
		t.Fatalf("held at %d by %v, want the three homes", info.Version, got)
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		if got := localBytes(t, ctx, tc, id, key); !bytes.Equal(got, want) {
			t.Fatalf("%s holds %d bytes, want %d", id, len(got), len(want))
		}
		for _, p := range parts {
			if e, err := tc.node(id).store.Lookup(ctx, p); err == nil && !e.Deleted {
				t.Fatalf("%s still holds part %q", id, p)
			}
		}
	}
	for _, n := range tc.nodes {
		if data, _, err := tc.readAll(ctx, n.id, key); err != nil || !bytes.Equal(data, want) {
			t.Fatalf("read via %s: %d bytes, %v", n.id, len(data), err)
		}
	}
}

// A home that missed a part gets it copied from a home that has it, then
// composes (or gets the composed blob, when the others consumed the parts).
func TestComposeColocatedCopiesMissingPart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := newTestClusterOn(t, 4, nil, tieredLocalOnMemfs)
	key := tc.keyWithHomes("bucket/obj", true, "n1", "n2", "n3")
	parts, _ := colocatedUpload(t, ctx, tc, "n1", key, 4000)
	// The second part reaches n1 and n2 only (replica applies, no hint:
	// a write n3 missed whose repair has not happened yet).
	body := pattern(9, 10)
	p2 := placement.Colocate(key, ".s3/uploads/u/00002")
	applyOn(t, ctx, tc, p2, body, "n1", "n2")
	parts = append(parts, p2)
	want := append(localBytes(t, ctx, tc, "n1", parts[0]), body...)
	before := trafficOf(tc)
	info, err := tc.node("n1").c.Compose(ctx, key, parts, blockstore.ComposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	// A copy reached n3: the missing part (then n3 composed), or, when
	// n1 and n2 had composed and dropped the parts first, the composed
	// blob (a read repair of the part, started by the coordinator's Stat,
	// may add one).
	if after := trafficOf(tc); after.puts-before.puts < 1 {
		t.Fatalf("replica puts %d, want the copy to n3", after.puts-before.puts)
	}
	if got := localBytes(t, ctx, tc, "n3", key); !bytes.Equal(got, want) {
		t.Fatalf("n3 holds %d bytes, want %d", len(got), len(want))
	}
	if got := tc.holding(key, info.Version); len(got) != 3 {
		t.Fatalf("held by %v, want the three homes", got)
	}
}

// One home down during the compose: W acks succeed, the dead home is
// hinted the composed key and the parts' tombstones, and replaying them
// (copyEntry, as hint replay does) leaves it the blob and no parts.
func TestComposeColocatedDeadHomeConverges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := newTestClusterOn(t, 4, nil, tieredLocalOnMemfs)
	key := tc.keyWithHomes("bucket/obj", true, "n1", "n2", "n3")
	parts, want := colocatedUpload(t, ctx, tc, "n1", key, 3000, 17)
	tc.setDead("n3")
	info, err := tc.node("n1").c.Compose(ctx, key, parts, blockstore.ComposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	hinted := map[string]hintReq{}
	n1 := tc.node("n1")
	n1.mu.Lock()
	for _, h := range n1.hints {
		if h.target == "n3" {
			hinted[h.key] = h
		}
	}
	n1.mu.Unlock()
	if h, ok := hinted[key]; !ok || h.version != info.Version || h.deleted {
		t.Fatalf("hints for n3: %+v, want %q at %d", hinted, key, info.Version)
	}
	tc.node("n3").down.Store(false)
	tc.roster.setState("n3", membership.Alive)
	tc.refresh()
	src, dst := membership.Member{ID: "n1", HTTPAddr: n1.addr}, membership.Member{ID: "n3", HTTPAddr: tc.node("n3").addr}
	for k, h := range hinted {
		e, err := n1.store.Lookup(ctx, k)
		if err != nil || e.Version < h.version {
			t.Fatalf("n1 holds %q at %+v, %v", k, e, err)
		}
		if _, err := n1.c.copyEntry(ctx, "n1", src, dst, k, e); err != nil {
			t.Fatal(err)
		}
	}
	if got := localBytes(t, ctx, tc, "n3", key); !bytes.Equal(got, want) {
		t.Fatalf("n3 after the hints: %d bytes, want %d", len(got), len(want))
	}
	for _, p := range parts {
		if e, err := tc.node("n3").store.Lookup(ctx, p); err == nil && !e.Deleted {
			t.Fatalf("n3 still holds part %q", p)
		}
	}
}

// Two of three homes down: 503 no_quorum before anything is applied, and
// the parts stay readable.
func TestComposeColocatedNoQuorum(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := newTestClusterOn(t, 4, nil, tieredLocalOnMemfs)
	key := tc.keyWithHomes("bucket/obj", true, "n1", "n2", "n3")
	parts, _ := colocatedUpload(t, ctx, tc, "n1", key, 100)
	tc.setDead("n1")
	tc.setDead("n2")
	if _, err := tc.node("n4").c.Compose(ctx, key, parts, blockstore.ComposeOptions{}); !errors.Is(err, replication.ErrNoQuorum) {
		t.Fatalf("compose with two homes down: %v, want ErrNoQuorum", err)
	}
	waitStragglers(t, tc)
	if e, err := tc.node("n3").store.Lookup(ctx, parts[0]); err != nil || e.Deleted {
		t.Fatalf("n3's part after a failed compose: %+v, %v", e, err)
	}
	if _, err := tc.node("n3").store.Lookup(ctx, key); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("a failed compose left the key on n3: %v", err)
	}
}

// A home behind on a part (it holds an older version of it: a re-upload
// it missed) must not compose its stale copy at the new blob's version:
// the compose pins the versions the quorum read saw, the stale home gets
// the current part copied, and every home ends with the same bytes.
func TestComposeColocatedStalePartIsCopiedFirst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := newTestClusterOn(t, 4, nil, tieredLocalOnMemfs)
	key := tc.keyWithHomes("bucket/stale", true, "n1", "n2", "n3")
	parts, _ := colocatedUpload(t, ctx, tc, "n1", key, 4000, 3000)
	// Part 2 uploaded again: n1 and n2 take it, n3 keeps the old bytes.
	body := pattern(42, 3000)
	applyOn(t, ctx, tc, parts[1], body, "n1", "n2")
	want := append(localBytes(t, ctx, tc, "n1", parts[0]), body...)
	info, err := tc.node("n1").c.Compose(ctx, key, parts, blockstore.ComposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	wantComposedOnHomes(t, ctx, tc, key, want, info.Version)
}

// wantComposedOnHomes checks that the homes n1, n2 and n3 each hold key
// with the bytes want, at version.
func wantComposedOnHomes(t *testing.T, ctx context.Context, tc *testCluster, key string, want []byte, version uint64) {
	t.Helper()
	for _, id := range []string{"n1", "n2", "n3"} {
		if got := localBytes(t, ctx, tc, id, key); !bytes.Equal(got, want) {
			t.Fatalf("%s holds other bytes for the composed blob (%d bytes, want %d)", id, len(got), len(want))
		}
	}
	if got := tc.holding(key, version); len(got) != 3 {
		t.Fatalf("held by %v, want the three homes", got)
	}
}

// A compose that reached one home of three (the others stalled: no
// quorum) consumed that home's parts; a retry at the same version (what
// the S3 API does for a Complete retried after a 503) composes on the
// homes that still hold the parts, the one that composed answers from its
// blob, and every home ends with the same bytes at that version.
func TestComposeColocatedRetryAfterPartialCompose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := newTestClusterOn(t, 4, func(o *Options) { o.ReplicaTimeout = 200 * time.Millisecond }, tieredLocalOnMemfs)
	key := tc.keyWithHomes("bucket/retry", false, "n1", "n2", "n3")
	parts, want := colocatedUpload(t, ctx, tc, "n1", key, 4000, 3000)
	tc.node("n2").stall.Store(true)
	tc.node("n3").stall.Store(true)
	if _, err := tc.node("n1").c.Compose(ctx, key, parts, blockstore.ComposeOptions{}); !errors.Is(err, replication.ErrNoQuorum) {
		t.Fatalf("compose with two homes stalled: %v, want ErrNoQuorum", err)
	}
	waitStragglers(t, tc)
	tc.node("n2").stall.Store(false)
	tc.node("n3").stall.Store(false)
	composed, err := tc.node("n1").store.Lookup(ctx, key)
	if err != nil || composed.Deleted {
		t.Fatalf("n1 did not compose: %+v, %v", composed, err)
	}
	if e, err := tc.node("n2").store.Lookup(ctx, parts[0]); err != nil || e.Deleted {
		t.Fatalf("n2's part after its compose failed: %+v, %v", e, err)
	}

	info, err := tc.node("n1").c.Compose(ctx, key, parts, blockstore.ComposeOptions{Version: composed.Version})
	if err != nil {
		t.Fatalf("compose retried at the first attempt's version: %v", err)
	}
	if info.Version != composed.Version || info.Size != int64(len(want)) {
		t.Fatalf("retry answered %+v, want version %x and %d bytes", info, composed.Version, len(want))
	}
	waitStragglers(t, tc)
	wantComposedOnHomes(t, ctx, tc, key, want, composed.Version)
	for _, p := range parts {
		if _, err := tc.node("n2").c.Stat(ctx, p); !errors.Is(err, blockstore.ErrNotFound) {
			t.Fatalf("part %q after the retried compose: %v", p, err)
		}
	}
}

// A compose that reached every home but whose answer was lost (the
// coordinator's reply to the client failed after the homes composed): the
// parts are consumed everywhere, so a retry at the composed version (what
// the S3 API does for a Complete retried after a timeout) answers the
// composed blob's Info, changing nothing; a retry at another version is
// still ErrNotFound (InvalidPart to an S3 client).
func TestComposeColocatedRetryAfterLostAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := newTestClusterOn(t, 4, nil, tieredLocalOnMemfs)
	key := tc.keyWithHomes("bucket/lost", false, "n1", "n2", "n3")
	parts, want := colocatedUpload(t, ctx, tc, "n1", key, 4000, 3000)
	meta := map[string]string{"X-Strata-S3-Etag": "abc-2"}
	first, err := tc.node("n1").c.Compose(ctx, key, parts, blockstore.ComposeOptions{Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	// The answer is dropped here: the client knows nothing of first.
	waitStragglers(t, tc)
	wantComposedOnHomes(t, ctx, tc, key, want, first.Version)

	for _, tcase := range []struct {
		name    string
		via     string
		version uint64
		wantErr error
	}{
		{"retry at the composed version", "n2", first.Version, nil},
		{"retry via a non-home", "n4", first.Version, nil},
		{"retry at another version", "n1", first.Version + 1, blockstore.ErrNotFound},
	} {
		info, err := tc.node(tcase.via).c.Compose(ctx, key, parts, blockstore.ComposeOptions{Meta: meta, Version: tcase.version})
		if !errors.Is(err, tcase.wantErr) || (tcase.wantErr != nil) != (err != nil) {
			t.Fatalf("%s: %v, want %v", tcase.name, err, tcase.wantErr)
		}
		if err == nil && (info.Version != first.Version || info.Size != int64(len(want)) || info.Key != key || !maps.Equal(info.Meta, meta)) {
			t.Fatalf("%s answered %+v, want version %x, %d bytes, meta %v", tcase.name, info, first.Version, len(want), meta)
		}
	}
	waitStragglers(t, tc)
	wantComposedOnHomes(t, ctx, tc, key, want, first.Version)
	// One home down: two of three still hold it, W=2, the retry succeeds.
	tc.setDead("n3")
	if _, err := tc.node("n1").c.Compose(ctx, key, parts, blockstore.ComposeOptions{Meta: meta, Version: first.Version}); err != nil {
		t.Fatalf("retry with one home down: %v", err)
	}
	// Two down: fewer than W answer for the blob, nothing to compose: not found.
	tc.setDead("n2")
	if _, err := tc.node("n1").c.Compose(ctx, key, parts, blockstore.ComposeOptions{Meta: meta, Version: first.Version}); err == nil {
		t.Fatal("retry with two homes down succeeded")
	}
}
