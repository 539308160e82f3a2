package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// drainRetry is the pause between rebalance passes while draining.
const drainRetry = 200 * time.Millisecond

// Drain decommissions this node: it marks it draining in the gossiped
// membership (Options.SetDraining), so placement stops homing keys here,
// waits until its own view says so, then runs rebalance passes until no
// local entry is left whose new homes lack it (each moved entry is pushed,
// confirmed durable, then dropped here). It returns nil once nothing is
// left to move; the caller then leaves the membership. Hints this node
// holds for others are not waited for: anti-entropy covers them. A Drain
// that fails or is cancelled leaves the node draining (SetDraining(false)
// undoes it). A corrupt local copy whose homes lack its version is never
// dropped, so Drain waits on it and KeysMoving shows it: the operator
// decides.
func (c *Cluster) Drain(ctx context.Context) error {
	if c.opts.SetDraining == nil {
		return errors.New("cluster: Drain needs Options.SetDraining")
	}
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
	for {
		left, err := c.bg.rebalancePass(ctx)
		if err == nil && left == 0 {
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
