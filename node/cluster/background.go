package cluster

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"strata/blockstore"
)

// background owns the work that heals the cluster behind the request
// path: hints (hints.go), anti-entropy digests and rounds (digests.go,
// antientropy.go), read repair (repair.go), rebalancing and draining
// (rebalance.go, drain.go). Every loop is started by start and stopped by
// the context; close waits for them and closes the hint store.
type background struct {
	c   *Cluster
	now func() time.Time

	hints   *hintStore // nil: hints off (HintsPath empty), every hint dropped
	digests digestState
	repairs chan repairRequest
	aePace  aePacer
	aeSoon  aeSoonSet // peers due an anti-entropy round at once

	// Wake-ups, coalesced (capacity one, never blocking the sender).
	rebuildWake   chan struct{} // the view's hash changed: rebuild digests
	rebalanceWake chan struct{} // the view's hash changed: rebalance pass
	hintWake      chan struct{} // a member's state changed: try hints

	rebalanceMu sync.Mutex // one rebalance pass at a time (loop or Drain)
	// misplaced holds keys a replica apply left here although this node is
	// not one of their homes (a coordinator with another view): the
	// misplaced loop moves them without waiting for a view change.
	misplaced chan string
	// viewChangedAt is when the view's hash last changed (unix ns).
	viewChangedAt atomic.Int64

	// drainWaiting lists the members whose view may still place this node
	// while a Drain waits for them.
	drainMu      sync.Mutex
	drainWaiting []string

	counters backgroundCounters
	// peerRounds is the latest anti-entropy round with each peer.
	peerRoundsMu sync.Mutex
	peerRounds   map[string]PeerRound
	wg           sync.WaitGroup
}

type backgroundCounters struct {
	hintsStored, hintsDropped, hintsReplayed, hintsObsolete atomic.Uint64
	aeRounds, aeViewMismatch, aeBucketsDiffering            atomic.Uint64
	aeKeysPulled, aeBytesPulled, aeSoonRounds               atomic.Uint64
	keysMoving                                              atomic.Int64
	keysMoved, rebalancePasses                              atomic.Uint64
	nonHomeApplies, misplacedDropped                        atomic.Uint64
	repairsQueued, repairsDropped, repairsDone              atomic.Uint64
	digestRebuilds                                          atomic.Uint64
}

// repairQueueLength bounds the read repairs waiting: past it a request is
// dropped (counted) and anti-entropy covers the key.
const repairQueueLength = 1024

// misplacedQueueLength bounds the keys waiting to be moved off this node
// after a write landed here on a non-home: past it a key is dropped
// (counted) and a full rebalance pass is woken, which finds it.
const misplacedQueueLength = 4096

func newBackground(c *Cluster) (*background, error) {
	b := &background{
		c:             c,
		now:           c.opts.Now,
		repairs:       make(chan repairRequest, repairQueueLength),
		misplaced:     make(chan string, misplacedQueueLength),
		rebuildWake:   make(chan struct{}, 1),
		rebalanceWake: make(chan struct{}, 1),
		hintWake:      make(chan struct{}, 1),
	}
	b.aeSoon.wake = make(chan struct{}, 1)
	if c.opts.HintsPath != "" {
		hs, err := openHintStore(c.opts.HintsPath, c.opts.HintsMaxBytes)
		if err != nil {
			return nil, err
		}
		b.hints = hs
	}
	return b, nil
}

// start runs the background loops until ctx ends: the digest rebuild (at
// once, then on view changes), hint replay, anti-entropy rounds,
// rebalancing and read repair.
func (b *background) start(ctx context.Context) {
	wake(b.rebuildWake)
	wake(b.rebalanceWake)
	// A node that starts may have missed writes: a round with every
	// reachable peer at once (retried while the digests are built).
	b.markReachable(nil, b.c.currentView())
	for _, loop := range []func(context.Context){b.digestLoop, b.hintLoop, b.antiEntropyLoop, b.rebalanceLoop, b.misplacedLoop, b.repairLoop} {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			loop(ctx)
		}()
	}
}

// close waits for the loops (their context is cancelled first) and closes
// the hint store.
func (b *background) close() error {
	b.wg.Wait()
	if b.hints != nil {
		return b.hints.close()
	}
	return nil
}

// viewChanged is called (from the membership watcher) with the old view
// (nil at start) and the new one. It never blocks: it wakes the loops.
func (b *background) viewChanged(old, cur *view) {
	if old == nil || old.hash != cur.hash {
		b.viewChangedAt.Store(time.Now().UnixNano())
		wake(b.rebuildWake)
		wake(b.rebalanceWake)
	}
	wake(b.hintWake)
	// A peer that came back (or one we see again) gets an anti-entropy
	// round at once rather than after up to an interval.
	b.markReachable(old, cur)
}

// wake signals ch without blocking; a signal already pending absorbs it.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// BackgroundStatus is the background machinery's progress, for
// Cluster.Status (the admin route and strata stat).
type BackgroundStatus struct {
	// HintsPending counts stored hints per target member; HintBytes is
	// what they count against HintsMaxBytes.
	HintsPending  map[string]int `json:"hints_pending"`
	HintBytes     int64          `json:"hint_bytes"`
	HintsStored   uint64         `json:"hints_stored"`
	HintsDropped  uint64         `json:"hints_dropped"`  // refused: store full or hints off
	HintsReplayed uint64         `json:"hints_replayed"` // target confirmed it holds the version
	HintsObsolete uint64         `json:"hints_obsolete"` // target no longer a home, or nothing to copy

	AntiEntropyRounds        uint64 `json:"anti_entropy_rounds"`
	AntiEntropyViewMismatch  uint64 `json:"anti_entropy_view_mismatch"` // rounds skipped: views differ
	AntiEntropyBucketsDiffer uint64 `json:"anti_entropy_buckets_differing"`
	AntiEntropyKeysPulled    uint64 `json:"anti_entropy_keys_pulled"`
	// AntiEntropySoonRounds counts rounds run at once with a peer that
	// became reachable (besides the periodic ones).
	AntiEntropySoonRounds  uint64 `json:"anti_entropy_soon_rounds"`
	AntiEntropyBytesPulled uint64 `json:"anti_entropy_bytes_pulled"`
	// AntiEntropyPeers is the latest round with each peer: when, how many
	// buckets differed, keys pulled, and the error that cut it short.
	AntiEntropyPeers map[string]PeerRound `json:"anti_entropy_peers"`
	DigestRebuilds   uint64               `json:"digest_rebuilds"`

	// KeysMoving counts local entries this node is no longer a home of,
	// found by the latest rebalance pass and not yet dropped.
	KeysMoving      int64  `json:"keys_moving"`
	KeysMoved       uint64 `json:"keys_moved"`
	RebalancePasses uint64 `json:"rebalance_passes"`
	// NonHomeApplies counts replica writes that landed here for keys this
	// node is not a home of (moved on at once); MisplacedDropped those
	// left to the next full pass because the queue was full.
	NonHomeApplies   uint64 `json:"non_home_applies"`
	MisplacedDropped uint64 `json:"misplaced_dropped"`
	// DrainWaitingOn lists the members a running Drain waits for: their
	// view may still have this node placed.
	DrainWaitingOn []string `json:"drain_waiting_on,omitempty"`

	RepairsQueued  uint64 `json:"repairs_queued"`
	RepairsDropped uint64 `json:"repairs_dropped"` // queue full: anti-entropy covers them
	RepairsDone    uint64 `json:"repairs_done"`
}

// status reports the counters and the hint store's contents.
func (b *background) status() BackgroundStatus {
	k := &b.counters
	st := BackgroundStatus{
		HintsPending:             map[string]int{},
		HintsStored:              k.hintsStored.Load(),
		HintsDropped:             k.hintsDropped.Load(),
		HintsReplayed:            k.hintsReplayed.Load(),
		HintsObsolete:            k.hintsObsolete.Load(),
		AntiEntropyRounds:        k.aeRounds.Load(),
		AntiEntropyViewMismatch:  k.aeViewMismatch.Load(),
		AntiEntropyBucketsDiffer: k.aeBucketsDiffering.Load(),
		AntiEntropyKeysPulled:    k.aeKeysPulled.Load(),
		AntiEntropySoonRounds:    k.aeSoonRounds.Load(),
		AntiEntropyBytesPulled:   k.aeBytesPulled.Load(),
		DigestRebuilds:           k.digestRebuilds.Load(),
		KeysMoving:               k.keysMoving.Load(),
		KeysMoved:                k.keysMoved.Load(),
		RebalancePasses:          k.rebalancePasses.Load(),
		NonHomeApplies:           k.nonHomeApplies.Load(),
		MisplacedDropped:         k.misplacedDropped.Load(),
		RepairsQueued:            k.repairsQueued.Load(),
		RepairsDropped:           k.repairsDropped.Load(),
		RepairsDone:              k.repairsDone.Load(),
	}
	if b.hints != nil {
		st.HintsPending, st.HintBytes = b.hints.pending()
	}
	b.peerRoundsMu.Lock()
	st.AntiEntropyPeers = make(map[string]PeerRound, len(b.peerRounds))
	for p, r := range b.peerRounds {
		st.AntiEntropyPeers[p] = r
	}
	b.peerRoundsMu.Unlock()
	b.drainMu.Lock()
	st.DrainWaitingOn = slices.Clone(b.drainWaiting)
	b.drainMu.Unlock()
	return st
}

func (b *background) setDrainWaiting(ids []string) {
	b.drainMu.Lock()
	b.drainWaiting = ids
	b.drainMu.Unlock()
}

// noteApplied is called after a local replica apply changed key's entry
// from old to cur (old.Version 0: none), under the key's lock: the digests
// follow every change without a scan. An entry left on a node that is not
// one of the key's homes under the current view (the coordinator had an
// older view, or this node is draining) is queued to be moved: the
// rebalance pass that follows a view change may be over already.
func (b *background) noteApplied(key string, old, cur blockstore.Entry) {
	b.digests.note(b.c, key, old, cur)
	if cur.Version == 0 {
		return // dropped (or nothing held): nothing to move
	}
	v := b.c.currentView()
	if v.isHome(key, b.c.opts.Replicas, v.self.ID) {
		return
	}
	b.counters.nonHomeApplies.Add(1)
	select {
	case b.misplaced <- key:
	default:
		b.counters.misplacedDropped.Add(1)
		wake(b.rebalanceWake) // a full pass finds it
	}
}
