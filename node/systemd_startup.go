package node

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// StartupProgress counts what a long startup (the block store's recovery
// scan) got done, so ExtendStartup can tell one that advances from one
// that hangs. Add is safe from any goroutine and never blocks.
type StartupProgress struct {
	steps atomic.Int64
	bytes atomic.Int64
}

// Add records one step of bytes (blockstore.Options.RecoveryProgress).
func (p *StartupProgress) Add(bytes int64) {
	p.bytes.Add(bytes)
	p.steps.Add(1)
}

// DefaultExtendEvery is how often ExtendStartup looks at the progress.
const DefaultExtendEvery = 20 * time.Second

// ExtendOptions configure ExtendStartup.
type ExtendOptions struct {
	// Every is the interval between looks at the progress; each look
	// that finds progress asks for 2*Every more time, so one slow step
	// does not time out. Default DefaultExtendEvery.
	Every time.Duration
	// Ticks drive the looks; nil: a ticker at Every.
	Ticks <-chan time.Time
}

// ExtendStartup extends the unit's start timeout (EXTEND_TIMEOUT_USEC)
// while p advances: on each tick that finds new progress since the last
// it asks for 2*Every more and says how far recovery got (STATUS=); on a
// tick that finds none it only says so, so a recovery that hangs runs out
// of time (TimeoutStartSec= is always granted: the extension never
// shortens it). stop ends it and waits; call it before Ready. Without a
// socket it starts nothing.
func (n *Notifier) ExtendStartup(ctx context.Context, p *StartupProgress, opts ExtendOptions) (stop func()) {
	if !n.Enabled() || p == nil {
		return func() {}
	}
	if opts.Every <= 0 {
		opts.Every = DefaultExtendEvery
	}
	ticks := opts.Ticks
	var ticker *time.Ticker
	if ticks == nil {
		ticker = time.NewTicker(opts.Every)
		ticks = ticker.C
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if ticker != nil {
			defer ticker.Stop()
		}
		var seen int64
		stalled := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticks:
			}
			steps, bytes := p.steps.Load(), p.bytes.Load()
			if steps == seen {
				stalled++
				n.notifyLogged(statusLine(fmt.Sprintf("recovering: %s of volumes scanned, no progress for %v",
					ByteSize(bytes), time.Duration(stalled)*opts.Every)))
				continue
			}
			seen, stalled = steps, 0
			if err := n.ExtendTimeout(2*opts.Every, fmt.Sprintf("recovering: %s of volumes scanned", ByteSize(bytes))); err != nil {
				n.log.Warn("systemd notify failed", "err", err)
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
