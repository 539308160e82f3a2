package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"strata/blockstore"
	"strata/node/membership"
	"strata/node/replication"
)

// hintStore keeps hints durably in a bbolt file: one bucket per target
// member, keys replication.HintKey (version, then key: a cursor walks them
// oldest first), values replication.HintValue. It is bounded in bytes
// (replication.HintBytes per hint): a hint past the bound is refused and
// anti-entropy covers the key. Safe for concurrent use.
type hintStore struct {
	db *bolt.DB

	mu      sync.Mutex
	budget  replication.HintBudget
	counts  map[string]int // hints per target
	corrupt int            // undecodable records found at open (skipped, removed on replay)
}

func openHintStore(path string, maxBytes int64) (*hintStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("cluster: open hint store %s: %w", path, err)
	}
	// Concurrent hints (one per write while a replica is down) share a
	// commit; a lone one waits at most a millisecond for company.
	db.MaxBatchDelay = time.Millisecond
	s := &hintStore{db: db, budget: replication.HintBudget{Max: maxBytes}, counts: map[string]int{}}
	// Count what is there so the bound holds across restarts.
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			return bk.ForEach(func(k, v []byte) error {
				h, derr := replication.DecodeHint(k, v)
				if derr != nil {
					s.corrupt++
					return nil
				}
				s.budget.Restore(replication.HintBytes(h.Key))
				s.counts[string(name)]++
				return nil
			})
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("cluster: read hint store %s: %w", path, err)
	}
	return s, nil
}

func (s *hintStore) close() error { return s.db.Close() }

// add stores h for target durably (bbolt commit, fsync; concurrent adds
// share one through Batch). It reports false, storing nothing, when the
// bound is reached.
func (s *hintStore) add(ctx context.Context, target string, h replication.Hint) (bool, error) {
	n := replication.HintBytes(h.Key)
	s.mu.Lock()
	ok := s.budget.Admit(n)
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	k, v := replication.HintKey(h), replication.HintValue(h)
	var existed bool
	err := s.db.Batch(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(target))
		if err != nil {
			return err
		}
		existed = bk.Get(k) != nil
		return bk.Put(k, v)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || existed {
		s.budget.Release(n)
	}
	if err != nil {
		return false, fmt.Errorf("cluster: store hint for %s: %w", target, err)
	}
	if !existed {
		s.counts[target]++
	}
	return true, nil
}

// oldest returns up to n hints for target, oldest first.
func (s *hintStore) oldest(target string, n int) ([]replication.Hint, error) {
	var out []replication.Hint
	err := s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(target))
		if bk == nil {
			return nil
		}
		cur := bk.Cursor()
		for k, v := cur.First(); k != nil && len(out) < n; k, v = cur.Next() {
			h, err := replication.DecodeHint(k, v)
			if err != nil {
				// Undecodable: hand back what the key says so remove drops it.
				h = replication.Hint{Key: string(k), Version: 0}
			}
			out = append(out, h)
		}
		return nil
	})
	return out, err
}

// remove deletes hints of target (replayed, or no longer needed) in one
// commit and returns how many records went.
func (s *hintStore) remove(target string, hints []replication.Hint) (int, error) {
	var released int64
	var removed, records int
	err := s.db.Update(func(tx *bolt.Tx) error {
		released, removed, records = 0, 0, 0
		bk := tx.Bucket([]byte(target))
		if bk == nil {
			return nil
		}
		for _, h := range hints {
			k := replication.HintKey(h)
			if h.Version == 0 {
				k = []byte(h.Key) // an undecodable record, by its raw key
			}
			if bk.Get(k) == nil {
				continue
			}
			if err := bk.Delete(k); err != nil {
				return err
			}
			records++
			if h.Version != 0 {
				released += replication.HintBytes(h.Key)
				removed++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cluster: remove hints for %s: %w", target, err)
	}
	s.mu.Lock()
	s.budget.Release(released)
	if s.counts[target] -= removed; s.counts[target] <= 0 {
		delete(s.counts, target)
	}
	s.mu.Unlock()
	return records, nil
}

// targets lists the members with hints pending.
func (s *hintStore) targets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.counts))
	for t := range s.counts {
		out = append(out, t)
	}
	return out
}

// pending reports hints per target and the bytes they count.
func (s *hintStore) pending() (map[string]int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for t, n := range s.counts {
		out[t] = n
	}
	return out, s.budget.Used()
}

// hint records durably that target missed key at version (deleted: a
// tombstone); replay copies it when target is reachable again. It never
// fails the caller's write: a hint that cannot be stored (hints off, store
// full, store error) is dropped and counted, and anti-entropy covers it.
func (b *background) hint(ctx context.Context, target, key string, version uint64, deleted bool) {
	if b.hints == nil {
		b.counters.hintsDropped.Add(1)
		return
	}
	ok, err := b.hints.add(ctx, target, replication.Hint{Key: key, Version: version, Deleted: deleted})
	if err != nil {
		b.c.log.Warn("cluster: hint not stored; anti-entropy will cover it", "target", target, "key", key, "err", err)
	}
	if !ok {
		b.counters.hintsDropped.Add(1)
		return
	}
	b.counters.hintsStored.Add(1)
}

// errTargetFailed: a replay failed on its target's side (lookup or copy),
// so the target's other hints wait for the next try.
var errTargetFailed = errors.New("cluster: hint target failed")

// hintBatch is how many hints one replay step reads.
const hintBatch = 64

// hintLoop replays hints whenever a member's state changes and every
// second while any are pending, at HintReplayRate, HintReplayConcurrency
// at once, their bytes paced with anti-entropy's.
func (b *background) hintLoop(ctx context.Context) {
	if b.hints == nil {
		return
	}
	pacer := replication.NewPacer(b.c.opts.HintReplayRate, b.c.opts.HintReplayRate)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.hintWake:
		case <-tick.C:
		}
		b.replayHints(ctx, func() bool { return sleep(ctx, pacer.Reserve(time.Now(), 1)) })
	}
}

// replayHints replays the hints of every reachable target, oldest first;
// pace is called before each replay and returns false to stop. A target
// that fails a replay is left for the next try.
func (b *background) replayHints(ctx context.Context, pace func() bool) {
	if b.hints == nil {
		return
	}
	v := b.c.currentView()
	for _, target := range b.hints.targets() {
		m, known := v.byID[target]
		if known && !m.Reachable() {
			continue
		}
		for ctx.Err() == nil {
			batch, err := b.hints.oldest(target, hintBatch)
			if err != nil || len(batch) == 0 {
				break
			}
			done, stopped, paced := b.replayBatch(ctx, v, m, known, batch, pace)
			removed, err := b.hints.remove(target, done)
			if err != nil {
				b.c.log.Warn("cluster: hints replayed but not removed", "target", target, "err", err)
				return
			}
			if !paced {
				return
			}
			if stopped {
				break
			}
			if removed == 0 {
				break // no progress: the rest waits for the next try
			}
		}
	}
}

// replayBatch replays one batch of target's hints, oldest first, pace
// called before each. The hints of one key replay in order, one at a
// time (after the first, the later ones usually find their version held);
// distinct keys replay up to HintReplayConcurrency at once, so their
// writes on the target share group commits. The first key goes alone, a
// probe: a target that fails it costs one request per try, not one per
// slot. It returns the hints done with; stopped when the target failed
// (its other hints wait for the next try); paced false when pace said
// stop.
func (b *background) replayBatch(ctx context.Context, v *view, m membership.Member, known bool, batch []replication.Hint, pace func() bool) (done []replication.Hint, stopped, paced bool) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed bool
	)
	replayKey := func(hs []replication.Hint) {
		for _, h := range hs {
			ok, err := b.replayHint(ctx, v, m, known, h)
			mu.Lock()
			if ok {
				done = append(done, h)
			}
			if errors.Is(err, errTargetFailed) {
				failed = true
			}
			stop := failed
			mu.Unlock()
			if err != nil {
				b.c.log.Debug("cluster: hint replay", "target", m.ID, "key", h.Key, "err", err)
			}
			if stop || ctx.Err() != nil {
				return
			}
		}
	}
	slots := make(chan struct{}, b.c.opts.HintReplayConcurrency)
	paced = true
	for i, hs := range groupByKey(batch) {
		mu.Lock()
		stop := failed
		mu.Unlock()
		if stop {
			break
		}
		for range hs {
			if !pace() {
				paced = false
				break
			}
		}
		if !paced {
			break
		}
		if i == 0 {
			replayKey(hs) // the probe
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			replayKey(hs)
		})
	}
	wg.Wait()
	return done, failed, paced
}

// groupByKey splits hints by key, each key's in their order, the keys in
// the order of their first hint.
func groupByKey(hints []replication.Hint) [][]replication.Hint {
	at := make(map[string]int, len(hints))
	var out [][]replication.Hint
	for _, h := range hints {
		i, ok := at[h.Key]
		if !ok {
			i = len(out)
			at[h.Key] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], h)
	}
	return out
}

// replayHint brings target to the hint's version (or newer) and reports
// whether the hint is done with: replayed, already held, or obsolete
// (target no longer a home, or no member holds the version after every
// home answered).
func (b *background) replayHint(ctx context.Context, v *view, target membership.Member, known bool, h replication.Hint) (bool, error) {
	c := b.c
	if h.Version == 0 || !known || !v.isHome(h.Key, c.opts.Replicas, target.ID) {
		// Not a home any more (or gone, or an unreadable record): the new
		// homes get the key from rebalancing and anti-entropy.
		b.counters.hintsObsolete.Add(1)
		return true, nil
	}
	want := blockstore.Entry{Info: blockstore.Info{Key: h.Key, Version: h.Version}, Deleted: h.Deleted}
	held, err := c.lookupOn(ctx, v.self.ID, target, h.Key)
	if err != nil {
		return false, fmt.Errorf("%w: %w", errTargetFailed, err)
	}
	if replication.Holds(held, want) {
		b.counters.hintsReplayed.Add(1)
		return true, nil
	}
	homes := v.homes(h.Key, c.opts.Replicas)
	src, srcEntry, allAnswered, err := c.findSource(ctx, v, h.Key, want, homes, map[string]bool{target.ID: true})
	if errors.Is(err, errNoSource) {
		if allAnswered {
			b.counters.hintsObsolete.Add(1)
			return true, nil // never made durable anywhere, or superseded and gone
		}
		return false, err
	}
	if !srcEntry.Deleted && !b.aePace.wait(ctx, c.opts.AntiEntropyBytesPerSec, srcEntry.Size) {
		return false, ctx.Err()
	}
	if _, err := c.copyEntry(ctx, v.self.ID, src, target, h.Key, srcEntry); err != nil {
		if errors.Is(err, errSourceFailed) {
			return false, err // this hint waits; the target's others go on
		}
		return false, fmt.Errorf("%w: %w", errTargetFailed, err)
	}
	b.counters.hintsReplayed.Add(1)
	return true, nil
}
