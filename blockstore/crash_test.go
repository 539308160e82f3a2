package blockstore

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"strata/ioengine"
	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

var (
	crashSeed  = flag.Int64("crash.seed", -1, "run only this seed of TestCrashRecovery")
	crashIters = flag.Int("crash.iters", 200, "iterations of TestCrashRecovery")
)

// TestCrashRecovery runs concurrent Puts and Deletes on memfs (with a fault
// injected in some seeds), crashes at a random point, reopens the crash
// state and checks: every acknowledged Put reads back byte-exact, every
// acknowledged Delete stays deleted, and nothing else (torn, corrupt) is
// ever returned. Reproduce a failure with -crash.seed=N.
func TestCrashRecovery(t *testing.T) {
	seeds := make([]int64, 0, *crashIters)
	if *crashSeed >= 0 {
		seeds = append(seeds, *crashSeed)
	} else {
		for i := range *crashIters {
			seeds = append(seeds, int64(i))
		}
	}
	for _, seed := range seeds {
		if err := crashIteration(t, seed); err != nil {
			t.Fatalf("seed %d: %v\nreproduce: go test ./blockstore -run TestCrashRecovery -crash.seed=%d -v", seed, err, seed)
		}
	}
}

// keyOp is one operation on a key and what the key holds if it applied.
type keyOp struct {
	value   []byte // nil: absent (deleted)
	outcome int
}

const (
	outcomeAcked   = iota // returned success before the crash
	outcomeUnknown        // failed, or still running at the crash
)

func crashIteration(t *testing.T, seed int64) error {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(seed), 0xc0ffee))
	mfs := memfs.New(memfs.Options{})
	var fsys ioengine.FS = mfs
	fault := "none"
	switch rng.IntN(4) {
	case 1:
		n := rng.IntN(40)
		fault = fmt.Sprintf("EIO on sync %d", n)
		fsys = errorfs.Wrap(mfs, errorfs.PathMatch("*.vol", errorfs.OnIndex(errorfs.OpSync, n, errorfs.EIO)))
	case 2:
		n := rng.IntN(40)
		fault = fmt.Sprintf("torn write %d", n)
		fsys = errorfs.Wrap(mfs, errorfs.PathMatch("*.vol", errorfs.TearWrite(n, 4096*rng.IntN(3))))
	case 3:
		n := rng.IntN(4)
		fault = fmt.Sprintf("ENOSPC on allocate %d", n)
		fsys = errorfs.Wrap(mfs, errorfs.OnIndex(errorfs.OpAllocate, n, errorfs.ENOSPC))
	}
	opts := Options{
		FS:            fsys,
		DataDirs:      []string{"/hdd0", "/hdd1"},
		IndexDir:      t.TempDir(),
		VolumeSize:    256 << 10,
		ChunkSize:     16 << 10,
		MaxBlobSize:   128 << 10,
		MaxBatchBytes: 64 << 10,
		IndexMmapSize: 1 << 20,
	}
	if rng.IntN(2) == 0 {
		opts.DataDirs = opts.DataDirs[:1]
	}
	s, err := Open(ctx, opts)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	const workers, keysPerWorker = 4, 4
	crashAfter := int64(5 + rng.IntN(60))
	flushAt := int64(-1)
	if rng.IntN(3) > 0 {
		flushAt = 1 + rng.Int64N(crashAfter)
	}
	var done atomic.Int64
	var crashed atomic.Bool
	crashNow := make(chan struct{})
	var crashOnce sync.Once
	history := make(map[string][]keyOp)
	var histMu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wr := rand.New(rand.NewPCG(uint64(seed), uint64(w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200 && !crashed.Load(); i++ {
				key := fmt.Sprintf("w%d/k%d", w, wr.IntN(keysPerWorker))
				var op keyOp
				var err error
				switch p := wr.IntN(100); {
				case p < 55, p < 70:
					n := wr.IntN(3000)
					if p >= 55 {
						n = 16<<10 + wr.IntN(60<<10) // chunked
					}
					op.value = randBytes(wr, n)
					_, err = s.Put(ctx, key, bytes.NewReader(op.value), int64(n), PutOptions{})
				default:
					err = s.Delete(ctx, key, DeleteOptions{})
					if errors.Is(err, ErrNotFound) {
						err = nil // it was absent: that is its acknowledged state
					}
				}
				op.outcome = outcomeAcked
				if err != nil || crashed.Load() {
					op.outcome = outcomeUnknown
				}
				histMu.Lock()
				history[key] = append(history[key], op)
				histMu.Unlock()
				d := done.Add(1)
				if d == flushAt {
					// Commit the index mid-run (it otherwise waits 100 ms),
					// so recovery starts from real watermarks, not from 0.
					s.index.flush()
				}
				if d == crashAfter {
					crashOnce.Do(func() { close(crashNow) })
				}
			}
			crashOnce.Do(func() { close(crashNow) })
		}()
	}
	<-crashNow
	crashed.Store(true)
	crashOpts, _ := crashCopy(t, s, mfs, opts)
	wg.Wait()
	s.Close() // the original may have failed parts; only the copy matters

	r, err := Open(ctx, crashOpts)
	if err != nil {
		return fmt.Errorf("fault %s: reopen after crash: %w", fault, err)
	}
	defer r.Close()
	for key, ops := range history {
		allowed := [][]byte{nil} // before any op: absent
		for _, op := range ops {
			if op.outcome == outcomeAcked {
				allowed = allowed[:0]
			}
			allowed = append(allowed, op.value)
		}
		_, got, err := r.Get(ctx, key)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("fault %s: Get %q after crash: %w", fault, key, err)
		}
		if errors.Is(err, ErrNotFound) {
			got = nil
		}
		ok := false
		for _, a := range allowed {
			if (a == nil) == (got == nil) && bytes.Equal(a, got) {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("fault %s: %q after crash holds %s; allowed %d states (last acked first) from %d ops",
				fault, key, describe(got), len(allowed), len(ops))
		}
	}
	// The recovered store takes writes, above every version it has seen.
	if _, err := r.Put(ctx, "after-crash", bytes.NewReader([]byte("ok")), 2, PutOptions{}); err != nil {
		return fmt.Errorf("fault %s: put after recovery: %w", fault, err)
	}
	if _, got, err := r.Get(ctx, "after-crash"); err != nil || string(got) != "ok" {
		return fmt.Errorf("fault %s: get after recovery: %v", fault, err)
	}
	return nil
}

func describe(b []byte) string {
	if b == nil {
		return "nothing"
	}
	return fmt.Sprintf("%d bytes crc %08x", len(b), crc32c(b))
}
