package peer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"strata/blockstore"
	"strata/node/peer"
)

// A compose travels signed (the part list in a MAC'd body) with the
// coordinator's version; the peer answers what it holds, or ErrNotFound
// for a missing part; a tampered body is refused before anything applies.
func TestComposeReplica(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, p := range []string{"p1", "p2"} {
		if _, err := e.client.PutReplica(ctx, e.addr, p, bytes.NewReader([]byte(p+"-data")), 7, blockstore.PutOptions{Version: 10}); err != nil {
			t.Fatal(err)
		}
	}
	opts := blockstore.ComposeOptions{Version: 20, ContentType: "a/b", Meta: map[string]string{"X-M": "1"}}
	info, err := e.client.ComposeReplica(ctx, e.addr, "obj", []string{"p1", "p2"}, opts)
	if err != nil || info.Version != 20 || info.Size != 14 || info.ContentType != "a/b" || info.Meta["X-M"] != "1" {
		t.Fatalf("ComposeReplica: %+v, %v", info, err)
	}
	if _, err := e.client.ComposeReplica(ctx, e.addr, "obj2", []string{"p1", "missing"}, blockstore.ComposeOptions{Version: 30}); !errors.Is(err, blockstore.ErrNotFound) {
		t.Fatalf("missing part: %v, want ErrNotFound", err)
	}
	if _, err := e.client.ComposeReplica(ctx, e.addr, "obj", []string{"p1"}, blockstore.ComposeOptions{}); !errors.Is(err, blockstore.ErrInvalidArgument) {
		t.Fatalf("version 0: %v", err)
	}
	before := len(e.backend.calls)
	tampered := e.newClient(peer.ClientOptions{Secret: testSecret, NodeID: "n1"}, func(r *http.Request) {
		wrapBody(r, func(b io.Reader) io.Reader { return &flipLast{r: b} })
	})
	if _, err := tampered.ComposeReplica(ctx, e.addr, "obj3", []string{"p1"}, blockstore.ComposeOptions{Version: 40}); err == nil {
		t.Fatal("a tampered compose body was accepted")
	}
	if got := len(e.backend.calls); got != before {
		t.Fatalf("a tampered compose reached the backend: %v", e.backend.calls[before:])
	}
}
