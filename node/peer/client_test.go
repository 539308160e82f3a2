package peer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"strata/blockstore"
	"strata/node/peer"
	"strata/node/replication"
)

// version is an HLC-like version: wall ms << 16 | counter.
func version(ms int64, counter uint64) uint64 { return uint64(ms)<<16 | counter }

func TestPutReplicaRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	big := bytes.Repeat([]byte("0123456789abcdef"), 80<<10) // 1.25 MiB: several stream buffers
	for _, tc := range []struct {
		name, key, ctype string
		data             []byte
		size             int64 // -1: unknown
	}{
		{"known size", "plain", "text/plain", []byte("hello"), 5},
		{"unknown size", "chunked", "", []byte("hello, chunked"), -1},
		{"empty", "empty", "", nil, 0},
		{"empty unknown size", "empty2", "", nil, -1},
		{"escaped key", "a/b c%d?e#f é/../x", "application/x-y", []byte("odd key"), 7},
		{"large", "large", "", big, int64(len(big))},
		{"large unknown size", "large2", "", big, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := version(1_700_000_000_000, 1)
			info, err := e.client.PutReplica(ctx, e.addr, tc.key, bytes.NewReader(tc.data), tc.size, blockstore.PutOptions{ContentType: tc.ctype, Version: v})
			if err != nil {
				t.Fatalf("PutReplica: %v", err)
			}
			if info.Key != tc.key || info.Version != v || info.Size != int64(len(tc.data)) || info.ContentType != tc.ctype || !info.ModTime.Equal(modTimeOf(v)) {
				t.Fatalf("PutReplica = %+v; want key %q version %d size %d type %q", info, tc.key, v, len(tc.data), tc.ctype)
			}
			rec, _ := e.backend.get(tc.key)
			if !bytes.Equal(rec.data, tc.data) || rec.entry.ContentType != tc.ctype {
				t.Fatalf("backend holds %d bytes type %q; want %d bytes type %q", len(rec.data), rec.entry.ContentType, len(tc.data), tc.ctype)
			}
			// The same key and bytes read back through the blob route.
			r, got, err := e.client.OpenRange(ctx, e.addr, tc.key, v, 0, -1)
			if err != nil {
				t.Fatalf("OpenRange: %v", err)
			}
			defer r.Close()
			b, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(b, tc.data) {
				t.Fatalf("read back %d bytes, %v; want %d bytes", len(b), err, len(tc.data))
			}
			if got.Version != v || got.Checksum != rec.entry.Checksum || got.Size != int64(len(tc.data)) || got.ContentType != tc.ctype || !got.ModTime.Equal(info.ModTime) || got.ChunkSize != info.ChunkSize {
				t.Fatalf("OpenRange info %+v; want %+v", got, info)
			}
		})
	}
}

func TestPutReplicaLastWriterWins(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	newer, older := version(2000, 0), version(1000, 0)
	if _, err := e.client.PutReplica(ctx, e.addr, "k", strings.NewReader("new"), 3, blockstore.PutOptions{Version: newer}); err != nil {
		t.Fatal(err)
	}
	info, err := e.client.PutReplica(ctx, e.addr, "k", strings.NewReader("old"), 3, blockstore.PutOptions{Version: older})
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != newer {
		t.Fatalf("an older write answered version %d; want the newer %d the peer holds", info.Version, newer)
	}
	if rec, _ := e.backend.get("k"); string(rec.data) != "new" {
		t.Fatalf("peer holds %q; want new", rec.data)
	}
}

func TestPutReplicaSourceOfWrongSize(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		src  io.Reader
		size int64
		want error
	}{
		{"shorter than size", strings.NewReader("12345"), 10, blockstore.ErrSizeMismatch},
		{"longer than size", strings.NewReader("12345"), 3, blockstore.ErrSizeMismatch},
		{"source fails", io.MultiReader(strings.NewReader("12"), iotest.ErrReader(errors.New("disk on fire"))), -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.PutReplica(ctx, e.addr, "k-"+tc.name, tc.src, tc.size, blockstore.PutOptions{Version: 9})
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("PutReplica = %v; want an error wrapping %v", err, tc.want)
			}
			if s := e.backend.state(); s != "" {
				t.Fatalf("backend stored something:\n%s", s)
			}
		})
	}
}

func TestDeleteAndLookup(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.client.Lookup(ctx, e.addr, "k"); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("Lookup of a missing key: %v; want ErrNotFound", err)
	}
	v1, v2 := version(1000, 1), version(1000, 2)
	if _, err := e.client.PutReplica(ctx, e.addr, "k", strings.NewReader("x"), 1, blockstore.PutOptions{Version: v1, ContentType: "a/b"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.Lookup(ctx, e.addr, "k")
	if err != nil || got.Version != v1 || got.Deleted || got.Size != 1 || got.ContentType != "a/b" {
		t.Fatalf("Lookup = %+v, %v; want the blob at %d", got, err, v1)
	}
	if err := e.client.DeleteReplica(ctx, e.addr, "k", v2); err != nil {
		t.Fatalf("DeleteReplica: %v", err)
	}
	got, err = e.client.Lookup(ctx, e.addr, "k")
	if err != nil || got.Version != v2 || !got.Deleted || !got.ModTime.Equal(modTimeOf(v2)) {
		t.Fatalf("Lookup after delete = %+v, %v; want a tombstone at %d", got, err, v2)
	}
	if _, _, err := e.client.OpenRange(ctx, e.addr, "k", 0, 0, -1); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("OpenRange of a tombstone: %v; want ErrNotFound", err)
	}
	e.backend.set(blockstore.Entry{Info: blockstore.Info{Key: "bad", Version: v1}, Corrupt: true}, nil)
	got, err = e.client.Lookup(ctx, e.addr, "bad")
	if err != nil || !got.Corrupt || got.Version != v1 {
		t.Fatalf("Lookup of a corrupt entry = %+v, %v", got, err)
	}
	if err := e.client.DeleteReplica(ctx, e.addr, "k", 0); !errors.Is(err, blockstore.ErrInvalidArgument) {
		t.Fatalf("DeleteReplica at version 0: %v; want ErrInvalidArgument", err)
	}
}

func TestOpenRange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	data := make([]byte, 700<<10)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	v := version(5000, 3)
	e.backend.set(blockstore.Entry{Info: blockstore.Info{Key: "k", Version: v, ContentType: "x/y", ModTime: modTimeOf(v)}}, data)
	size := int64(len(data))
	for _, tc := range []struct {
		name        string
		off, length int64
		minVersion  uint64
		want        []byte
		err         error
	}{
		{"whole", 0, -1, 0, data, nil},
		{"whole at the version", 0, -1, v, data, nil},
		{"head", 0, 10, 0, data[:10], nil},
		{"middle", 300 << 10, 200 << 10, 0, data[300<<10 : 500<<10], nil},
		{"to the end", size - 100, -1, 0, data[size-100:], nil},
		{"past the end clipped", size - 5, 100, 0, data[size-5:], nil},
		{"no bytes", 17, 0, 0, nil, nil},
		{"at the end", size, -1, 0, nil, nil},
		{"past the end", size + 1, -1, 0, nil, blockstore.ErrInvalidArgument},
		{"past the end, no bytes", size + 1, 0, 0, nil, blockstore.ErrInvalidArgument},
		{"newer version asked", 0, -1, v + 1, nil, replication.ErrVersionGone},
		{"negative offset", -1, 5, 0, nil, blockstore.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, info, err := e.client.OpenRange(ctx, e.addr, "k", tc.minVersion, tc.off, tc.length)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("OpenRange = %v; want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenRange: %v", err)
			}
			defer r.Close()
			if info.Version != v || info.Size != size || info.ContentType != "x/y" {
				t.Fatalf("info %+v", info)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("read %d bytes, %v; want %d bytes", len(got), err, len(tc.want))
			}
		})
	}
	if _, _, err := e.client.OpenRange(ctx, e.addr, "missing", 0, 0, -1); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("OpenRange of a missing key: %v", err)
	}
}

func TestOpenRangeCorrupt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("abcdefgh"), 128<<10) // 1 MiB
	e.backend.set(blockstore.Entry{Info: blockstore.Info{Key: "k", Version: 7}}, data)
	e.backend.set(blockstore.Entry{Info: blockstore.Info{Key: "gone", Version: 7}, Corrupt: true}, nil)

	// Known corrupt at open: an error answer, 503 "corrupt".
	if _, _, err := e.client.OpenRange(ctx, e.addr, "gone", 0, 0, -1); !errors.Is(err, blockstore.ErrCorrupt) {
		t.Fatalf("OpenRange of a corrupt entry: %v; want ErrCorrupt", err)
	}
	// Bad at the first byte: still an error answer.
	e.backend.configure(func(f *fakeBackend) { f.readErrAt["k"] = 0 })
	if _, _, err := e.client.OpenRange(ctx, e.addr, "k", 0, 0, -1); !errors.Is(err, blockstore.ErrCorrupt) {
		t.Fatalf("OpenRange failing at byte 0: %v; want ErrCorrupt", err)
	}
	// Bad mid-stream: the stream is cut, the reader fails, never io.EOF.
	const badAt = 600 << 10
	e.backend.configure(func(f *fakeBackend) { f.readErrAt["k"] = badAt })
	r, _, err := e.client.OpenRange(ctx, e.addr, "k", 0, 0, -1)
	if err != nil {
		t.Fatalf("OpenRange: %v", err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if !errors.Is(err, peer.ErrShortBody) {
		t.Fatalf("reading a stream cut mid-way: %d bytes, err %v; want ErrShortBody", len(got), err)
	}
	if len(got) >= badAt || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("got %d bytes before the error; want a correct prefix shorter than %d", len(got), badAt)
	}
	// Damage on the way (bytes that no longer match the blob's checksum) is
	// caught on a whole read: the read that would end it fails instead.
	e.backend.configure(func(f *fakeBackend) {
		delete(f.readErrAt, "k")
		r := f.records["k"]
		r.entry.Checksum ^= 1
		f.records["k"] = r
	})
	r3, _, err := e.client.OpenRange(ctx, e.addr, "k", 0, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r3.Close()
	if got, err := io.ReadAll(r3); !errors.Is(err, blockstore.ErrCorrupt) || len(got) == len(data) {
		t.Fatalf("whole read with a wrong checksum: %d of %d bytes, %v; want ErrCorrupt before the last bytes", len(got), len(data), err)
	}
	// A ranged read that stays before the bad spot is whole.
	r2, _, err := e.client.OpenRange(ctx, e.addr, "k", 0, 100, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if got, err := io.ReadAll(r2); err != nil || !bytes.Equal(got, data[100:1100]) {
		t.Fatalf("range before the bad spot: %d bytes, %v", len(got), err)
	}
}

func TestDigestAndEntries(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.backend.configure(func(f *fakeBackend) {
		f.digest = replication.Digest{View: 0xfeedface12345678, Buckets: []uint64{0, 1, 1<<64 - 1, 42}}
	})
	d, err := e.client.Digest(ctx, e.addr, "n1")
	if want := (replication.Digest{View: 0xfeedface12345678, Buckets: []uint64{0, 1, 1<<64 - 1, 42}}); err != nil || d.View != want.View || !slices.Equal(d.Buckets, want.Buckets) {
		t.Fatalf("Digest = %+v, %v", d, err)
	}
	for i, k := range []string{"a", "b", "c", "d/e"} {
		e.backend.set(blockstore.Entry{Info: blockstore.Info{Key: k, Version: uint64(10 + i), ModTime: modTimeOf(uint64(10 + i))}, Deleted: k == "c"}, nil)
	}
	got, err := e.client.Entries(ctx, e.addr, "n1", []int{1, 5, 1023}, "a", 2)
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
	if len(got) != 2 || got[0].Key != "b" || got[1].Key != "c" || !got[1].Deleted || got[0].Version != 11 {
		t.Fatalf("Entries = %+v; want b, then c deleted", got)
	}
	got, err = e.client.Entries(ctx, e.addr, "n1", nil, "", peer.MaxEntriesLimit+5)
	if err != nil || len(got) != 4 {
		t.Fatalf("Entries of everything = %d, %v", len(got), err)
	}
	calls := e.backend.callLog()
	want := []string{"digest n1", `entries n1 [1 5 1023] after "a" limit 2`, fmt.Sprintf(`entries n1 [] after "" limit %d`, peer.MaxEntriesLimit)}
	if !slices.Equal(calls, want) {
		t.Fatalf("backend calls %q; want %q", calls, want)
	}
	if _, err := e.client.Entries(ctx, e.addr, "n1", nil, "", 0); !errors.Is(err, blockstore.ErrInvalidArgument) {
		t.Fatalf("Entries with limit 0: %v", err)
	}
}

// Every error a Backend returns comes back from the Client wrapping the
// same sentinel.
func TestBackendErrorsKeepTheirSentinel(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, sentinel := range []error{
		blockstore.ErrNotFound, blockstore.ErrCorrupt, blockstore.ErrNoSpace, blockstore.ErrReadOnly,
		blockstore.ErrTooLarge, blockstore.ErrClosed, blockstore.ErrInvalidKey, blockstore.ErrInvalidArgument,
		blockstore.ErrSizeMismatch, replication.ErrVersionGone, replication.ErrNoQuorum, context.DeadlineExceeded,
	} {
		e.backend.configure(func(f *fakeBackend) { f.fail = fmt.Errorf("deep inside: %w", sentinel) })
		calls := map[string]error{}
		_, calls["put"] = e.client.PutReplica(ctx, e.addr, "k", strings.NewReader("x"), 1, blockstore.PutOptions{Version: 1})
		calls["delete"] = e.client.DeleteReplica(ctx, e.addr, "k", 1)
		_, calls["lookup"] = e.client.Lookup(ctx, e.addr, "k")
		_, _, calls["open"] = e.client.OpenRange(ctx, e.addr, "k", 0, 0, -1)
		_, calls["digest"] = e.client.Digest(ctx, e.addr, "n1")
		_, calls["entries"] = e.client.Entries(ctx, e.addr, "n1", nil, "", 10)
		for name, err := range calls {
			if !errors.Is(err, sentinel) {
				t.Errorf("%s with a backend failing with %v: %v", name, sentinel, err)
			}
		}
	}
	e.backend.configure(func(f *fakeBackend) { f.fail = errors.New("something unexpected") })
	if err := e.client.DeleteReplica(ctx, e.addr, "k", 1); !errors.Is(err, peer.ErrPeerFailed) {
		t.Fatalf("an unknown backend error: %v; want ErrPeerFailed", err)
	}
}

func TestClientRefusesBadOptionsAndAddresses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, opts := range []peer.ClientOptions{
		{NodeID: "n1"},
		{Secret: testSecret},
		{Secret: testSecret, NodeID: "n 1"},
		{Secret: testSecret, NodeID: "n\n1"},
	} {
		c := e.newClient(opts, nil)
		if _, err := c.Lookup(ctx, e.addr, "k"); !errors.Is(err, peer.ErrBadOptions) {
			t.Errorf("a client with options %+v: %v; want ErrBadOptions", opts, err)
		}
	}
	for _, addr := range []string{"", "host", "host:80/x", "user@host:80", "http://host:80"} {
		if _, err := e.client.Lookup(ctx, addr, "k"); !errors.Is(err, peer.ErrBadOptions) {
			t.Errorf("address %q: %v; want ErrBadOptions", addr, err)
		}
	}
	if _, err := e.client.Lookup(ctx, e.addr, ""); !errors.Is(err, blockstore.ErrInvalidKey) {
		t.Errorf("an empty key: %v; want ErrInvalidKey", err)
	}
	if _, err := e.client.PutReplica(ctx, e.addr, "k", strings.NewReader("x"), 1, blockstore.PutOptions{Version: 1, ContentType: "a\nb"}); !errors.Is(err, blockstore.ErrInvalidArgument) {
		t.Errorf("a content type with a newline: %v; want ErrInvalidArgument", err)
	}
	if len(e.backend.callLog()) != 0 {
		t.Fatalf("backend was called: %q", e.backend.callLog())
	}
}

func TestUnreachablePeer(t *testing.T) {
	e := newEnv(t)
	addr := e.addr
	e.srv.Close() // nothing listens there now
	if _, err := e.client.Lookup(context.Background(), addr, "k"); !errors.Is(err, peer.ErrUnreachable) {
		t.Fatalf("Lookup of a stopped peer: %v; want ErrUnreachable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.client.Lookup(ctx, addr, "k"); !errors.Is(err, peer.ErrUnreachable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Lookup with a cancelled context: %v; want ErrUnreachable and context.Canceled", err)
	}
}

// A peer that stops sending a body mid-way is cut off after the progress
// timeout: the handler answers, the store keeps nothing.
func TestStalledBodyIsCutOff(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.handler.ProgressTimeout = 50 * time.Millisecond })
	src, feed := io.Pipe()
	t.Cleanup(func() { feed.Close() })
	go func() { _, _ = feed.Write([]byte("the first bytes")) }() // and then nothing
	// The deadline only turns a missing cut-off into a failure instead of a
	// hang; a caller cuts a replica off by ending ctx and closing its reader.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	context.AfterFunc(ctx, func() { feed.CloseWithError(ctx.Err()) })
	_, err := e.client.PutReplica(ctx, e.addr, "k", src, 1<<20, blockstore.PutOptions{Version: 3})
	if !errors.Is(err, peer.ErrShortBody) {
		t.Fatalf("stalled body: %v; want the peer's short_body answer", err)
	}
	if s := e.backend.state(); s != "" {
		t.Fatalf("backend stored:\n%s", s)
	}
}
