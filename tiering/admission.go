package tiering

import (
	"sync"
	"time"
)

// admitVerdict is the admission policy's answer for one item offered to
// the SSD cache.
type admitVerdict uint8

const (
	admitYes       admitVerdict = iota
	rejectTooLarge              // the object is above the per-object cutoff (large sequential reads)
	rejectCold                  // not reused recently enough (reject-first)
	rejectBudget                // the write budget has no room now
)

// admissionPolicy decides which items RAM evicts (or, with RAM off, which
// HDD reads) are written to the SSD. It does no I/O, so the simulator runs
// exactly this code.
//
//   - Per-object cutoff: items of objects larger than maxObject are never
//     admitted: a large sequential read would flush the cache for nothing.
//   - Reject first: an item is admitted only if the frequency sketch has
//     seen its object at least minFreq times recently, and at least as
//     often as the median item the SSD evicts (TinyLFU-style admission
//     against victims). One-hit wonders cost no SSD write once the SSD is
//     full, but for the cold share below; until it first evicts
//     (victims == 0), every offer is admitted, since free flash displaces
//     nothing.
//   - Aging by the SSD's eviction age: the sketch halves after a window of
//     bytes read. Until the SSD first evicts it is sketchWindowTurnovers
//     times the cache bytes; from then on it is the SSD's eviction age,
//     the traffic during which an item stays on the SSD, measured by
//     Little's law (SSD bytes over the bytes written to it per byte read,
//     a moving average over epochs of a quarter of the cache bytes read),
//     within [1, 32] times the cache bytes. "Read twice within the
//     window" then means "reused within the time the SSD would keep it",
//     which is when a copy on flash would have been hit; a selective
//     policy keeps items longer and so remembers longer, a loose one
//     forgets sooner. It follows the workload rather than a tuned
//     constant: a fixed window that did well at one cache size did badly
//     at another (docs/sim.md).
//   - The sketch's width follows the traffic: it starts at about one
//     counter per 32 KiB of cache and doubles (up to 8 times that) when a
//     window brings more distinct objects than an eighth of its width, so
//     a window of many turnovers does not let one-hit objects pass the
//     second-read rule by colliding (sketch.go).
//   - Cold share: a cold candidate (refused by the rule above) is admitted
//     anyway if its object's hash falls in a share chosen by miniature
//     simulations of the SSD at each candidate share, while a write
//     allowance of half the bytes offered covers it (coldshare.go): where
//     the hot set moves, the second-read rule costs every new object a
//     second miss.
//   - Reinsertion: an item found in a region being reclaimed is rewritten
//     only if it was read while resident and is still as frequent as
//     admission asks (minFreq): a single hit long ago does not buy another
//     turn on flash.
//   - Write budget: token buckets in bytes/s and bytes/day.
//
// Safe for concurrent use.
type admissionPolicy struct {
	mu        sync.Mutex
	sketch    *freqSketch
	budget    writeBudget
	maxObject int64
	minFreq   uint8
	admitAll  bool // admit every offer that fits (a baseline for the simulator)
	now       func() time.Time
	// victimFreq is the running median of the sketch estimates of items the
	// SSD evicted (reclaimed without reinsertion). A candidate must be at
	// least that popular, as TinyLFU admits a candidate only over its victim.
	victimFreq float64
	victims    int64 // items the SSD has evicted so far
	halvings   int64

	// The eviction-age window (see above).
	ssdBytes, cacheBytes    int64
	epochRead, epochWritten int64   // bytes read and written to the SSD in this epoch
	writeRate               float64 // moving average of bytes written per byte read (0: none yet)

	// Cold admission (coldshare.go): the share of cold candidates admitted,
	// chosen by miniature simulation, within the write allowance. nil with
	// no SSD, and for admit-all.
	cold      *coldChooser
	allowance writeAllowance
}

type admissionConfig struct {
	sketchWidth    int           // counters per row to start with; about the number of items the caches hold
	sketchMaxWidth int           // grow up to this many counters per row (0: never grow)
	sketchWindow   int64         // bytes of traffic between halvings (0: 10 x width x 64 KiB)
	sketchPeriod   time.Duration // halve at least this often (0: never by time)
	ssdBytes       int64         // the SSD cache's bytes, for its eviction age
	cacheBytes     int64         // RAM and SSD cache bytes together
	maxObject      int64
	minFreq        uint8
	bytesPerSec    int64
	bytesPerDay    int64
	maxItem        int64
	admitAll       bool
	now            func() time.Time
}

// sketchWindowTurnovers is the admission sketch's window in turnovers of
// the caches until the SSD first evicts (its eviction age is unknown until
// then): it halves after traffic of that many times the RAM and SSD cache
// bytes together.
const sketchWindowTurnovers = 4

// Bounds of the eviction-age window, in cache bytes: at least one turnover
// (the caches hold at most that much), and at most maxWindowTurnovers, so
// an SSD that admits almost nothing still forgets.
const (
	minWindowTurnovers = 1
	maxWindowTurnovers = 32
	// writeRateWeight is the weight of the newest epoch in the moving
	// average of the SSD write rate.
	writeRateWeight = 0.25
)

// admissionConfigFor is the admission the Store runs with options o (with
// defaults applied), and so the one the simulator replays.
func admissionConfigFor(o Options) admissionConfig {
	return admissionConfig{
		sketchWidth:    sketchWidthFor(o.RAMCacheBytes, o.SSDCacheBytes),
		sketchMaxWidth: sketchMaxWidthFor(o.RAMCacheBytes, o.SSDCacheBytes),
		sketchWindow:   sketchWindowTurnovers * (max(o.RAMCacheBytes, 0) + max(o.SSDCacheBytes, 0)),
		sketchPeriod:   o.AdmitWindow,
		ssdBytes:       max(o.SSDCacheBytes, 0),
		cacheBytes:     max(o.RAMCacheBytes, 0) + max(o.SSDCacheBytes, 0),
		maxObject:      o.SSDMaxItemBytes,
		bytesPerSec:    o.SSDWriteBytesPerSec,
		bytesPerDay:    o.SSDWriteBytesPerDay,
		maxItem:        max(o.RAMMaxItemBytes, o.SSDMaxItemBytes) + itemHeaderSize + 1024,
		now:            o.Now,
	}
}

func newAdmissionPolicy(c admissionConfig) *admissionPolicy {
	if c.now == nil {
		c.now = time.Now
	}
	if c.minFreq == 0 {
		c.minFreq = 2
	}
	now := c.now()
	a := &admissionPolicy{
		sketch:    newFreqSketch(c.sketchWidth, c.sketchMaxWidth, c.sketchWindow, c.sketchPeriod, now),
		budget:    newWriteBudget(c.bytesPerSec, c.bytesPerDay, c.maxItem, now),
		maxObject: c.maxObject,
		minFreq:   c.minFreq,
		admitAll:  c.admitAll,
		now:       c.now,
		ssdBytes:  c.ssdBytes, cacheBytes: c.cacheBytes,
		allowance: writeAllowance{bound: c.ssdBytes / 8},
	}
	if c.ssdBytes > 0 && !c.admitAll {
		a.cold = newColdChooser(c.cacheBytes)
	}
	return a
}

// recordAccess notes one read of n bytes of the object whose objectHash is
// h (hit or miss, any tier).
func (a *admissionPolicy) recordAccess(h uint64, n int64) {
	a.mu.Lock()
	est := a.sketch.add(h, n, a.now())
	if a.cold != nil {
		a.cold.record(h, n, a.minFreq, est, a.sketch)
	}
	a.epochRead += max(n, 1)
	if a.cacheBytes > 0 && a.epochRead >= max(a.cacheBytes/4, 1) {
		a.endEpoch()
	}
	a.mu.Unlock()
}

// endEpoch folds the epoch's SSD write rate into the moving average and
// sets the sketch's window to the SSD's eviction age it implies. Before
// the SSD has evicted anything it is not full, and its eviction age says
// nothing: the window stays as it was.
func (a *admissionPolicy) endEpoch() {
	if a.victims > 0 && a.ssdBytes > 0 && !a.admitAll {
		r := float64(a.epochWritten) / float64(a.epochRead)
		if a.writeRate == 0 {
			a.writeRate = r
		} else {
			a.writeRate += writeRateWeight * (r - a.writeRate)
		}
		lo, hi := minWindowTurnovers*float64(a.cacheBytes), maxWindowTurnovers*float64(a.cacheBytes)
		age := hi
		if a.writeRate > 0 {
			age = min(max(float64(a.ssdBytes)/a.writeRate, lo), hi)
		}
		a.sketch.window = int64(age)
	}
	a.epochRead, a.epochWritten = 0, 0
}

// decide answers an offer of an item of the object whose objectHash is
// obj, of objSize bytes; the item needs footprint bytes on flash. A yes
// takes the bytes from the write budget.
func (a *admissionPolicy) decide(obj uint64, objSize, footprint int64) admitVerdict {
	if a.maxObject > 0 && objSize > a.maxObject {
		return rejectTooLarge
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	a.allowance.offered(footprint)
	if !a.admitAll && a.victims > 0 {
		a.syncHalvings()
		if est := a.sketch.estimate(obj); (est < a.minFreq || float64(est) < a.victimFreq) && !a.admitCold(obj, footprint) {
			return rejectCold
		}
	}
	if !a.budget.allow(footprint, now) {
		return rejectBudget
	}
	a.budget.take(footprint)
	a.epochWritten += footprint
	a.allowance.wrote(footprint)
	return admitYes
}

// admitCold reports whether a cold candidate is admitted anyway: its
// object is in the chosen share and the write allowance covers it.
func (a *admissionPolicy) admitCold(obj uint64, footprint int64) bool {
	return a.cold != nil && inColdShare(obj, a.cold.share) && a.allowance.covers(footprint)
}

// keepOnReclaim decides whether an item of object obj, found in a region
// being reclaimed, is rewritten: only if it was read while resident (hit)
// and its object is still read at least minFreq times in the window.
// Otherwise it is a victim, and its popularity feeds victimFreq, a running
// median (frugal streaming estimate) of the sketch estimates of victims.
func (a *admissionPolicy) keepOnReclaim(obj uint64, hit bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.syncHalvings()
	e := a.sketch.estimate(obj)
	if hit && (a.admitAll || e >= a.minFreq) {
		return true
	}
	a.victims++
	est := float64(e)
	const step = 1.0 / 16
	if est > a.victimFreq {
		a.victimFreq += step
	} else if est < a.victimFreq {
		a.victimFreq -= step
	}
	return false
}

// syncHalvings halves victimFreq along with the sketch's counters.
func (a *admissionPolicy) syncHalvings() {
	for a.halvings < a.sketch.halvings {
		a.victimFreq /= 2
		a.halvings++
	}
}

// allowRewrite asks the budget for a reinsertion of footprint bytes.
func (a *admissionPolicy) allowRewrite(footprint int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.budget.allow(footprint, a.now()) {
		return false
	}
	a.budget.take(footprint)
	a.epochWritten += footprint
	a.allowance.wrote(footprint)
	return true
}

// charge counts bytes written outside admission (alignment padding) against
// the budget, even if that drives it into debt.
func (a *admissionPolicy) charge(n int64) {
	a.mu.Lock()
	a.budget.take(n)
	a.mu.Unlock()
}
