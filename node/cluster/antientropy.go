package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"strata/blockstore"
	"strata/node/membership"
	"strata/node/replication"
)

// entriesPage is how many entries one Peer.Entries call asks for.
const entriesPage = 512

// aePacer paces the bytes anti-entropy copies (AntiEntropyBytesPerSec).
type aePacer struct {
	mu sync.Mutex
	p  *replication.Pacer
}

func (a *aePacer) wait(ctx context.Context, rate int64, n int64) bool {
	a.mu.Lock()
	if a.p == nil {
		a.p = replication.NewPacer(float64(rate), float64(rate))
	}
	d := a.p.Reserve(time.Now(), float64(n))
	a.mu.Unlock()
	return sleep(ctx, d)
}

// antiEntropyLoop runs a round with every peer each AntiEntropyInterval,
// jittered by up to a quarter either way so nodes do not beat in step,
// and a round at once with each peer that became reachable (soonRounds).
func (b *background) antiEntropyLoop(ctx context.Context) {
	every := b.c.opts.AntiEntropyInterval
	jittered := func() time.Duration { return every + time.Duration((rand.Float64()-0.5)/2*float64(every)) }
	next := time.NewTimer(jittered())
	defer next.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-next.C:
			b.antiEntropyRound(ctx)
			next.Reset(jittered())
			continue
		case <-b.aeSoon.wake:
		case <-retry.C:
		}
		if b.soonRounds(ctx) {
			retry.Reset(min(aeSoonRetry, every))
		}
	}
}

// aeSoonRetry is the pause before another try of an immediate round that
// failed (the digests of one side not built for the view yet, say), and
// aeSoonTries how many tries a peer gets before it waits for the
// periodic round.
const (
	aeSoonRetry = time.Second
	aeSoonTries = 10
)

// aeSoonSet holds the peers due an anti-entropy round at once: they just
// became reachable (a restart of theirs or ours; Start marks every
// reachable peer), so they or we likely missed writes. Each has tries
// left; wake is signalled (coalesced) when one is added.
type aeSoonSet struct {
	mu    sync.Mutex
	peers map[string]int
	wake  chan struct{}
}

func (s *aeSoonSet) add(id string, tries int) {
	s.mu.Lock()
	if s.peers == nil {
		s.peers = make(map[string]int)
	}
	s.peers[id] = max(s.peers[id], tries)
	s.mu.Unlock()
	wake(s.wake)
}

func (s *aeSoonSet) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.peers
	s.peers = nil
	return out
}

// markReachable adds to the immediate rounds every placed peer reachable
// in cur that was not reachable (or not known) in old; old nil: every
// reachable peer.
func (b *background) markReachable(old, cur *view) {
	for _, m := range cur.members {
		if m.ID == cur.self.ID || !m.Placed() || !m.Reachable() {
			continue
		}
		if old != nil {
			if was, ok := old.byID[m.ID]; ok && was.Reachable() {
				continue
			}
		}
		b.aeSoon.add(m.ID, aeSoonTries)
	}
}

// soonRounds runs a round with each peer marked for one at once and
// reports whether some failed and should be tried again shortly.
func (b *background) soonRounds(ctx context.Context) (again bool) {
	for id, tries := range b.aeSoon.take() {
		if ctx.Err() != nil {
			return false
		}
		v := b.c.currentView()
		m, ok := v.byID[id]
		if !ok || !m.Placed() || !m.Reachable() {
			continue // gone again: marked anew when it returns
		}
		b.counters.aeSoonRounds.Add(1)
		pulledBefore := b.counters.aeKeysPulled.Load()
		diff, err := b.pullFrom(ctx, v, m)
		b.notePeerRound(m.ID, diff, b.counters.aeKeysPulled.Load()-pulledBefore, err)
		if err != nil {
			b.c.log.Debug("cluster: immediate anti-entropy round", "peer", m.ID, "tries_left", tries-1, "err", err)
			if tries > 1 && ctx.Err() == nil {
				b.aeSoon.mu.Lock()
				if b.aeSoon.peers == nil {
					b.aeSoon.peers = make(map[string]int)
				}
				b.aeSoon.peers[id] = max(b.aeSoon.peers[id], tries-1)
				b.aeSoon.mu.Unlock()
				again = true
			}
		}
	}
	return again
}

// antiEntropyRound pulls from every reachable placed peer once.
func (b *background) antiEntropyRound(ctx context.Context) {
	v := b.c.currentView()
	for _, m := range v.members {
		if ctx.Err() != nil {
			return
		}
		if m.ID == v.self.ID || !m.Placed() || !m.Reachable() {
			continue
		}
		pulledBefore := b.counters.aeKeysPulled.Load()
		diff, err := b.pullFrom(ctx, v, m)
		if err != nil {
			b.c.log.Debug("cluster: anti-entropy round", "peer", m.ID, "err", err)
		}
		b.notePeerRound(m.ID, diff, b.counters.aeKeysPulled.Load()-pulledBefore, err)
	}
}

// pullFrom runs one round with peer m, pull only: compare m's digest of
// what it shares with this node against ours, list m's entries in the
// differing buckets, and copy here whatever m holds newer (a tombstone as
// a tombstone, a blob through OpenRange). m pulls from us in its own
// round, so both sides converge.
// It returns how many buckets differed.
func (b *background) pullFrom(ctx context.Context, v *view, m membership.Member) (int, error) {
	c := b.c
	local, _, err := b.localDigest(m.ID)
	if err != nil {
		b.counters.aeViewMismatch.Add(1)
		return 0, err
	}
	remote, err := c.opts.Peer.Digest(ctx, m.HTTPAddr, v.self.ID)
	if err != nil {
		return 0, fmt.Errorf("cluster: digest from %s: %w", m.ID, err)
	}
	b.counters.aeRounds.Add(1)
	diff, err := replication.DiffBuckets(local, remote)
	if errors.Is(err, replication.ErrViewMismatch) {
		b.counters.aeViewMismatch.Add(1)
		return 0, err // views still converging; a later round compares
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: digest from %s: %w", m.ID, err)
	}
	if len(diff) == 0 {
		return 0, nil
	}
	b.counters.aeBucketsDiffering.Add(uint64(len(diff)))
	after := ""
	var firstErr error
	for {
		page, err := c.opts.Peer.Entries(ctx, m.HTTPAddr, v.self.ID, diff, after, entriesPage)
		if err != nil {
			return len(diff), fmt.Errorf("cluster: entries from %s: %w", m.ID, err)
		}
		if len(page) > 0 {
			after = page[len(page)-1].Key
		}
		// One key failing (moved on meanwhile, say) does not stop the
		// round; the next round retries it.
		if err := b.pullPage(ctx, v, m, page); err != nil {
			if ctx.Err() != nil {
				return len(diff), ctx.Err()
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if len(page) < entriesPage {
			return len(diff), firstErr
		}
	}
}

// pullPage pulls the entries of one page from m, up to
// AntiEntropyConcurrency at once (their local writes then share group
// commits), and returns the first error.
func (b *background) pullPage(ctx context.Context, v *view, m membership.Member, page []blockstore.Entry) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	slots := make(chan struct{}, b.c.opts.AntiEntropyConcurrency)
	for _, e := range page {
		if e.Corrupt || e.Version == 0 {
			continue // nothing to copy from a corrupt copy; its other homes have it
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
			if err := b.pullEntry(ctx, v, m, e); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// pullEntry copies e from m when this node does not hold it or newer.
func (b *background) pullEntry(ctx context.Context, v *view, m membership.Member, e blockstore.Entry) error {
	c := b.c
	held, err := c.opts.Local.Lookup(ctx, e.Key)
	if err != nil && !errors.Is(err, blockstore.ErrNotFound) {
		return fmt.Errorf("cluster: lookup %q: %w", e.Key, err)
	}
	if err == nil && replication.Holds(held, e) {
		return nil
	}
	if !e.Deleted && !b.aePace.wait(ctx, c.opts.AntiEntropyBytesPerSec, e.Size) {
		return ctx.Err()
	}
	n, err := c.copyEntry(ctx, v.self.ID, m, v.self, e.Key, e)
	if err != nil {
		return err
	}
	b.counters.aeKeysPulled.Add(1)
	b.counters.aeBytesPulled.Add(uint64(n))
	return nil
}

// PeerRound is the latest anti-entropy round with one peer, for Status.
type PeerRound struct {
	At               time.Time `json:"at"`
	BucketsDiffering int       `json:"buckets_differing"`
	KeysPulled       uint64    `json:"keys_pulled"`
	Error            string    `json:"error,omitempty"`
}

// notePeerRound records the outcome of a round with peer.
func (b *background) notePeerRound(peer string, diff int, pulled uint64, err error) {
	r := PeerRound{At: b.now(), BucketsDiffering: diff, KeysPulled: pulled}
	if err != nil {
		r.Error = err.Error()
	}
	b.peerRoundsMu.Lock()
	if b.peerRounds == nil {
		b.peerRounds = make(map[string]PeerRound)
	}
	b.peerRounds[peer] = r
	b.peerRoundsMu.Unlock()
}
