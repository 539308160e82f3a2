package node

import (
	"context"
	"fmt"
	"time"
)

// WatchdogOptions configure RunWatchdog.
type WatchdogOptions struct {
	// Check is the liveness check (StoreLiveness): nil while the process
	// does its job. It gets a context with the CheckTimeout deadline; one
	// that does not return by then counts as failed, and no second check
	// starts while it still runs (a hung store ties up one goroutine).
	Check func(ctx context.Context) error
	// CheckTimeout bounds one check; default a quarter of the watchdog
	// timeout.
	CheckTimeout time.Duration
	// Ticks drive the checks; nil: a ticker at a quarter of the watchdog
	// timeout. sd_watchdog_enabled(3) asks for pings at half of it at
	// least; a quarter means one slow or failed check alone does not get
	// the node restarted: only checks failing for the whole timeout do.
	Ticks <-chan time.Time
}

// RunWatchdog pings WATCHDOG=1 on each tick whose liveness check passes
// and withholds the ping (sending a STATUS= line saying why instead) on
// each one whose check fails or hangs, so a node whose store stopped
// answering is restarted by systemd after WatchdogSec=. It returns when
// ctx is done (call it from SIGTERM's context: no pings while stopping),
// at once when the watchdog is off or there is no check.
func (n *Notifier) RunWatchdog(ctx context.Context, opts WatchdogOptions) {
	timeout := n.WatchdogTimeout()
	if timeout <= 0 || opts.Check == nil {
		return
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = max(timeout/4, time.Millisecond)
	}
	ticks := opts.Ticks
	if ticks == nil {
		t := time.NewTicker(max(timeout/4, time.Millisecond))
		defer t.Stop()
		ticks = t.C
	}
	var c checkRunner
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
		err := c.run(ctx, opts.Check, opts.CheckTimeout)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			if failing {
				n.log.Info("liveness check passes again; watchdog pings resumed")
				n.notifyLogged(NotifyWatchdog, statusLine("serving"))
			} else {
				n.notifyLogged(NotifyWatchdog)
			}
			failing = false
			continue
		}
		if !failing {
			n.log.Error("liveness check failed: watchdog pings withheld; systemd restarts the node once WatchdogSec passes without one",
				"err", err, "watchdog", timeout)
		}
		failing = true
		n.notifyLogged(statusLine("liveness check failing, watchdog pings withheld: " + err.Error()))
	}
}

// checkRunner runs one liveness check at a time with a deadline,
// remembering a check that outlived its deadline.
type checkRunner struct {
	pending chan error // the result of a check that outlived its deadline
}

func (c *checkRunner) run(ctx context.Context, check func(context.Context) error, timeout time.Duration) error {
	if c.pending != nil {
		select {
		case <-c.pending: // it finished late; its result is stale: check afresh
			c.pending = nil
		default:
			return fmt.Errorf("%w: the previous check is still running", ErrLivenessTimeout)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- check(cctx) }()
	select {
	case err := <-done:
		return err
	case <-cctx.Done():
		c.pending = done
		return fmt.Errorf("%w (%v)", ErrLivenessTimeout, timeout)
	}
}
