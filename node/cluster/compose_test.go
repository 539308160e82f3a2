package cluster

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node/membership"
	"strata/node/replication"
)

// TestComposeOverRealStores: the coordinator streams the parts to the
// key's homes as one replicated PUT (W acks), the metadata with it, and
// deletes the parts afterwards; every node reads the composed bytes.
func TestComposeOverRealStores(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := newTestClusterOn(t, 4, nil, tieredLocalOnMemfs)
	var parts []string
	var want []byte
	for i, n := range []int{5000, 300<<10 + 7, 1} {
		p := fmt.Sprintf(".s3/uploads/u1/%d", i+1)
		body := pattern(byte(i+1), n)
		if _, err := tc.put(ctx, "n2", p, body); err != nil {
			t.Fatal(err)
		}
		parts, want = append(parts, p), append(want, body...)
	}
	waitStragglers(t, tc)
	meta := map[string]string{"X-Strata-S3-Etag": "abc-3", "Content-Encoding": "gzip"}
	info, err := tc.node("n1").c.Compose(ctx, "bucket/obj", parts, blockstore.ComposeOptions{ContentType: "a/b", Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	if info.Size != int64(len(want)) || !maps.Equal(info.Meta, meta) {
		t.Fatalf("Compose: %+v", info)
	}
	if got := tc.holding("bucket/obj", info.Version); len(got) != 3 {
		t.Fatalf("held by %v, want its three homes", got)
	}
	for _, n := range tc.nodes {
		data, _, err := tc.readAll(ctx, n.id, "bucket/obj")
		if err != nil || !bytes.Equal(data, want) {
			t.Fatalf("read via %s: %d bytes, %v", n.id, len(data), err)
		}
		if st, err := n.c.Stat(ctx, "bucket/obj"); err != nil || !maps.Equal(st.Meta, meta) || st.ContentType != "a/b" {
			t.Fatalf("stat via %s: %+v %v", n.id, st, err)
		}
	}
	for _, p := range parts {
		if _, err := tc.node("n3").c.Stat(ctx, p); !errors.Is(err, blockstore.ErrNotFound) {
			t.Fatalf("part %q: %v, want ErrNotFound", p, err)
		}
	}
}

func TestComposeRefusedOrNoQuorum(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := newTestClusterOn(t, 4, nil, tieredLocalOnMemfs)
	key := tc.keyWithHomes("obj", true, "n1", "n2", "n3")
	if _, err := tc.put(ctx, "n1", key, []byte("old")); err != nil {
		t.Fatal(err)
	}
	part := tc.keyWithHomes("part", true, "n2", "n3", "n4")
	if _, err := tc.put(ctx, "n1", part, []byte("part")); err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	c := tc.node("n4").c
	for name, tcase := range map[string]struct {
		parts []string
		opts  blockstore.ComposeOptions
		want  error
	}{
		"missing part": {parts: []string{part, "nope"}, want: blockstore.ErrNotFound},
		"no parts":     {want: blockstore.ErrInvalidArgument},
		"twice":        {parts: []string{part, part}, want: blockstore.ErrInvalidArgument},
		"an md5":       {parts: []string{part}, opts: blockstore.ComposeOptions{MD5: make([]byte, 16)}, want: blockstore.ErrInvalidArgument},
	} {
		if _, err := c.Compose(ctx, key, tcase.parts, tcase.opts); !errors.Is(err, tcase.want) {
			t.Errorf("%s: %v, want %v", name, err, tcase.want)
		}
	}
	// Two of the key's three homes down: no quorum, and the parts stay.
	tc.setDead("n1")
	tc.setDead("n2")
	if _, err := c.Compose(ctx, key, []string{part}, blockstore.ComposeOptions{}); !errors.Is(err, replication.ErrNoQuorum) {
		t.Fatalf("compose with two homes down: %v, want ErrNoQuorum", err)
	}
	waitStragglers(t, tc)
	if data, _, err := tc.readAll(ctx, "n4", part); err != nil || string(data) != "part" {
		t.Fatalf("the part after a failed compose: %q, %v", data, err)
	}
}

// TestMetaReplicated: a PUT's metadata and MD5 reach every home, and a
// copy made by repair (copyEntry, which hints, anti-entropy and rebalance
// use too) carries them to a home that missed the write.
func TestMetaReplicated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc := newTestClusterOn(t, 4, nil, tieredLocalOnMemfs)
	key := tc.keyWithHomes("m", true, "n1", "n2", "n3")
	body := pattern(4, 200<<10)
	sum := md5.Sum(body)
	meta := map[string]string{"X-Amz-Meta-A": "b", "Cache-Control": "no-cache"}
	tc.setDead("n3")
	info, err := tc.node("n1").c.Put(ctx, key, bytes.NewReader(body), int64(len(body)), blockstore.PutOptions{Meta: meta, WantMD5: true})
	if err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	check := func(id string) {
		t.Helper()
		e, err := tc.node(id).store.Lookup(ctx, key)
		if err != nil || e.Version != info.Version || !maps.Equal(e.Meta, meta) || !bytes.Equal(e.MD5, sum[:]) {
			t.Fatalf("%s holds %+v, %v", id, e.Info, err)
		}
	}
	check("n1")
	check("n2")
	tc.node("n3").down.Store(false)
	tc.roster.setState("n3", membership.Alive)
	tc.refresh()
	src, dst := tc.node("n2"), tc.node("n3")
	e, _ := src.store.Lookup(ctx, key)
	self := membership.Member{ID: "n1", HTTPAddr: tc.node("n1").addr}
	if _, err := tc.node("n1").c.copyEntry(ctx, self.ID, membership.Member{ID: src.id, HTTPAddr: src.addr}, membership.Member{ID: dst.id, HTTPAddr: dst.addr}, key, e); err != nil {
		t.Fatal(err)
	}
	check("n3")
}
