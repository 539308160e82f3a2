package tiering

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"maps"
	"testing"

	"strata/blockstore"
)

// TestComposeThroughTiers: Meta and MD5 pass through Put and Stat;
// Compose reaches the backend, drops the parts' and the old key's cached
// items, and the composed blob reads through the tiers.
func TestComposeThroughTiers(t *testing.T) {
	ctx := context.Background()
	e := openReal(t, t.TempDir())
	defer e.s.Close()
	meta := map[string]string{"X-Amz-Meta-A": "1", "Content-Encoding": "gzip"}
	var parts []string
	var want []byte
	var cached []blockstore.Info
	for i, n := range []int{3000, 300 << 10, 10} { // 300 KiB: two backend chunks
		key := fmt.Sprintf("up/%d", i)
		d := randBytes(uint64(i+1), n)
		info, err := e.s.Put(ctx, key, bytes.NewReader(d), int64(n), blockstore.PutOptions{Meta: meta, WantMD5: true})
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(d)
		if !maps.Equal(info.Meta, meta) || !bytes.Equal(info.MD5, sum[:]) {
			t.Fatalf("Put %q: meta %v md5 %x", key, info.Meta, info.MD5)
		}
		if st, err := e.s.Stat(ctx, key); err != nil || !maps.Equal(st.Meta, meta) || !bytes.Equal(st.MD5, sum[:]) {
			t.Fatalf("Stat %q: %+v %v", key, st, err)
		}
		e.get(t, key, d) // cache it
		parts, want = append(parts, key), append(want, d...)
		cached = append(cached, info)
	}
	old, err := e.s.Put(ctx, "obj", bytes.NewReader([]byte("old")), 3, blockstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.get(t, "obj", []byte("old"))
	cached = append(cached, old)
	inRAM := func(i blockstore.Info) bool {
		return e.s.ram.containsQuietly(ramKey{key: i.Key, version: i.Version, sum: i.Checksum})
	}
	if !inRAM(cached[0]) || !inRAM(old) {
		t.Fatal("the small part and the old key are not in RAM: the test cannot see invalidation")
	}
	info, err := e.s.Compose(ctx, "obj", parts, blockstore.ComposeOptions{Meta: map[string]string{"X-Strata-S3-Etag": "x-3"}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(want)) || info.Meta["X-Strata-S3-Etag"] != "x-3" {
		t.Fatalf("Compose: %+v", info)
	}
	for _, c := range cached {
		if inRAM(c) {
			t.Errorf("%q version %d is still cached", c.Key, c.Version)
		}
	}
	for _, p := range parts {
		if _, err := e.s.Open(ctx, p); !errors.Is(err, blockstore.ErrNotFound) {
			t.Errorf("part %q: %v", p, err)
		}
	}
	e.get(t, "obj", want)
	if tier := e.get(t, "obj", want); tier == string(TierHDD) {
		t.Errorf("second read of the composed blob came from %s", tier)
	}
}

func TestComposeWithoutComposer(t *testing.T) {
	e := openEnv(t, smallOpts(t, newFakeBackend(64<<10)))
	e.put("a", []byte("x"))
	if _, err := e.s.Compose(context.Background(), "b", []string{"a"}, blockstore.ComposeOptions{}); !errors.Is(err, ErrNoCompose) {
		t.Fatalf("err %v, want ErrNoCompose", err)
	}
	e.mustGet("a", []byte("x"))
}
