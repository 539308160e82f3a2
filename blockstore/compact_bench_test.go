package blockstore

// Foreground cost of compaction, and bbolt's space under churn:
//
//	go test ./blockstore -run '^$' -bench 'BenchmarkCompactionForeground' -benchtime 20000x
//	go test ./blockstore -run '^$' -bench 'BenchmarkIndexChurn' -benchtime 1x
//
// Each foreground sub-benchmark builds its own store with sealed volumes
// about 2/3 garbage; the "compacting" ones run passes (at the default
// 8 MiB/s) for as long as they find work, and report how many bytes the
// passes copied while the operations ran (compact-MB) and whether the
// passes ran out of work before the operations did (compact-ended-early).
// STRATA_BENCH_COMPACT_RATE sets Options.CompactBytesPerSec.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"
)

const (
	fgKeys  = 30000
	fgValue = 4 << 10
)

// garbageStore writes fgKeys 4 KiB blobs and overwrites two thirds of
// them twice, in 32 MiB volumes: sealed volumes of mostly garbage.
func garbageStore(b *testing.B) *Store {
	opts := Options{VolumeSize: 32 << 20, Compression: CodecNone}
	if r := os.Getenv("STRATA_BENCH_COMPACT_RATE"); r != "" {
		n, err := strconv.ParseInt(r, 10, 64)
		if err != nil {
			b.Fatalf("STRATA_BENCH_COMPACT_RATE=%q: %v", r, err)
		}
		opts.CompactBytesPerSec = n
	}
	s := benchStore(b, opts)
	ctx := context.Background()
	val := bytes.Repeat([]byte("v"), fgValue)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for round := range 3 {
				for i := w; i < fgKeys; i += 16 {
					if round > 0 && i%3 == 0 {
						continue
					}
					if _, err := s.Put(ctx, fmt.Sprint("key", i), bytes.NewReader(val), int64(len(val)), PutOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := s.index.flush(); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkCompactionForeground(b *testing.B) {
	for _, op := range []string{"reads", "puts"} {
		for _, compacting := range []bool{false, true} {
			name := op + "-idle"
			if compacting {
				name = op + "-compacting"
			}
			b.Run(name, func(b *testing.B) {
				s := garbageStore(b)
				ctx := context.Background()
				if len(s.compactCandidates()) == 0 {
					b.Fatal("no volume to compact")
				}
				var stop atomic.Bool
				var passes sync.WaitGroup
				var ended atomic.Bool
				copied0 := s.Stats().Compaction.BytesCopied
				if compacting {
					passes.Go(func() {
						for !stop.Load() {
							rep, err := s.Compact(ctx)
							if err != nil {
								b.Error(err)
								return
							}
							if len(rep.Volumes) == 0 {
								ended.Store(true)
								return
							}
						}
					})
				}
				val := bytes.Repeat([]byte("n"), fgValue)
				var seq atomic.Int64
				lat := runWriters(b, 8, func(w, i int) error {
					if op == "puts" {
						_, err := s.Put(ctx, fmt.Sprint("new", seq.Add(1)), bytes.NewReader(val), int64(len(val)), PutOptions{})
						return err
					}
					_, _, err := s.Get(ctx, fmt.Sprint("key", (i*7919)%fgKeys))
					return err
				})
				copied := s.Stats().Compaction.BytesCopied - copied0
				stop.Store(true)
				passes.Wait()
				lat.report(b)
				if compacting {
					b.ReportMetric(float64(copied)/1e6, "compact-MB")
					ended := ended.Load()
					b.ReportMetric(map[bool]float64{false: 0, true: 1}[ended], "compact-ended-early")
				}
			})
		}
	}
}

// BenchmarkIndexChurn measures whether bbolt's freelist keeps index.db
// from growing under churn: 20000 keys written, then rounds that overwrite
// every key, delete a fifth and write them back, with a compaction pass;
// after each round the file size, the pages in use and the free pages
// (read from the file after a clean close) are reported.
func BenchmarkIndexChurn(b *testing.B) {
	const keys, rounds = 20000, 8
	dir := benchDir(b)
	opts := Options{DataDirs: []string{filepath.Join(dir, "data")}, IndexDir: filepath.Join(dir, "index"), VolumeSize: 32 << 20, Compression: CodecNone}
	ctx := context.Background()
	val := bytes.Repeat([]byte("c"), 200)
	write := func(s *Store, del bool) {
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := w; i < keys; i += 16 {
					k := fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15)
					var err error
					if del && i%5 == 0 {
						err = s.Delete(ctx, k, DeleteOptions{})
					} else if !del {
						_, err = s.Put(ctx, k, bytes.NewReader(val), int64(len(val)), PutOptions{})
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	for range b.N {
		s, err := Open(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		write(s, false)
		for round := range rounds {
			write(s, false)
			write(s, true)
			write(s, false)
			if _, err := s.Compact(ctx); err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			size, used, free := boltSpace(b, filepath.Join(opts.IndexDir, IndexFileName))
			b.Logf("round %d: index.db file %d KiB, high-water %d KiB: %d pages in use, %d free",
				round, size>>10, (used+free)*4, used, free)
			if round == rounds-1 {
				b.ReportMetric(float64(size>>10), "index-KiB")
				b.ReportMetric(float64(free)/float64(used+free), "free-frac")
			}
			if s, err = Open(ctx, opts); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o700)
	}
}

// boltSpace is the file size, the pages up to bbolt's high-water mark
// less the free ones (in use), and the free pages of a closed bbolt file.
// It opens the file writable: a read-only bbolt does not load its freelist.
func boltSpace(b *testing.B, path string) (size int64, used, free int) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	free = db.Stats().FreePageN + db.Stats().PendingPageN
	var hwm int64
	db.View(func(tx *bolt.Tx) error { hwm = tx.Size(); return nil })
	return st.Size(), int(hwm)/db.Info().PageSize - free, free
}
