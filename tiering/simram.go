package tiering

import (
	"container/list"
	"math/bits"
	"math/rand/v2"
	"strata/internal/mix"
)

// simRAM is a deterministic model of the RAM tier for the simulator. otter
// seeds its hasher at random for every cache (and for every growth of its
// frequency sketch), so two replays of one trace through the real ramCache
// differ by up to a few points of miss ratio. simRAM follows otter's
// W-TinyLFU policy step by step (otter v2 policy.go and sketch.go, after
// Caffeine): a window LRU of 1% of the bytes, a segmented LRU main space
// (80% protected), a 4-bit count-min sketch sized to the entry count and
// halved every 10 x entries increments, the frequency duel between the
// window's and probation's oldest entries with otter's random admission of
// warm candidates, and the hill climber that resizes the window. It weighs
// entries with ramWeight, as ramCache does. Its hash and random source are
// seeded, so equal seeds give equal results. What it does not model:
// otter's lossy read buffers (under concurrency otter may drop an access),
// which a single-threaded replay barely exercises.
type simRAM struct {
	maximum, weighted               uint64
	windowMax, windowWeighted       uint64
	protectedMax, protectedWeighted uint64
	window, probation, protected    list.List // front = oldest (otter's head)
	entries                         map[ramKey]*list.Element
	sketch                          simSketch
	stepSize                        float64
	adjustment                      int64
	hitsInSample, missesInSample    uint64
	previousHitRate                 float64
	rand                            *rand.Rand
	onEvict                         func(ramKey, ramValue)
	weigh                           func(ramKey, ramValue) uint64
}

type simRAMEntry struct {
	k      ramKey
	v      ramValue
	weight uint64
	queue  *list.List
}

// Otter's constants (policy.go).
const (
	simRAMPercentMain       = 0.99
	simRAMPercentProtected  = 0.80
	simRAMRestartThreshold  = 0.05
	simRAMStepPercent       = 0.0625
	simRAMStepDecay         = 0.98
	simRAMHashdosThreshold  = 6
	simRAMTransferThreshold = 1000
)

func newSimRAM(capacity int64, seed uint64, onEvict func(ramKey, ramValue)) *simRAM {
	m := uint64(capacity)
	window := m - uint64(simRAMPercentMain*float64(m))
	r := &simRAM{
		maximum: m, windowMax: window, protectedMax: uint64(simRAMPercentProtected * float64(m-window)),
		entries: map[ramKey]*list.Element{}, stepSize: -simRAMStepPercent * float64(m),
		rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), onEvict: onEvict,
	}
	r.sketch.seed = seed
	r.weigh = func(k ramKey, v ramValue) uint64 { return uint64(ramWeight(k, v)) }
	return r
}

func (r *simRAM) get(k ramKey) (ramValue, bool) {
	e, ok := r.entries[k]
	if !ok {
		return ramValue{}, false
	}
	r.access(e)
	return e.Value.(*simRAMEntry).v, true
}

func (r *simRAM) containsQuietly(k ramKey) bool {
	_, ok := r.entries[k]
	return ok
}

func (r *simRAM) items() int64 { return int64(len(r.entries)) }

func (r *simRAM) access(e *list.Element) {
	it := e.Value.(*simRAMEntry)
	r.sketch.increment(it.k)
	r.hitsInSample++
	switch it.queue {
	case &r.window, &r.protected:
		it.queue.MoveToBack(e)
	case &r.probation:
		if it.weight > r.protectedMax {
			r.probation.MoveToBack(e)
			return
		}
		r.move(e, &r.protected)
		r.protectedWeighted += it.weight
	}
}

// move puts e at the back (newest end) of q; callers adjust the queue sizes.
func (r *simRAM) move(e *list.Element, q *list.List) *list.Element {
	it := e.Value.(*simRAMEntry)
	it.queue.Remove(e)
	it.queue = q
	ne := q.PushBack(it)
	r.entries[it.k] = ne
	return ne
}

func (r *simRAM) set(k ramKey, v ramValue) {
	w := r.weigh(k, v)
	if e, ok := r.entries[k]; ok {
		it := e.Value.(*simRAMEntry)
		r.weighted = r.weighted - it.weight + w
		switch it.queue {
		case &r.window:
			r.windowWeighted = r.windowWeighted - it.weight + w
		case &r.protected:
			r.protectedWeighted = r.protectedWeighted - it.weight + w
		}
		it.v, it.weight = v, w
		if w > r.maximum {
			r.evict(e)
		} else {
			r.access(e)
		}
		r.maintain()
		return
	}
	it := &simRAMEntry{k: k, v: v, weight: w, queue: &r.window}
	r.weighted += w
	r.windowWeighted += w
	if r.weighted >= r.maximum>>1 {
		r.sketch.ensureCapacity(uint64(len(r.entries))) // otter counts the entries linked before this one
	}
	r.sketch.increment(k)
	r.missesInSample++
	var e *list.Element
	if w > r.windowMax {
		e = r.window.PushFront(it)
	} else {
		e = r.window.PushBack(it)
	}
	r.entries[k] = e
	if w > r.maximum {
		r.evict(e)
	}
	r.maintain()
}

// maintain is otter's maintenance after a write: evict, then climb.
func (r *simRAM) maintain() {
	candidate := r.evictFromWindow()
	r.evictFromMain(candidate)
	r.climb()
}

func (r *simRAM) evict(e *list.Element) {
	it := e.Value.(*simRAMEntry)
	it.queue.Remove(e)
	delete(r.entries, it.k)
	r.weighted -= it.weight
	switch it.queue {
	case &r.window:
		r.windowWeighted -= it.weight
	case &r.protected:
		r.protectedWeighted -= it.weight
	}
	if r.onEvict != nil {
		r.onEvict(it.k, it.v)
	}
}

// evictFromWindow moves the window's overflow to probation and returns the
// first entry moved (the first candidate).
func (r *simRAM) evictFromWindow() *list.Element {
	var first *list.Element
	for e := r.window.Front(); e != nil && r.windowWeighted > r.windowMax; {
		next := e.Next()
		it := e.Value.(*simRAMEntry)
		ne := r.move(e, &r.probation)
		r.windowWeighted -= it.weight
		if first == nil {
			first = ne
		}
		e = next
	}
	return first
}

func (r *simRAM) evictFromMain(candidate *list.Element) {
	victimQueue, candidateQueue := &r.probation, &r.probation
	victim := r.probation.Front()
	for r.weighted > r.maximum {
		if candidate == nil && candidateQueue == &r.probation {
			candidate, candidateQueue = r.window.Front(), &r.window
		}
		if candidate == nil && victim == nil {
			switch victimQueue {
			case &r.probation:
				victim, victimQueue = r.protected.Front(), &r.protected
				continue
			case &r.protected:
				victim, victimQueue = r.window.Front(), &r.window
				continue
			}
			return
		}
		switch {
		case victim == nil:
			next := candidate.Next()
			r.evict(candidate)
			candidate = next
		case candidate == nil:
			next := victim.Next()
			r.evict(victim)
			victim = next
		case candidate == victim:
			victim = victim.Next()
			r.evict(candidate)
			candidate = nil
		case candidate.Value.(*simRAMEntry).weight > r.maximum:
			next := candidate.Next()
			r.evict(candidate)
			candidate = next
		case r.admit(candidate.Value.(*simRAMEntry).k, victim.Value.(*simRAMEntry).k):
			next := victim.Next()
			r.evict(victim)
			victim = next
			candidate = candidate.Next()
		default:
			next := candidate.Next()
			r.evict(candidate)
			candidate = next
		}
	}
}

func (r *simRAM) admit(candidate, victim ramKey) bool {
	vf, cf := r.sketch.frequency(victim), r.sketch.frequency(candidate)
	if cf > vf {
		return true
	}
	if cf >= simRAMHashdosThreshold {
		return r.rand.Uint32()&127 == 0
	}
	return false
}

func (r *simRAM) climb() {
	r.determineAdjustment()
	r.demoteFromProtected()
	switch {
	case r.adjustment > 0:
		r.increaseWindow()
	case r.adjustment < 0:
		r.decreaseWindow()
	}
}

func (r *simRAM) determineAdjustment() {
	if r.sketch.table == nil {
		r.previousHitRate, r.missesInSample, r.hitsInSample = 0, 0, 0
		return
	}
	requests := r.hitsInSample + r.missesInSample
	if requests < r.sketch.sampleSize {
		return
	}
	if r.weighted < r.maximum>>1 {
		r.missesInSample, r.hitsInSample = 0, 0
		return
	}
	hitRate := float64(r.hitsInSample) / float64(requests)
	change := hitRate - r.previousHitRate
	amount := r.stepSize
	if change < 0 {
		amount = -r.stepSize
	}
	var next float64
	if change >= simRAMRestartThreshold || change <= -simRAMRestartThreshold {
		k := -1.0
		if amount >= 0 {
			k = 1
		}
		next = simRAMStepPercent * float64(r.maximum) * k
	} else {
		next = simRAMStepDecay * amount
	}
	r.previousHitRate = hitRate
	r.adjustment = int64(amount)
	r.stepSize = next
	r.missesInSample, r.hitsInSample = 0, 0
}

func (r *simRAM) demoteFromProtected() {
	for i := 0; i < simRAMTransferThreshold && r.protectedWeighted > r.protectedMax; i++ {
		e := r.protected.Front()
		if e == nil {
			break
		}
		r.protectedWeighted -= e.Value.(*simRAMEntry).weight
		r.move(e, &r.probation)
	}
}

func (r *simRAM) increaseWindow() {
	if r.protectedMax == 0 {
		return
	}
	quota := min(r.adjustment, int64(r.protectedMax))
	r.protectedMax -= uint64(quota)
	r.windowMax += uint64(quota)
	r.demoteFromProtected()
	for range simRAMTransferThreshold {
		e, fromProbation := r.probation.Front(), true
		if e == nil || quota < int64(e.Value.(*simRAMEntry).weight) {
			e, fromProbation = r.protected.Front(), false
		}
		if e == nil {
			break
		}
		w := e.Value.(*simRAMEntry).weight
		if quota < int64(w) {
			break
		}
		quota -= int64(w)
		if !fromProbation {
			r.protectedWeighted -= w
		}
		r.windowWeighted += w
		r.move(e, &r.window)
	}
	r.protectedMax += uint64(quota)
	r.windowMax -= uint64(quota)
	r.adjustment = quota
}

func (r *simRAM) decreaseWindow() {
	if r.windowMax <= 1 {
		return
	}
	quota := min(-r.adjustment, int64(r.windowMax-1))
	r.protectedMax += uint64(quota)
	r.windowMax -= uint64(quota)
	for range simRAMTransferThreshold {
		e := r.window.Front()
		if e == nil {
			break
		}
		w := int64(e.Value.(*simRAMEntry).weight)
		if quota < w {
			break
		}
		quota -= w
		r.windowWeighted -= uint64(w)
		r.move(e, &r.probation)
	}
	r.protectedMax -= uint64(quota)
	r.windowMax += uint64(quota)
	r.adjustment = -quota
}

// simSketch is otter's frequency sketch (4-bit counters in 64-byte blocks,
// halved every sampleSize increments) with a seeded hash instead of a
// random one. Like otter's, it is rebuilt empty, with a new hash, whenever
// it grows.
type simSketch struct {
	table      []uint64
	sampleSize uint64
	blockMask  uint64
	size       uint64
	seed       uint64
	generation uint64
}

func (s *simSketch) ensureCapacity(maximum uint64) {
	if uint64(len(s.table)) >= maximum {
		return
	}
	n := max(uint64(1)<<bits.Len64(maximum-1), 8)
	s.table = make([]uint64, n)
	s.sampleSize = 10 * maximum
	s.blockMask = n>>3 - 1
	s.size = 0
	s.generation++
}

func (s *simSketch) hash(k ramKey) uint64 {
	h := mix.Mix64(k.hash() ^ mix.Mix64(s.seed+s.generation))
	// otter's spread
	h ^= h >> 17
	h *= 0xed5ad4bb
	h ^= h >> 11
	h *= 0xac4c1b51
	h ^= h >> 15
	return h
}

func (s *simSketch) slots(k ramKey) (block, counterHash uint64) {
	h := s.hash(k)
	counterHash = h * 0x31848bab
	counterHash ^= counterHash >> 14
	return (h & s.blockMask) << 3, counterHash
}

func (s *simSketch) frequency(k ramKey) uint64 {
	if s.table == nil {
		return 0
	}
	block, ch := s.slots(k)
	f := uint64(15)
	for i := range uint64(4) {
		h := ch >> (i << 3)
		index := (h >> 1) & 15
		slot := block + (h & 1) + (i << 1)
		f = min(f, (s.table[slot]>>(index<<2))&0xf)
	}
	return f
}

func (s *simSketch) increment(k ramKey) {
	if s.table == nil {
		return
	}
	block, ch := s.slots(k)
	added := false
	for i := range uint64(4) {
		h := ch >> (i << 3)
		index := (h >> 1) & 15
		slot := block + (h & 1) + (i << 1)
		mask := uint64(0xf) << (index << 2)
		if s.table[slot]&mask != mask {
			s.table[slot] += 1 << (index << 2)
			added = true
		}
	}
	if added {
		s.size++
		if s.size == s.sampleSize {
			s.reset()
		}
	}
}

func (s *simSketch) reset() {
	count := 0
	for i := range s.table {
		count += bits.OnesCount64(s.table[i] & 0x1111111111111111)
		s.table[i] = (s.table[i] >> 1) & 0x7777777777777777
	}
	s.size = (s.size - uint64(count)>>2) >> 1
}
