package pace

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Pacer is a token bucket filled at the Controller's limit: upload bytes
// pass through it and wait when they run ahead of the budget. Under no
// limit it only counts them (for the measured upload rate).
type Pacer struct {
	c *Controller

	limited atomic.Bool // the bucket below is in use

	mu     sync.Mutex
	tokens float64   // bytes; negative: debt the next callers wait for
	last   time.Time // when tokens was last filled
}

// NewPacer returns a Pacer of the Controller's budget. A node needs one:
// every upload shares it.
func NewPacer(c *Controller) *Pacer { return &Pacer{c: c} }

// Reserve takes n bytes from the budget and says how long the caller must
// wait before it goes on (0: at once). The bytes count as taken either way.
func (p *Pacer) Reserve(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	now := p.c.o.Now()
	p.c.noteUpload(p.c.epoch(now), n)
	rate := p.c.limitNow()
	if rate <= 0 {
		if p.limited.Load() {
			p.limited.Store(false) // the next limit starts with a full bucket
		}
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	burst := rate * p.c.o.Burst.Seconds()
	if !p.limited.Load() {
		p.tokens, p.last = burst, now
		p.limited.Store(true)
	}
	if elapsed := now.Sub(p.last); elapsed > 0 {
		p.tokens = min(burst, p.tokens+elapsed.Seconds()*rate)
		p.last = now
	}
	p.tokens -= float64(n)
	if p.tokens >= 0 {
		return 0
	}
	d := time.Duration(-p.tokens / rate * float64(time.Second))
	p.c.waited.Add(int64(d))
	return d
}

// Wait reserves n bytes and sleeps as long as Reserve says, or until ctx
// ends: then it gives the bytes back and returns ctx.Err(). No lock is
// held while it sleeps.
func (p *Pacer) Wait(ctx context.Context, n int) error {
	d := p.Reserve(n)
	if d <= 0 {
		return nil
	}
	if err := p.c.o.Sleep(ctx, d); err != nil {
		p.mu.Lock()
		if p.limited.Load() {
			p.tokens += float64(n)
		}
		p.mu.Unlock()
		return err
	}
	return nil
}

// Limited reports whether uploads are under a limit now.
func (p *Pacer) Limited() bool { return p.c.limitNow() > 0 }
