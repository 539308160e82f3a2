package cluster

import (
	"context"
	"io"
	"runtime"
	"testing"

	"strata/blockstore"
)

// genReader yields n bytes of a repeating pattern without holding them.
type genReader struct {
	left  int64
	off   int
	block []byte
}

func newGenReader(seed byte, n int64) *genReader {
	return &genReader{left: n, block: pattern(seed, 64<<10+13)}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.left)]
	n := 0
	for n < len(p) {
		c := copy(p[n:], g.block[g.off:])
		n += c
		g.off = (g.off + c) % len(g.block)
	}
	g.left -= int64(n)
	return n, nil
}

// A large PUT streams through the coordinator's one buffer to all three
// replicas: the heap allocated during it stays a small fraction of the
// blob, so nothing buffers it whole (not the fan-out, not a replica pipe).
func TestPutStreamsWithBoundedMemory(t *testing.T) {
	const size = 64 << 20
	const bound = 8 << 20
	tc := newTestCluster(t, 3, nil)
	for _, n := range tc.nodes {
		n.local.discard = true
	}
	// Warm the buffer pool and the goroutines' first allocations.
	if _, err := tc.node("n1").c.Put(context.Background(), "warm", newGenReader(1, 1<<20), 1<<20, blockstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	info, err := tc.node("n1").c.Put(context.Background(), "big", newGenReader(7, size), size, blockstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	waitStragglers(t, tc)
	if info.Size != size {
		t.Fatalf("stored %d bytes, want %d", info.Size, size)
	}
	if got := tc.holding("big", info.Version); len(got) != 3 {
		t.Fatalf("held by %v, want all three", got)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
		t.Errorf("a %d MiB PUT allocated %d KiB, want under %d KiB", size>>20, alloc>>10, bound>>10)
	} else {
		t.Logf("a %d MiB PUT to 3 replicas allocated %d KiB", size>>20, alloc>>10)
	}
}
