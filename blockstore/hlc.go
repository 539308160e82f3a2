package blockstore

import (
	"math"
	"sync"
	"time"
)

// clockLease is how far above the clock the persisted ceiling is set
// (2 s of wall time, in stamp units), and clockRefresh how often the store
// rewrites it (see Store.runClockRefresh): the refresher keeps the ceiling
// about a second ahead of the wall clock, so next crosses it (and writes
// while its caller waits) only after the clock jumped, say on observing a
// peer whose clock runs ahead.
const (
	clockLease   = uint64(2000) << 16
	clockRefresh = time.Second
	// clockMargin is how far below the ceiling next keeps the stamps it
	// returns (1 ms in stamp units), so a caller's small adjustment above
	// a stamp (node/cluster sets its low 8 bits to the node's tag) is
	// covered too.
	clockMargin = uint64(1) << 16
)

// hlc is a hybrid logical clock: stamps are wall milliseconds << 16 | a
// counter, strictly increasing, and above every stamp observed (from
// recovery or from callers that bring their own version).
//
// With persist set, the clock also keeps a durable ceiling: every stamp
// next returns is at least clockMargin below a ceiling that persist has
// made durable, and the next Open starts the clock at the ceiling, so a
// crash cannot bring back a stamp already issued. persist is a small
// bbolt write (an fsync), made by the refresher about once a second and
// by next only when a stamp would cross the ceiling.
type hlc struct {
	mu   sync.Mutex
	now  func() time.Time
	last uint64
	// ceiling is the highest ceiling written (or tried: see failed).
	ceiling uint64

	// persist makes a ceiling durable (nil: no ceiling, as in Check's
	// store). persistMu orders ceiling writes; it is taken before mu.
	persist   func(uint64) error
	persistMu sync.Mutex
	failed    bool        // the last write failed: ceiling is not durable
	onFail    func(error) // the first failure of a streak (logging)
	writes    uint64      // ceiling writes attempted (tests)
}

func (c *hlc) next() uint64 {
	wall := uint64(c.now().UnixMilli()) << 16
	c.mu.Lock()
	switch {
	case wall > c.last:
		c.last = wall
	case c.last < math.MaxUint64:
		c.last++
	}
	// At the maximum (only reachable through a caller's absurd version) the
	// clock stays there rather than wrapping to zero.
	v := c.last
	cross := c.persist != nil && satAdd(v, clockMargin) >= c.ceiling
	c.mu.Unlock()
	if cross {
		c.raise(v)
	}
	return v
}

// raise makes a ceiling above v durable before next returns v.
func (c *hlc) raise(v uint64) {
	c.persistMu.Lock()
	defer c.persistMu.Unlock()
	c.mu.Lock()
	covered := satAdd(v, clockMargin) < c.ceiling
	c.mu.Unlock()
	if !covered {
		c.writeCeiling()
	}
}

// refresh rewrites the ceiling when less than clockLease - clockRefresh/2
// of headroom is left above the clock (or the wall clock, when ahead), or
// when the last write failed.
func (c *hlc) refresh() {
	c.persistMu.Lock()
	defer c.persistMu.Unlock()
	wall := uint64(c.now().UnixMilli()) << 16
	c.mu.Lock()
	cur := max(c.last, wall)
	due := c.failed || satAdd(cur, clockLease-uint64(clockRefresh.Milliseconds()/2)<<16) > c.ceiling
	c.mu.Unlock()
	if due {
		c.writeCeiling()
	}
}

// writeCeiling persists clockLease above the clock (or the wall clock,
// when ahead). The caller holds persistMu. A failed write still moves the
// in-memory ceiling, so next does not retry on every call; the refresher
// retries it.
func (c *hlc) writeCeiling() {
	wall := uint64(c.now().UnixMilli()) << 16
	c.mu.Lock()
	ceil := satAdd(max(c.last, wall), clockLease)
	c.writes++
	c.mu.Unlock()
	err := c.persist(ceil)
	c.mu.Lock()
	c.ceiling = max(c.ceiling, ceil)
	wasFailed := c.failed
	c.failed = err != nil
	c.mu.Unlock()
	if err != nil && !wasFailed && c.onFail != nil {
		c.onFail(err)
	}
}

// ceilingWrites is how many ceiling writes were attempted since Open.
func (c *hlc) ceilingWrites() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
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

// satAdd is a + b, or math.MaxUint64 when that overflows.
func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}
