package peer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
	"strata/node/peer"
)

// discardBackend takes every put and keeps nothing: the benchmark measures
// the wire, not a store.
type discardBackend struct{ fakeBackend }

func (d *discardBackend) ApplyPut(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return blockstore.Info{}, err
	}
	return blockstore.Info{Key: key, Size: n, Version: opts.Version}, nil
}

// BenchmarkPutReplica measures what authentication costs a replica write:
// "signed" is Client.PutReplica through node.Server and the internal
// handler (HMAC of the request, SHA-256 of the body on both ends, chunked
// framing with the trailer MAC); "plain" is the same PUT through the same
// node.Server and transport to an unauthenticated handler that reads the
// body and answers the same JSON, with Content-Length.
func BenchmarkPutReplica(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		data := bytes.Repeat([]byte{0x5a}, size)
		b.Run(fmt.Sprintf("signed/%dKiB", size>>10), func(b *testing.B) {
			addr := benchServer(b, peer.NewHandler(peer.HandlerOptions{Secret: testSecret, Backend: &discardBackend{}}))
			c := peer.NewClient(peer.ClientOptions{Secret: testSecret, NodeID: "n1"})
			b.Cleanup(c.CloseIdleConnections)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := c.PutReplica(ctx, addr, "bench", bytes.NewReader(data), int64(size), blockstore.PutOptions{Version: uint64(i + 1)}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("plain/%dKiB", size>>10), func(b *testing.B) {
			addr := benchServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, err := io.Copy(io.Discard, r.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				info, _ := peer.EncodeInfo(blockstore.Info{Key: "bench", Size: n, Version: 1})
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", strconv.Itoa(len(info)))
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write(info)
			}))
			hc := peer.NewHTTPClient()
			b.Cleanup(hc.CloseIdleConnections)
			url := "http://" + addr + "/internal/v1/blobs/bench?version=1"
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// benchServer is a node.Server with h on the internal routes, on loopback.
func benchServer(b *testing.B, h http.Handler) string {
	srv, err := node.New(node.DefaultConfig(b.TempDir()), nodetest.NewMemStore(0), nil)
	if err != nil {
		b.Fatal(err)
	}
	srv.SetInternal(h)
	return newLoopbackServer(b, srv.Handler())
}
