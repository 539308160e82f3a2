package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"strata/blockstore"
)

// The coordinator's own cost, in process: a PUT fanned out to three fake
// replicas (N=3, W=2) against a PUT into one fake store, and a quorum GET
// (two index lookups, a local read) against a local read. The fakes copy
// bytes in memory, so the ratio is the coordination overhead, not disk or
// network.
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		body := pattern(1, size)
		b.Run(fmt.Sprintf("size=%dKiB/cluster", size>>10), func(b *testing.B) {
			tc := newTestCluster(b, 3, nil)
			c := tc.node("n1").c
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := c.Put(context.Background(), fmt.Sprintf("k%d", i%1024), bytes.NewReader(body), int64(size), blockstore.PutOptions{}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("size=%dKiB/single", size>>10), func(b *testing.B) {
			l := newFakeLocal()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := l.Put(context.Background(), fmt.Sprintf("k%d", i%1024), bytes.NewReader(body), int64(size), blockstore.PutOptions{}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		body := pattern(2, size)
		b.Run(fmt.Sprintf("size=%dKiB/cluster", size>>10), func(b *testing.B) {
			tc := newTestCluster(b, 3, nil)
			c := tc.node("n1").c
			if _, err := c.Put(context.Background(), "k", bytes.NewReader(body), int64(size), blockstore.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				obj, err := c.Open(context.Background(), "k")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, obj); err != nil {
					b.Fatal(err)
				}
				obj.Close()
			}
		})
		b.Run(fmt.Sprintf("size=%dKiB/single", size>>10), func(b *testing.B) {
			l := newFakeLocal()
			if _, err := l.Put(context.Background(), "k", bytes.NewReader(body), int64(size), blockstore.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				obj, err := l.Open(context.Background(), "k")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, obj); err != nil {
					b.Fatal(err)
				}
				obj.Close()
			}
		})
	}
}
