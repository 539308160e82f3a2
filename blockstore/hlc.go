package blockstore

import (
	"math"
	"sync"
	"time"
)

// hlc is a hybrid logical clock: stamps are wall milliseconds << 16 | a
// counter, strictly increasing, and above every stamp observed (from
// recovery or from callers that bring their own version).
type hlc struct {
	mu   sync.Mutex
	now  func() time.Time
	last uint64
}

func (c *hlc) next() uint64 {
	wall := uint64(c.now().UnixMilli()) << 16
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case wall > c.last:
		c.last = wall
	case c.last < math.MaxUint64:
		c.last++
	}
	// At the maximum (only reachable through a caller's absurd version) the
	// clock stays there rather than wrapping to zero.
	return c.last
}

func (c *hlc) observe(v uint64) {
	c.mu.Lock()
	if v > c.last {
		c.last = v
	}
	c.mu.Unlock()
}

// current is the last stamp issued or observed (0 before any).
func (c *hlc) current() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
