package blockstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// TestLookupsSeeEveryCommit: readers Stat acknowledged keys while writers
// add and overwrite keys and the indexer commits (moving entries from
// pending into bbolt) and grows bbolt's file past a tiny mmap. Every Stat
// must find the key at a version at least the acknowledged one, whatever
// the interleaving of a lookup with the move from pending to bbolt. (It
// caught a trial of shared read transactions that could predate a commit,
// and one that held bbolt's mmap lock across a remap, by hanging.)
func TestLookupsSeeEveryCommit(t *testing.T) {
	opts := testOptions(t, nil)
	opts.IndexMmapSize = 32 << 10 // bbolt's minimum: commits remap as keys arrive
	s := mustOpen(t, opts)
	defer s.Close()

	const writers, readers, perWriter = 4, 4, 300
	keys := writers * perWriter
	acked := make([]atomic.Uint64, keys) // version acknowledged per key; 0: not yet
	value := []byte("v")
	var wg sync.WaitGroup
	var writing atomic.Int32
	writing.Store(writers)
	errc := make(chan error, writers+readers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer writing.Add(-1)
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range perWriter {
				k := w*perWriter + i
				if i > 0 && r.IntN(3) == 0 {
					k = w*perWriter + r.IntN(i) // overwrite: a newer version
				}
				info, err := s.Put(context.Background(), fmt.Sprintf("k/%05d", k), bytes.NewReader(value), 1, PutOptions{})
				if err != nil {
					errc <- err
					return
				}
				for {
					cur := acked[k].Load()
					if cur >= info.Version || acked[k].CompareAndSwap(cur, info.Version) {
						break
					}
				}
				if i%50 == 0 {
					if err := s.index.flush(); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	for rd := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(rd), 2))
			for writing.Load() > 0 {
				k := r.IntN(keys)
				want := acked[k].Load()
				if want == 0 {
					continue
				}
				info, err := s.Stat(context.Background(), fmt.Sprintf("k/%05d", k))
				if err != nil || info.Version < want {
					errc <- fmt.Errorf("Stat k/%05d after version %d was acknowledged: version %d, %v", k, want, info.Version, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		if want := acked[k].Load(); want != 0 {
			info, err := s.Stat(context.Background(), fmt.Sprintf("k/%05d", k))
			if err != nil || info.Version != want {
				t.Fatalf("k/%05d after flush: version %d, want %d, %v", k, info.Version, want, err)
			}
		}
	}
}
