package cluster

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"testing"

	"strata/blockstore"
	"strata/node/replication"
)

var benchDigestKeys = flag.Int("digest.keys", 250_000, "keys in the index for BenchmarkDigestRebuild/Compare (1000000 for the per-million figure first hand)")

// scanLocal is a Local whose Scan walks a sorted slice, so a benchmark
// measures the digest work rather than a fake's sorting.
type scanLocal struct {
	*memLocal
	sorted []blockstore.Entry
}

func (l *scanLocal) Scan(ctx context.Context, startAfter string, limit int) ([]blockstore.Entry, error) {
	i := sort.Search(len(l.sorted), func(i int) bool { return l.sorted[i].Key > startAfter })
	return l.sorted[i:min(i+limit, len(l.sorted))], nil
}

// benchCluster builds three nodes whose indexes hold the same n keys (N=3:
// every node is home to all of them, the worst case for a digest).
func benchCluster(b *testing.B, n int) *bgCluster {
	entries := make([]blockstore.Entry, n)
	for i := range entries {
		entries[i] = blockstore.Entry{Info: blockstore.Info{Key: fmt.Sprintf("bench/key-%09d", i), Version: uint64(i+1) << 16, Size: 4096}}
	}
	tc := newBGCluster(b, 3, func(o *Options) { o.HintsPath = "" })
	for _, nd := range tc.nodes {
		nd.c.opts.Local = &scanLocal{memLocal: nd.local, sorted: entries}
	}
	return tc
}

// BenchmarkDigestRebuild measures a full digest rebuild from the index
// (Scan, placement of every key, the XOR into each peer's buckets).
func BenchmarkDigestRebuild(b *testing.B) {
	n := *benchDigestKeys
	tc := benchCluster(b, n)
	bg := tc.nodes["n1"].c.bg
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := bg.rebuildDigests(ctx); err != nil {
			b.Fatal(err)
		}
	}
	perKey := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
	b.ReportMetric(perKey, "ns/key")
	b.ReportMetric(perKey*1e6/1e9, "s/Mkeys")
}

// BenchmarkDigestCompare measures one anti-entropy round between two nodes
// whose keys agree: fetch the peer's digest, diff it against ours, list
// nothing, copy nothing. The cost does not depend on the key count; the
// bytes exchanged per round and peer are the 1024 buckets of 8 bytes.
func BenchmarkDigestCompare(b *testing.B) {
	tc := benchCluster(b, *benchDigestKeys)
	ctx := context.Background()
	for _, id := range []string{"n1", "n2", "n3"} {
		if err := tc.nodes[id].c.bg.rebuildDigests(ctx); err != nil {
			b.Fatal(err)
		}
	}
	n1 := tc.nodes["n1"].c
	v := n1.currentView()
	peer := v.byID["n2"]
	b.ResetTimer()
	for b.Loop() {
		if _, err := n1.bg.pullFrom(ctx, v, peer); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if e := tc.net.entryCalls.Load(); e != 0 {
		b.Fatalf("%d entries listings between equal nodes", e)
	}
	b.ReportMetric(replication.DigestBuckets*8, "digest-B/round/peer")
}
