package tiering

import (
	"math"

	"strata/internal/mix"
)

// Cold admission: how much of the SSD admission is recency.
//
// The frequency rule (admission.go) refuses a cold candidate, one not read
// twice within the window. Where the hot set moves, that costs every new
// object a second miss: RAM (a 1% window) drops it before its second
// read, and only that read lets it onto the SSD. Admitting a share of cold
// candidates saves that miss, but where one-hit objects dominate (scans,
// block traces) it flushes what the frequency rule kept, and the loss
// shows only an eviction age later. A hill climber on the hit ratio (as
// Caffeine sizes its window) could not tell the two apart: the effect of
// a change arrives long after the sample that made it (docs/sim.md).
//
// So the share is chosen by miniature simulation (Waldspurger et al.,
// "Cache Modeling and Optimization using Miniature Simulations", ATC
// '17): a hash-sampled subset of the objects is replayed through one
// small model of the SSD per candidate share (a FIFO log of the sampled
// cache bytes, the frequency rule against the real sketch, the same
// reinsertion and write allowance), all seeing the same traffic at the same
// time, so a workload change moves them all and only the share tells them
// apart. The real cache takes the share whose model missed the fewest
// bytes, preferring the lower share unless a higher one misses 3% less,
// and only once the models have been full for two eviction ages (the
// sketch's window, in bytes read: the frequency rule's payoff comes that
// late). The models' counts halve every four eviction ages, so the choice
// follows the workload over a few of them.
//
// A cold candidate is admitted when its object's hash falls in the share,
// so one share keeps admitting the same objects (a loop larger than the
// cache keeps a stable part of itself) and the replay needs no random
// source: equal traces choose equally.
//
// Memory is bounded: each model holds at most coldMiniMaxItems items; when
// one would hold more, every model keeps half its sample (the objects
// whose hash has one more zero bit) and half its bytes, as SHARDS does.

// coldShares are the shares the models try, lowest first.
func coldShares() [numColdShares]float64 { return [numColdShares]float64{0, 1.0 / 8, 1.0 / 2, 1} }

const numColdShares = 4

const (
	// coldSampleShift: at most one object in 2^coldSampleShift is sampled.
	coldSampleShift = 3
	// coldMiniMaxItems bounds the items one model holds.
	coldMiniMaxItems = 2048
	// coldMiniItemBytes is what one model item costs at most: its 16-byte
	// FIFO entry three times (the FIFO compacts when a quarter of it is
	// evicted, and append leaves up to as much again spare), and a map
	// entry (16 bytes and a control byte, in a table at least 7/16 full;
	// the models share one map, an entry per object in any of them).
	coldMiniItemBytes = 3*16 + 48
	// coldChooserBytes is the most RAM the models take.
	coldChooserBytes = numColdShares * coldMiniMaxItems * coldMiniItemBytes
	// coldWarmWindows: eviction ages the models run full before the share
	// may leave 0; coldDecayWindows: eviction ages between halvings of
	// their counts.
	coldWarmWindows  = 2
	coldDecayWindows = 4
	// coldMargin: a higher share must miss this much less (relative).
	coldMargin = 0.03
	// coldWriteShare is the share of offered bytes the SSD's writes may
	// reach while cold candidates are admitted: admitting every offer
	// writes each offer, so this keeps cold admission within half of it.
	coldWriteShare = 0.5
	coldSampleSalt = 0x2545f4914f6cdd1d
	coldShareSalt  = 0x5bd1e9955bd1e995
)

// inColdShare reports whether object obj's hash falls in share.
func inColdShare(obj uint64, share float64) bool {
	return share > 0 && float64(mix.Mix64(obj^coldShareSalt)>>11)/(1<<53) < share
}

// writeAllowance lets cold admissions write while all writes stay under
// coldWriteShare of the bytes offered: every offer earns that share of its
// bytes, every write (admission or reinsertion) spends its bytes, and a
// cold candidate is admitted only while the allowance covers it. Bounded
// both ways so a long quiet or busy stretch does not bank a burst.
type writeAllowance struct{ bytes, bound int64 }

func (w *writeAllowance) offered(n int64) {
	w.bytes = min(w.bytes+int64(coldWriteShare*float64(n)), w.bound)
}
func (w *writeAllowance) wrote(n int64)       { w.bytes = max(w.bytes-n, -8*w.bound) }
func (w *writeAllowance) covers(n int64) bool { return w.bytes >= n }

// coldSlots is where one object sits in each model's log: its index plus
// one, 0 where the model does not hold it. A log holds at most about
// 4/3 x coldMiniMaxItems entries (it compacts when a quarter is evicted),
// far below what 16 bits count.
type coldSlots [numColdShares]uint16

// coldChooser runs the models and holds the chosen share.
// Not safe for concurrent use: admissionPolicy holds its lock.
type coldChooser struct {
	share float64
	minis [numColdShares]coldMini
	// where indexes every model's log at once, so a read looks its object
	// up once, not once per model (recordAccess runs under the admission
	// lock). The object being replayed is held out of the map, in cur,
	// while the models take it.
	where    map[uint64]coldSlots
	cur      uint64
	curSlots coldSlots
	replay   bool // cur is being replayed
	shift    uint // sampled: the low shift bits of the sample hash are zero
	period   int64
	served   int64
	// Bytes read since every model was full, and since the counts last
	// halved.
	sinceFull, sinceDecay int64
}

type coldMini struct {
	share           float64
	capacity, used  int64
	fifo            []coldMiniItem // fifo[head:] is what the model holds
	head            int
	allowance       writeAllowance
	full            bool
	hitBytes, reads int64 // bytes read while full, and those that hit
}

type coldMiniItem struct {
	h    uint64
	size uint32
	hit  bool
}

func newColdChooser(cacheBytes int64) *coldChooser {
	c := &coldChooser{shift: coldSampleShift, period: max(cacheBytes/2, 1), where: map[uint64]coldSlots{}}
	for i, s := range coldShares() {
		capacity := cacheBytes >> coldSampleShift
		c.minis[i] = coldMini{share: s, capacity: capacity, allowance: writeAllowance{bound: capacity / 8}}
	}
	return c
}

func (c *coldChooser) sampled(h uint64) bool {
	return mix.Mix64(h^coldSampleSalt)&(1<<c.shift-1) == 0
}

// record replays one read of n bytes of object h through the models (if h
// is sampled) and, at the end of each period, chooses the share. est is
// sk's estimate of h after the read; sk's window is the SSD's eviction
// age in bytes read.
func (c *coldChooser) record(h uint64, n int64, minFreq, est uint8, sk *freqSketch) {
	if c.sampled(h) {
		slots := c.where[h]
		c.cur, c.curSlots, c.replay = h, slots, true
		for i := range c.minis {
			c.access(i, h, n, minFreq, est, sk)
		}
		c.replay = false
		switch {
		case c.curSlots == slots:
		case c.curSlots == coldSlots{}:
			delete(c.where, h)
		default:
			c.where[h] = c.curSlots
		}
		for i := range c.minis {
			if c.minis[i].items() > coldMiniMaxItems {
				c.subsample()
				break
			}
		}
	}
	if c.sinceFull > 0 || c.allFull() {
		c.sinceFull += n
		c.sinceDecay += n
		if c.sinceDecay >= coldDecayWindows*sk.window {
			c.sinceDecay = 0
			for i := range c.minis {
				c.minis[i].hitBytes /= 2
				c.minis[i].reads /= 2
			}
		}
	}
	c.served += n
	if c.served < c.period {
		return
	}
	c.served = 0
	if c.sinceFull < coldWarmWindows*sk.window {
		return
	}
	best, bestMiss := 0.0, 2.0
	for i := range c.minis {
		m := &c.minis[i]
		if miss := 1 - float64(m.hitBytes)/float64(max(m.reads, 1)); miss < bestMiss*(1-coldMargin) {
			best, bestMiss = m.share, miss
		}
	}
	c.share = best
}

func (c *coldChooser) allFull() bool {
	for i := range c.minis {
		if !c.minis[i].full {
			return false
		}
	}
	return true
}

// subsample halves the sample: each model keeps the objects whose sample
// hash has one more low zero bit, and half its bytes.
func (c *coldChooser) subsample() {
	c.shift++
	for i := range c.minis {
		m := &c.minis[i]
		c.compact(i, c.sampled)
		m.capacity /= 2
		m.allowance.bound /= 2
		m.allowance.bytes /= 2
	}
}

// access replays one read through model i: a hit, or a miss that is
// offered at once (the model has no RAM tier) and admitted as the real
// SSD admits: anything until it first evicts, then an object read twice
// in the window, or a cold one in the share while the write allowance
// covers it. A full log evicts its oldest item,
// reinserting it if it was hit and is still frequent.
func (c *coldChooser) access(i int, h uint64, n int64, minFreq, est uint8, sk *freqSketch) {
	m := &c.minis[i]
	if m.full {
		m.reads += n
	}
	if j := c.curSlots[i]; j != 0 {
		m.fifo[j-1].hit = true
		if m.full {
			m.hitBytes += n
		}
		return
	}
	if n > m.capacity || n > math.MaxUint32 {
		return
	}
	m.allowance.offered(n)
	if m.full && est < minFreq && !(inColdShare(h, m.share) && m.allowance.covers(n)) {
		return
	}
	c.push(i, h, n)
	for m.used > m.capacity && m.head < len(m.fifo) {
		m.full = true
		it := m.fifo[m.head]
		m.head++
		c.setSlot(i, it.h, -1)
		m.used -= int64(it.size)
		if it.hit && sk.estimate(it.h) >= minFreq {
			c.push(i, it.h, int64(it.size))
		}
	}
	if m.head > 256 && 4*m.head > len(m.fifo) {
		c.compact(i, func(uint64) bool { return true })
	}
}

// items is the number of items the model holds.
func (m *coldMini) items() int { return len(m.fifo) - m.head }

// setSlot records that model i holds object h at index j of its log (-1:
// no longer holds it).
func (c *coldChooser) setSlot(i int, h uint64, j int) {
	var s coldSlots
	if c.replay && h == c.cur {
		s = c.curSlots
	} else {
		s = c.where[h]
	}
	s[i] = uint16(j + 1)
	switch {
	case c.replay && h == c.cur:
		c.curSlots = s
	case s == coldSlots{}:
		delete(c.where, h)
	default:
		c.where[h] = s
	}
}

func (c *coldChooser) push(i int, h uint64, n int64) {
	m := &c.minis[i]
	c.setSlot(i, h, len(m.fifo))
	m.fifo = append(m.fifo, coldMiniItem{h: h, size: uint32(n)})
	m.used += n
	m.allowance.wrote(n)
}

// compact drops the evicted head of model i's log and the items keep
// refuses.
func (c *coldChooser) compact(i int, keep func(uint64) bool) {
	m := &c.minis[i]
	live := m.fifo[:0]
	m.used = 0
	for _, it := range m.fifo[m.head:] {
		if !keep(it.h) {
			c.setSlot(i, it.h, -1)
			continue
		}
		c.setSlot(i, it.h, len(live))
		live = append(live, it)
		m.used += int64(it.size)
	}
	clear(m.fifo[len(live):])
	m.fifo, m.head = live, 0
}
