package blockstore

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"strata/internal/poll"
	"strata/ioengine"
	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

var (
	crashSeed  = flag.Int64("crash.seed", -1, "run only this seed of TestCrashRecovery")
	crashIters = flag.Int("crash.iters", 0, "iterations of TestCrashRecovery (0: $STRATA_CRASH_ITERS, or 100, 25 with -short)")
)

// crashIterations is how many seeds TestCrashRecovery runs: a few seconds by
// default, more through -crash.iters or STRATA_CRASH_ITERS for a soak.
func crashIterations(t *testing.T) int {
	if *crashIters > 0 {
		return *crashIters
	}
	if env := os.Getenv("STRATA_CRASH_ITERS"); env != "" {
		n, err := strconv.Atoi(env)
		if err != nil || n <= 0 {
			t.Fatalf("STRATA_CRASH_ITERS=%q: want a positive count", env)
		}
		return n
	}
	if testing.Short() {
		return 25
	}
	return 100
}

// TestCrashRecovery runs concurrent Puts and Deletes, several writers per
// key with versions in mixed orders, on memfs (with a volume or index fault
// in some seeds), crashes at a random point and checks that every
// acknowledged write (or a newer one) reads back, byte-exact and at its
// version, and nothing else (torn, corrupt, older) ever does: in the live
// store; after the reopen; once recovery's entries are committed to bbolt;
// after a second crash or a clean reopen; and with the clock set back an
// hour, where a new write to every key must win. The same crash state is
// also reopened with the clock set back at once, so the clock must learn
// the versions of the records recovery replays. The crash keeps none, a
// random prefix or a random subset of the unsynced pages, and index.db as
// committed at the crash or earlier, empty, missing, or with its commits
// failing since a random point. Reproduce a failure with -crash.seed=N.
func TestCrashRecovery(t *testing.T) {
	var seeds []int64
	if *crashSeed >= 0 {
		seeds = append(seeds, *crashSeed)
	} else {
		for i := range crashIterations(t) {
			seeds = append(seeds, int64(i))
		}
	}
	// Closing a crashed store can wait out the indexer's commit retries
	// (seconds, when its commits failed): that goes on in the background.
	var closing sync.WaitGroup
	defer closing.Wait()
	for _, seed := range seeds {
		if err := crashIteration(t, seed, &closing); err != nil {
			t.Fatalf("seed %d: %v\nreproduce: go test ./blockstore -run TestCrashRecovery -crash.seed=%d -v", seed, err, seed)
		}
	}
}

// Index faults of a crash iteration.
const (
	indexAtCrash    = iota // index.db as committed at the crash
	indexRolledBack        // index.db as committed at a random earlier point
	indexEmpty             // index.db truncated to zero bytes
	indexMissing           // index.db gone: a rebuild
	indexCommitFail        // bbolt's writes fail from a random point on
	numIndexFaults
)

func indexFaultName(f int) string {
	switch f {
	case indexAtCrash:
		return "at crash"
	case indexRolledBack:
		return "rolled back"
	case indexEmpty:
		return "empty"
	case indexMissing:
		return "missing"
	case indexCommitFail:
		return "commits fail"
	}
	return fmt.Sprintf("index fault %d", f)
}

func crashIteration(t *testing.T, seed int64, closing *sync.WaitGroup) error {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(seed), 0xc0ffee))
	mfs := memfs.New(memfs.Options{})
	var fsys ioengine.FS = mfs
	// The crash comes after crashAt ops, or in half the seeds within a few
	// ops of the injected fault, while what the fault broke is still the
	// newest state of its keys.
	var done, crashAt atomic.Int64
	crashAt.Store(int64(5 + rng.IntN(80)))
	crashSoon := rng.IntN(2) == 0
	soonAfter := rng.Int64N(3)
	fired := func(inj errorfs.Injector) errorfs.Injector {
		return errorfs.InjectorFunc(func(op errorfs.Op) errorfs.Fault {
			f := inj.Inject(op)
			if f.Err != nil && crashSoon {
				at := done.Load() + 1 + soonAfter
				for {
					cur := crashAt.Load()
					if at >= cur || crashAt.CompareAndSwap(cur, at) {
						break
					}
				}
			}
			return f
		})
	}
	fault := "none"
	switch rng.IntN(5) {
	case 1:
		n := rng.IntN(40)
		fault = fmt.Sprintf("EIO on sync %d", n)
		fsys = errorfs.Wrap(mfs, fired(errorfs.PathMatch("*.vol", errorfs.OnIndex(errorfs.OpSync, n, errorfs.EIO))))
	case 2:
		n := rng.IntN(40)
		fault = fmt.Sprintf("torn write %d", n)
		fsys = errorfs.Wrap(mfs, fired(errorfs.PathMatch("*.vol", errorfs.TearWrite(n, 4096*rng.IntN(3)))))
	case 3:
		n := rng.IntN(4)
		fault = fmt.Sprintf("ENOSPC on allocate %d", n)
		fsys = errorfs.Wrap(mfs, fired(errorfs.OnIndex(errorfs.OpAllocate, n, errorfs.ENOSPC)))
	}
	unsynced := memfs.Unsynced(rng.IntN(3))
	indexFault := rng.IntN(numIndexFaults)
	if indexFault == indexCommitFail && !canFailIndexWrites {
		indexFault = indexRolledBack
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
	describeRun := func() string {
		return fmt.Sprintf("fault %s, %d dirs, crash keeps %v unsynced pages, index %s",
			fault, len(opts.DataDirs), unsynced, indexFaultName(indexFault))
	}
	s, err := Open(ctx, opts)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	const workers, keys = 4, 6
	flushAt, indexAt := int64(-1), 1+rng.Int64N(crashAt.Load())
	if rng.IntN(3) > 0 {
		flushAt = 1 + rng.Int64N(crashAt.Load())
	}
	indexDir := t.TempDir()
	snapshot := func() {
		if err := snapshotIndex(s, indexDir); err != nil {
			t.Errorf("seed %d: %v", seed, err)
		}
	}
	var indexMu sync.Mutex // orders the mid-run flush and index faults
	var indexWrites *indexWriteFailer
	var crashed atomic.Bool
	crashNow := make(chan struct{})
	var crashOnce sync.Once
	model := &crashModel{history: make(map[string][]keyOp)}
	versions := &versionSource{base: uint64(time.Now().UnixMilli()) << 16}
	var wg sync.WaitGroup
	for w := range workers {
		wr := rand.New(rand.NewPCG(uint64(seed), uint64(w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200 && !crashed.Load(); i++ {
				key := fmt.Sprintf("k%d", wr.IntN(keys))
				var op keyOp
				var err error
				switch p := wr.IntN(100); {
				case p < 70:
					n := wr.IntN(3000)
					if p >= 55 {
						n = 16<<10 + wr.IntN(60<<10) // chunked
					}
					op.value = randBytes(wr, n)
					if p%4 != 0 {
						op.version = versions.next(wr)
					}
					var info Info
					info, err = s.Put(ctx, key, bytes.NewReader(op.value), int64(n), PutOptions{Version: op.version})
					if err == nil && op.version == 0 {
						op.version = info.Version
					}
				default:
					op.del, op.version = true, versions.next(wr)
					err = s.Delete(ctx, key, DeleteOptions{Version: op.version})
					if errors.Is(err, ErrNotFound) {
						err = nil // "not found" is information; the version stands
					}
				}
				op.ok = err == nil
				op.acked = op.ok && !crashed.Load()
				model.add(key, op)
				d := done.Add(1)
				indexMu.Lock()
				// Commit the index mid-run (it otherwise waits 100 ms), so
				// recovery starts from real watermarks, not from 0; not once
				// its commits fail, or the flush waits out their retries.
				if d == flushAt && indexWrites == nil {
					s.index.flush()
				}
				if d == indexAt && !crashed.Load() {
					switch indexFault {
					case indexRolledBack:
						snapshot()
					case indexCommitFail:
						var err error
						if indexWrites, err = failIndexWrites(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
							t.Errorf("seed %d: %v", seed, err)
							break
						}
						// Have the indexer try a commit now, not in 100 ms
						// when the run may be over. The flush returns once
						// the commit gave up, seconds later.
						closing.Go(func() { s.index.flush() })
					}
				}
				indexMu.Unlock()
				if d >= crashAt.Load() {
					crashOnce.Do(func() { close(crashNow) })
				}
			}
			crashOnce.Do(func() { close(crashNow) })
		}()
	}
	<-crashNow
	crashed.Store(true)
	// The crash state: the index as bbolt last committed it (or as the
	// fault leaves it), then the volumes as a crash at this instant can
	// leave them. The index is taken first: it may lag the volumes, never
	// lead them. Holding indexMu waits for a worker's snapshot in progress
	// and keeps later ones (which would lead the volumes) from starting.
	indexMu.Lock()
	var prepErr error
	switch indexFault {
	case indexAtCrash, indexCommitFail:
		snapshot()
	case indexRolledBack:
		if _, err := os.Stat(filepath.Join(indexDir, IndexFileName)); err != nil {
			snapshot() // the crash came first
		}
	case indexEmpty:
		prepErr = os.WriteFile(filepath.Join(indexDir, IndexFileName), nil, 0o600)
	}
	crashState := func() *memfs.FS {
		return mfs.CrashCloneWith(memfs.CrashOptions{Unsynced: unsynced, Rand: rand.New(rand.NewPCG(uint64(seed), 1))})
	}
	clone, clone2 := crashState(), crashState() // the same state twice
	indexDir2 := t.TempDir()
	prepErr = errors.Join(prepErr, copyDir(indexDir, indexDir2))
	indexMu.Unlock()
	// A store that hangs must fail the test, not stall it until the test
	// binary's timeout.
	workersDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(workersDone)
	}()
	poll.Until(t, fmt.Sprintf("seed %d (%s): the writers to return after the crash", seed, describeRun()), func() bool {
		select {
		case <-workersDone:
			return true
		default:
			return false
		}
	})
	if prepErr != nil {
		closing.Go(func() { s.Close() })
		return fmt.Errorf("preparing the crash state: %w", prepErr)
	}
	liveErr := model.check(s, "live store", true)
	if indexWrites != nil {
		if err := indexWrites.restore(); err != nil {
			return errors.Join(liveErr, err)
		}
	}
	// The original may have failed parts; only the crash state matters.
	closing.Go(func() { s.Close() })
	if liveErr != nil {
		return fmt.Errorf("%s: %w", describeRun(), liveErr)
	}

	crashOpts := opts
	crashOpts.FS, crashOpts.IndexDir = clone, indexDir
	r, err := Open(ctx, crashOpts)
	if err != nil {
		return fmt.Errorf("%s: reopen after crash: %w", describeRun(), err)
	}
	if err := checkAfterCrash(t, r, clone, crashOpts, model, rng); err != nil {
		return fmt.Errorf("%s: %w", describeRun(), err)
	}
	// The same crash state again, reopened with the clock an hour behind:
	// the versions of records recovery replayed, which bbolt has not seen,
	// must still put the store's clock above them.
	crashOpts.FS, crashOpts.IndexDir = clone2, indexDir2
	crashOpts.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	if err := newWritesWin(crashOpts, model, rng, "right after the crash"); err != nil {
		return fmt.Errorf("%s: %w", describeRun(), err)
	}
	return nil
}

// newWritesWin opens the store of opts, checks it against the model, puts
// a new value with a store-assigned version to every key and checks the new
// values win, then again after a reopen.
func newWritesWin(opts Options, model *crashModel, rng *rand.Rand, when string) error {
	ctx := context.Background()
	r, err := Open(ctx, opts)
	if err != nil {
		return fmt.Errorf("reopen %s with the clock set back: %w", when, err)
	}
	defer func() { r.Close() }()
	if err := model.check(r, "with the clock set back an hour "+when, false); err != nil {
		return err
	}
	latest := &crashModel{history: make(map[string][]keyOp)}
	for i, key := range model.keys() {
		v := randBytes(rng, 100+i)
		info, err := r.Put(ctx, key, bytes.NewReader(v), int64(len(v)), PutOptions{})
		if err != nil {
			return fmt.Errorf("put %q with the clock set back %s: %w", key, when, err)
		}
		if acked := model.maxAcked(key); info.Version <= acked {
			return fmt.Errorf("new write of %q with the clock set back %s got version %d, not above version %d acknowledged before",
				key, when, info.Version, acked)
		}
		latest.add(key, keyOp{value: v, version: info.Version, acked: true, ok: true})
	}
	if err := latest.check(r, "new writes with the clock set back "+when, true); err != nil {
		return err
	}
	if err := r.Close(); err != nil {
		return fmt.Errorf("close with the clock set back %s: %w", when, err)
	}
	if r, err = Open(ctx, opts); err != nil {
		return fmt.Errorf("reopen after the new writes %s: %w", when, err)
	}
	return latest.check(r, "new writes "+when+", after a reopen", false)
}

// copyDir copies the files of dir from into to.
func copyDir(from, to string) error {
	names, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(from, n.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, n.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// checkAfterCrash checks the recovered store r, then commits its index,
// crashes or closes it again, sets the clock back an hour, and finally
// overwrites every key, checking the model at each step.
func checkAfterCrash(t *testing.T, r *Store, mfs *memfs.FS, opts Options, model *crashModel, rng *rand.Rand) error {
	ctx := context.Background()
	defer func() { r.Close() }()
	if err := model.check(r, "after reopen", false); err != nil {
		return err
	}
	if err := r.index.flush(); err != nil {
		return fmt.Errorf("index commit after recovery: %w", err)
	}
	if err := model.check(r, "after recovery's entries reached bbolt", false); err != nil {
		return err
	}

	phase := "after a second reopen (clean close)"
	if rng.IntN(2) == 0 {
		phase = "after a second crash"
		opts, _ = crashCopy(t, r, mfs, opts)
	}
	if err := r.Close(); err != nil {
		return fmt.Errorf("close after recovery: %w", err)
	}
	var err error
	if r, err = Open(ctx, opts); err != nil {
		return fmt.Errorf("%s: %w", phase, err)
	}
	if err := model.check(r, phase, false); err != nil {
		return err
	}
	r.Close()
	opts.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	return newWritesWin(opts, model, rng, "after the second reopen")
}

// snapshotIndex copies the committed state of s's index into dir, as a
// crash after that commit leaves index.db.
func snapshotIndex(s *Store, dir string) error {
	path := filepath.Join(dir, IndexFileName)
	os.Remove(path)
	if err := s.index.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) }); err != nil {
		return fmt.Errorf("index snapshot: %w", err)
	}
	return nil
}
