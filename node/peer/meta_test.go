package peer_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"testing"

	"strata/blockstore"
	"strata/node/peer"
)

// TestReplicaMetaRoundTrip: a replica write's metadata and MD5 request
// reach the backend; the Info answered, a read's headers and a lookup all
// carry them back.
func TestReplicaMetaRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	meta := map[string]string{"X-Amz-Meta-Color": "blüe, \"quoted\"", "Content-Encoding": "gzip", "X-Strata-S3-Etag": "abc-2"}
	data := []byte("replicated body")
	sum := md5.Sum(data)
	known := md5.Sum([]byte("the coordinator's digest"))
	v := version(1_700_000_000_000, 2)
	for _, tc := range []struct {
		name    string
		meta    map[string]string
		wantMD5 bool
		known   []byte // PutOptions.MD5: carried to the replica, not computed there
	}{
		{"meta and md5", meta, true, nil},
		{"md5 only", nil, true, nil},
		{"meta only", meta, false, nil},
		{"neither", nil, false, nil},
		{"known md5", meta, false, known[:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "k/" + tc.name
			var wantSum []byte
			if tc.wantMD5 {
				wantSum = sum[:]
			}
			if tc.known != nil {
				wantSum = tc.known
			}
			check := func(when string, i blockstore.Info) {
				t.Helper()
				if !maps.Equal(i.Meta, tc.meta) || (i.Meta == nil) != (tc.meta == nil) || !bytes.Equal(i.MD5, wantSum) || (i.MD5 == nil) != (wantSum == nil) {
					t.Fatalf("%s: meta %v md5 %x; want %v %x", when, i.Meta, i.MD5, tc.meta, wantSum)
				}
			}
			info, err := e.client.PutReplica(ctx, e.addr, key, bytes.NewReader(data), int64(len(data)), blockstore.PutOptions{Version: v, Meta: tc.meta, WantMD5: tc.wantMD5, MD5: tc.known})
			if err != nil {
				t.Fatal(err)
			}
			check("PutReplica", info)
			rec, _ := e.backend.get(key)
			check("backend", rec.entry.Info)
			r, got, err := e.client.OpenRange(ctx, e.addr, key, v, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, r)
			r.Close()
			check("OpenRange", got)
			ent, err := e.client.Lookup(ctx, e.addr, key)
			if err != nil {
				t.Fatal(err)
			}
			check("Lookup", ent.Info)
		})
	}
}

// TestReplicaMetaSigned: the metadata is in the signed query, so a
// changed or added one is refused and nothing is stored.
func TestReplicaMetaSigned(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for name, tamper := range map[string]func(q url.Values){
		"meta changed": func(q url.Values) { q.Set("meta", `{"X-Amz-Meta-A":"evil"}`) },
		"meta added":   func(q url.Values) { q.Set("meta", `{"X-Amz-Meta-B":"x"}`) },
		"md5 dropped":  func(q url.Values) { q.Del("md5") },
	} {
		t.Run(name, func(t *testing.T) {
			c := e.newClient(peer.ClientOptions{Secret: testSecret, NodeID: "n1"}, func(r *http.Request) {
				q := r.URL.Query()
				tamper(q)
				r.URL.RawQuery = q.Encode()
			})
			key := "signed/" + name
			_, err := c.PutReplica(ctx, e.addr, key, bytes.NewReader([]byte("x")), 1, blockstore.PutOptions{Version: version(1_700_000_000_000, 3), Meta: map[string]string{"X-Amz-Meta-A": "good"}, WantMD5: true})
			if !errors.Is(err, peer.ErrUnauthenticated) {
				t.Fatalf("err %v, want ErrUnauthenticated", err)
			}
			if _, ok := e.backend.get(key); ok {
				t.Fatal("a tampered write was stored")
			}
		})
	}
	// Metadata a store would refuse is refused before anything is sent.
	if _, err := e.client.PutReplica(ctx, e.addr, "bad", bytes.NewReader([]byte("x")), 1, blockstore.PutOptions{Version: 5, Meta: map[string]string{"bad name": "v"}}); !errors.Is(err, blockstore.ErrInvalidArgument) {
		t.Fatalf("bad meta: %v", err)
	}
}
