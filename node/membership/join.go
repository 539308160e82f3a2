package membership

import (
	"context"
	"math/rand/v2"
	"time"
)

// joinLoop keeps this node connected. While it knows no live member, it
// tries the seeds and every member from the state file, backing off from
// JoinRetryMin to JoinRetryMax. Once in, it tries members it holds as
// dead every ReconnectInterval: memberlist only exchanges state with
// live nodes, so without this the two halves of a healed partition would
// each keep the other dead.
func (m *Membership) joinLoop(ctx context.Context) {
	t := m.opts.Timing
	backoff := t.JoinRetryMin
	for {
		alone, targets := m.joinTargets()
		if len(targets) > 0 {
			m.join(ctx, targets, alone)
		}
		wait := t.ReconnectInterval
		if alone, _ := m.joinTargets(); alone && len(targets) > 0 {
			// Jitter, so nodes restarted together do not knock in step.
			wait = backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, t.JoinRetryMax)
			// Serving alone is allowed, but an operator should hear of
			// it: a typo in the seeds looks just like seeds that are down.
			m.log.Warn("membership: no seed or known member answered; serving alone and retrying",
				"tried", targets, "retry_in", wait.Round(time.Millisecond))
		} else {
			backoff = t.JoinRetryMin
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// joinTargets returns whether this node knows no reachable member, and
// the gossip addresses to try: when alone, the seeds and every known
// member; otherwise the dead members. Never this node's own address.
func (m *Membership) joinTargets() (alone bool, targets []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.selfLeft {
		return false, nil
	}
	alone = true
	for _, o := range m.others {
		if o.Reachable() {
			alone = false
		}
	}
	seen := map[string]bool{m.self.GossipAddr: true, "": true}
	add := func(addr string) {
		if !seen[addr] {
			seen[addr] = true
			targets = append(targets, addr)
		}
	}
	if alone {
		for _, s := range m.opts.Seeds {
			add(s)
		}
	}
	for _, o := range m.others {
		if alone || o.State == Dead {
			add(o.GossipAddr)
		}
	}
	return alone, targets
}

// join tries targets one at a time (each bounded by TCPTimeout), so
// Close waits for one attempt at most. When alone, one answer is enough:
// gossip tells the rest.
func (m *Membership) join(ctx context.Context, targets []string, alone bool) {
	for _, addr := range targets {
		if ctx.Err() != nil {
			return
		}
		n, err := m.ml.Join([]string{addr})
		if err != nil || n == 0 {
			m.log.Debug("membership: join attempt failed", "addr", addr, "err", err)
			continue
		}
		m.log.Debug("membership: joined through", "addr", addr)
		if alone {
			return
		}
	}
}
