package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"strata/node/membership"
)

// drainRetry is the pause between rebalance passes, and between asking
// the peers for their views, while draining.
const drainRetry = 200 * time.Millisecond

// drainSettle is how long Drain waits for a peer it cannot ask for
// positive proof that its view has this node draining (no other placed
// member to ask its digest for): longer than gossip takes to spread a
// metadata change on a LAN.
const drainSettle = 5 * time.Second

// Drain decommissions this node: it marks it draining in the gossiped
// membership (Options.SetDraining), so placement stops homing keys here,
// and waits until its own view says so and then until every reachable
// member's does (each peer's anti-entropy digest is built under a view
// with this node not placed, see viewsAgree): until then coordinators
// that have not heard still send it writes. Then it runs rebalance passes
// until a pass leaves no local entry whose new homes lack it (each moved
// entry is pushed, confirmed durable, then dropped here) and no write
// landed here meanwhile (a write still in flight from a coordinator with
// an older view); writes are never refused. It returns nil once nothing
// is left to move; the caller then leaves the membership. Hints this node
// holds for others are not waited for: anti-entropy covers them. A Drain
// that fails or is cancelled leaves the node draining (SetDraining(false)
// undoes it). A corrupt local copy whose homes lack its version is never
// dropped, so Drain waits on it and KeysMoving shows it: the operator
// decides.
func (c *Cluster) Drain(ctx context.Context) error {
	if c.opts.SetDraining == nil {
		return errors.New("cluster: Drain needs Options.SetDraining")
	}
	started := time.Now()
	if err := c.opts.SetDraining(true); err != nil {
		return fmt.Errorf("cluster: mark draining: %w", err)
	}
	for !c.selfDraining() {
		// The membership watcher refreshes the view on the change; take a
		// snapshot here too in case the change is not signalled to us.
		if err := c.refreshView(); err != nil {
			return err
		}
		if !c.selfDraining() && !sleep(ctx, drainRetry) {
			return ctx.Err()
		}
	}
	defer c.bg.setDrainWaiting(nil)
	for {
		waiting := c.peersPlacingSelf(ctx, time.Since(started) >= drainSettle)
		c.bg.setDrainWaiting(waiting)
		if len(waiting) == 0 {
			break
		}
		if !sleep(ctx, drainRetry) {
			return fmt.Errorf("cluster: drain: members %v may still place this node: %w", waiting, ctx.Err())
		}
	}
	for {
		before := c.bg.counters.nonHomeApplies.Load()
		left, err := c.bg.rebalancePass(ctx)
		if err == nil && left == 0 && c.bg.counters.nonHomeApplies.Load() == before {
			return nil
		}
		if !sleep(ctx, drainRetry) {
			return fmt.Errorf("cluster: drain: %d entries left to move: %w", left, ctx.Err())
		}
	}
}

// selfDraining reports whether the current view has this node draining.
func (c *Cluster) selfDraining() bool {
	v := c.currentView()
	if m, ok := v.byID[v.self.ID]; ok {
		return m.Draining
	}
	return v.self.Draining
}

// peersPlacingSelf lists the reachable members (sorted) whose view may
// still have this node placed, so they may still send it writes. A peer
// is clear when its anti-entropy digest for another placed member was
// built under this node's current view, where this node is not placed
// (the digest follows the peer's view, and lags it, so that is proof).
// With no such member to ask, a peer whose digest tables do not include
// this node is clear once settled (drainSettle after the drain began).
// Unreachable members are not waited for: they send nothing until they
// are back, and they learn the membership on the way.
func (c *Cluster) peersPlacingSelf(ctx context.Context, settled bool) []string {
	v := c.currentView()
	var waiting []string
	for _, m := range v.members {
		if m.ID == v.self.ID || !m.Reachable() {
			continue
		}
		if !c.viewsAgree(ctx, v, m, settled) {
			waiting = append(waiting, m.ID)
		}
	}
	slices.Sort(waiting)
	return waiting
}

// viewsAgree reports whether peer m's view is known to have this node
// unplaced (see peersPlacingSelf).
func (c *Cluster) viewsAgree(ctx context.Context, v *view, m membership.Member, settled bool) bool {
	for _, q := range v.members {
		if q.ID == m.ID || q.ID == v.self.ID || !q.Placed() {
			continue
		}
		dg, err := c.opts.Peer.Digest(ctx, m.HTTPAddr, q.ID)
		return err == nil && dg.View == v.hash
	}
	// No third placed member: all a digest can say is whether m still
	// shares keys with this node.
	if _, err := c.opts.Peer.Digest(ctx, m.HTTPAddr, v.self.ID); err == nil {
		return false
	}
	return settled
}
