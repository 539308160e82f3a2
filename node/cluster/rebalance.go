package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"strata/blockstore"
	"strata/node/membership"
	"strata/node/replication"
)

// rebalanceSettle is how long a pass waits after a view change for the
// membership to settle (a join or a restart brings several changes in a
// burst), so keys are not moved for a view that lasts a moment.
const rebalanceSettle = 2 * time.Second

// rebalanceLoop runs a pass after every view change (and at start), once
// the view has settled, and again each AntiEntropyInterval while a pass
// left keys behind.
func (b *background) rebalanceLoop(ctx context.Context) {
	settle := min(rebalanceSettle, b.c.opts.AntiEntropyInterval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.rebalanceWake:
		}
		// Wait for a quiet spell, but not for ever under constant churn.
		for settled, waits := false, 0; !settled && waits < 5; waits++ {
			t := time.NewTimer(settle)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-b.rebalanceWake: // changed again: wait anew
				t.Stop()
			case <-t.C:
				settled = true
			}
		}
		left, err := b.rebalancePass(ctx)
		if err != nil && ctx.Err() == nil {
			b.c.log.Warn("cluster: rebalance pass", "err", err)
		}
		if (left > 0 || err != nil) && sleep(ctx, b.c.opts.AntiEntropyInterval) {
			wake(b.rebalanceWake)
		}
	}
}

// misplacedLoop moves the keys noteApplied queued (a replica write that
// landed here although this node is not a home), one at a time and never
// during a pass, once the view has been stable for the rebalance settle
// time (while views differ between nodes, keys would bounce between
// them). A key it cannot move yet (a home down) is left to the rebalance
// loop, woken for it.
func (b *background) misplacedLoop(ctx context.Context) {
	settle := min(rebalanceSettle, b.c.opts.AntiEntropyInterval)
	for {
		select {
		case <-ctx.Done():
			return
		case key := <-b.misplaced:
			for {
				quiet := time.Since(time.Unix(0, b.viewChangedAt.Load()))
				if quiet >= settle {
					break
				}
				if !sleep(ctx, settle-quiet) {
					return
				}
			}
			if !b.moveMisplaced(ctx, key) && ctx.Err() == nil {
				wake(b.rebalanceWake)
			}
		}
	}
}

// moveMisplaced moves key's local entry to its homes under the current
// view if this node is not one of them; it reports false when the entry
// is left behind.
func (b *background) moveMisplaced(ctx context.Context, key string) bool {
	b.rebalanceMu.Lock()
	defer b.rebalanceMu.Unlock()
	c := b.c
	e, err := c.localEntry(ctx, key)
	if err != nil {
		return false
	}
	if e.Version == 0 {
		return true // gone meanwhile (moved by a pass, say)
	}
	v := c.currentView()
	ids := memberIDs(v.homes(key, c.opts.Replicas))
	if action, _ := replication.PlanMove(v.self.ID, ids); action == replication.Keep {
		return true
	}
	switch b.moveEntry(ctx, v, e, ids) {
	case moved:
		b.counters.keysMoved.Add(1)
		return true
	case homeAgain:
		return true
	default:
		return false
	}
}

// rebalancePass walks the local index and moves every entry this node is
// no longer a home of under the current view: each new home must hold the
// entry's version or newer (pushed from here if not, durable on return),
// and only then is the local copy dropped (Local.Drop, which refuses if
// the entry changed meanwhile). A key therefore never has fewer copies on
// its way. Pushes are paced at AntiEntropyBytesPerSec. It returns how
// many misplaced entries are left (a home unreachable or failing, or the
// entry changed); KeysMoving shows them.
func (b *background) rebalancePass(ctx context.Context) (left int, err error) {
	b.rebalanceMu.Lock()
	defer b.rebalanceMu.Unlock()
	c := b.c
	v := c.currentView()
	b.counters.rebalancePasses.Add(1)
	b.counters.keysMoving.Store(0)
	after := ""
	for {
		page, err := c.opts.Local.Scan(ctx, after, scanPage)
		if err != nil {
			return left, fmt.Errorf("cluster: rebalance scan: %w", err)
		}
		for _, e := range page {
			after = e.Key
			ids := memberIDs(v.homes(e.Key, c.opts.Replicas))
			action, _ := replication.PlanMove(v.self.ID, ids)
			if action == replication.Keep {
				continue
			}
			b.counters.keysMoving.Add(1)
			switch b.moveEntry(ctx, v, e, ids) {
			case moved:
				b.counters.keysMoving.Add(-1)
				b.counters.keysMoved.Add(1)
			case homeAgain:
				b.counters.keysMoving.Add(-1)
			default:
				left++
			}
			if ctx.Err() != nil {
				return left, ctx.Err()
			}
		}
		if len(page) < scanPage {
			return left, nil
		}
	}
}

// moveResult is what moveEntry did with a local entry.
type moveResult int

const (
	moveLeft  moveResult = iota // kept: a home lacks it or the entry changed; a later pass retries
	moved                       // every home confirmed it; the local copy is dropped
	homeAgain                   // the view changed meanwhile and this node is a home again: kept
)

// moveEntry pushes e to every home lacking it (homes: under view v, the
// one the pass started with), then drops the local copy. The drop is
// decided under the key's lock against the view current then: if this
// node is a home again, or a current home is not among those that
// confirmed, the copy stays.
func (b *background) moveEntry(ctx context.Context, v *view, e blockstore.Entry, homes []string) moveResult {
	c := b.c
	confirmed := make(map[string]bool, len(homes))
	for _, id := range homes {
		m := v.byID[id]
		held, err := c.lookupOn(ctx, v.self.ID, m, e.Key)
		if err != nil {
			continue
		}
		if !replication.Holds(held, e) {
			if e.Corrupt || !m.Reachable() {
				continue // nothing sound to push from here; the key's other copies must cover it
			}
			// Pushes share anti-entropy's byte rate, so a view change
			// cannot flood the disks and links.
			if !e.Deleted && !b.aePace.wait(ctx, c.opts.AntiEntropyBytesPerSec, e.Size) {
				return moveLeft
			}
			if _, err := c.copyEntry(ctx, v.self.ID, v.self, m, e.Key, e); err != nil {
				c.log.Debug("cluster: rebalance push", "key", e.Key, "to", id, "err", err)
				continue
			}
		}
		confirmed[id] = true
	}
	if !replication.DropAllowed(homes, confirmed) {
		return moveLeft
	}
	// Under the key's apply lock, so the digests see the drop and any
	// concurrent apply of the key in one order.
	unlock, err := c.locks.Lock(ctx, e.Key)
	if err != nil {
		return moveLeft
	}
	defer unlock()
	// The view may have changed since the pass began: decide on the
	// current one. A change after this point wakes a new pass, which
	// finds the copy gone and the current homes holding it (they
	// confirmed) or, if they are other homes, pushes from those.
	cur := c.currentView()
	curIDs := memberIDs(cur.homes(e.Key, c.opts.Replicas))
	if action, _ := replication.PlanMove(cur.self.ID, curIDs); action == replication.Keep {
		return homeAgain
	}
	if !replication.DropAllowed(curIDs, confirmed) {
		return moveLeft // a current home has not confirmed: the next pass pushes to it
	}
	if err := c.opts.Local.Drop(ctx, e.Key, e.Version); err != nil {
		if !errors.Is(err, blockstore.ErrNotFound) {
			c.log.Warn("cluster: rebalance drop", "key", e.Key, "err", err)
		}
		return moveLeft // changed meanwhile: the next pass looks again
	}
	b.noteApplied(e.Key, e, blockstore.Entry{})
	return moved
}

// memberIDs lists the members' IDs in order.
func memberIDs(ms []membership.Member) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}
