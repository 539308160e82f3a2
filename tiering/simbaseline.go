package tiering

import (
	"container/heap"
	"container/list"
	"math"
	"strconv"
)

// This file holds the whole-object baselines the simulator compares the
// tiered policy with, at exactly the same bytes and in the manner of
// libCacheSim (an object larger than the cache is never inserted; a miss
// inserts, evicting until the object fits): LRU and FIFO (simBaseline in
// sim.go with one segment per object), S3-FIFO, SIEVE, W-TinyLFU and Belady.

// newWholeObjectBaseline is LRU (lru) or FIFO over whole objects.
func newWholeObjectBaseline(lru bool, capacity int64) *simBaseline {
	return newSimBaseline(lru, capacity, math.MaxInt64)
}

// simS3FIFO is S3-FIFO (Yang et al., SOSP 2023) as libCacheSim runs it: a
// small FIFO of 10% of the bytes, a main FIFO of the rest and a ghost FIFO
// of ids as large (in bytes) as main. New objects enter small, or main when
// the ghost remembers them; an object leaving small moves to main if it was
// hit at least s3MoveToMain times there, else its id goes to the ghost; an
// object leaving main with a hit since it entered is put back with one
// fewer (frequencies are capped at 3).
type simS3FIFO struct {
	capacity, smallCap, mainCap int64
	small, main                 fifoBytes
	ghost                       fifoBytes
	objs                        map[uint64]*s3Object
	ghostIDs                    map[uint64]*list.Element
	res                         simResult
}

const (
	s3SmallShare = 0.10
	s3MoveToMain = 2
	s3MaxFreq    = 3
)

type s3Object struct {
	id     uint64
	size   int64
	freq   int
	inMain bool
	elem   *list.Element
}

// fifoBytes is a FIFO queue that counts its bytes.
type fifoBytes struct {
	l     list.List // front = oldest
	bytes int64
}

func newSimS3FIFO(capacity int64) *simS3FIFO {
	small := int64(float64(capacity) * s3SmallShare)
	s := &simS3FIFO{
		capacity: capacity, smallCap: small, mainCap: capacity - small,
		objs: map[uint64]*s3Object{}, ghostIDs: map[uint64]*list.Element{},
	}
	s.res.policy = "s3fifo"
	return s
}

func (s *simS3FIFO) get(q simRequest) {
	s.res.requests++
	s.res.bytes += q.size
	if o, ok := s.objs[q.id]; ok {
		o.freq = min(o.freq+1, s3MaxFreq)
		return
	}
	s.res.requestMisses++
	s.res.byteMisses += q.size
	toMain := false
	if e, ok := s.ghostIDs[q.id]; ok {
		toMain = true
		s.dropGhost(e)
	}
	if q.size > s.capacity || (!toMain && q.size >= s.smallCap) {
		return
	}
	for s.small.bytes+s.main.bytes+q.size > s.capacity {
		s.evict()
	}
	o := &s3Object{id: q.id, size: q.size, inMain: toMain}
	s.push(o)
	s.objs[q.id] = o
}

func (s *simS3FIFO) push(o *s3Object) {
	q := &s.small
	if o.inMain {
		q = &s.main
	}
	o.elem = q.l.PushBack(o)
	q.bytes += o.size
}

func (s *simS3FIFO) evict() {
	if s.main.bytes > s.mainCap || s.small.l.Len() == 0 {
		s.evictMain()
		return
	}
	s.evictSmall()
}

func (s *simS3FIFO) evictSmall() {
	for s.small.l.Len() > 0 {
		o := s.small.l.Remove(s.small.l.Front()).(*s3Object)
		s.small.bytes -= o.size
		if o.freq >= s3MoveToMain {
			o.inMain, o.freq = true, 0
			s.push(o)
			continue
		}
		delete(s.objs, o.id)
		s.remember(o)
		return
	}
	s.evictMain()
}

func (s *simS3FIFO) evictMain() {
	for s.main.l.Len() > 0 {
		o := s.main.l.Remove(s.main.l.Front()).(*s3Object)
		s.main.bytes -= o.size
		if o.freq >= 1 {
			o.freq--
			s.push(o)
			continue
		}
		delete(s.objs, o.id)
		return
	}
}

func (s *simS3FIFO) remember(o *s3Object) {
	if o.size > s.mainCap {
		return
	}
	s.ghostIDs[o.id] = s.ghost.l.PushBack(&s3Object{id: o.id, size: o.size})
	s.ghost.bytes += o.size
	for s.ghost.bytes > s.mainCap {
		s.dropGhost(s.ghost.l.Front())
	}
}

func (s *simS3FIFO) dropGhost(e *list.Element) {
	g := s.ghost.l.Remove(e).(*s3Object)
	s.ghost.bytes -= g.size
	delete(s.ghostIDs, g.id)
}

// simSIEVE is SIEVE (Zhang et al., NSDI 2024): a FIFO with a visited bit
// per object and a hand that walks from the oldest towards the newest,
// clearing visited bits and evicting the first unvisited object.
type simSIEVE struct {
	capacity, used int64
	l              list.List // front = newest, back = oldest
	objs           map[uint64]*list.Element
	hand           *list.Element
	res            simResult
}

type sieveObject struct {
	id      uint64
	size    int64
	visited bool
}

func newSimSIEVE(capacity int64) *simSIEVE {
	s := &simSIEVE{capacity: capacity, objs: map[uint64]*list.Element{}}
	s.res.policy = "sieve"
	return s
}

func (s *simSIEVE) get(q simRequest) {
	s.res.requests++
	s.res.bytes += q.size
	if e, ok := s.objs[q.id]; ok {
		e.Value.(*sieveObject).visited = true
		return
	}
	s.res.requestMisses++
	s.res.byteMisses += q.size
	if q.size > s.capacity {
		return
	}
	for s.used+q.size > s.capacity {
		s.evict()
	}
	s.objs[q.id] = s.l.PushFront(&sieveObject{id: q.id, size: q.size})
	s.used += q.size
}

func (s *simSIEVE) evict() {
	e := s.hand
	if e == nil {
		e = s.l.Back()
	}
	for e.Value.(*sieveObject).visited {
		e.Value.(*sieveObject).visited = false
		if e = e.Prev(); e == nil {
			e = s.l.Back()
		}
	}
	s.hand = e.Prev()
	o := s.l.Remove(e).(*sieveObject)
	delete(s.objs, o.id)
	s.used -= o.size
}

// simBelady is Belady's MIN with sizes: on a miss the object is inserted,
// then the objects requested farthest in the future (never again first),
// the new one included, are evicted until the cache fits; an object never
// requested again is not inserted. It needs each request's next access (the
// oracleGeneral format carries it). libCacheSim's Belady instead evicts for
// the new object before inserting it, even one never requested again, which
// a policy that declines one-hit objects (S3-FIFO) can beat on object
// misses; this one is the stronger bound (0.0000 to 0.0005 below
// libCacheSim's miss ratios on the shared trace). With variable sizes MIN is
// close to, not exactly, optimal.
type simBelady struct {
	capacity, used int64
	objs           map[uint64]*beladyObject
	byNext         beladyHeap
	res            simResult
}

type beladyObject struct {
	id    uint64
	size  int64
	next  int64 // math.MaxInt64 for never
	index int   // in the heap
}

type beladyHeap []*beladyObject

func (h beladyHeap) Len() int           { return len(h) }
func (h beladyHeap) Less(i, j int) bool { return h[i].next > h[j].next }
func (h beladyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *beladyHeap) Push(x any) {
	o := x.(*beladyObject)
	o.index = len(*h)
	*h = append(*h, o)
}
func (h *beladyHeap) Pop() any {
	old := *h
	o := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return o
}

func newSimBelady(capacity int64) *simBelady {
	b := &simBelady{capacity: capacity, objs: map[uint64]*beladyObject{}}
	b.res.policy = "belady"
	return b
}

func (b *simBelady) get(q simRequest) {
	b.res.requests++
	b.res.bytes += q.size
	next := q.nextAccess
	if next < 0 {
		next = math.MaxInt64
	}
	if o, ok := b.objs[q.id]; ok {
		o.next = next
		heap.Fix(&b.byNext, o.index)
		return
	}
	b.res.requestMisses++
	b.res.byteMisses += q.size
	if q.size > b.capacity || next == math.MaxInt64 {
		return // never requested again: caching it cannot help
	}
	o := &beladyObject{id: q.id, size: q.size, next: next}
	heap.Push(&b.byNext, o)
	b.objs[q.id] = o
	b.used += q.size
	for b.used > b.capacity {
		v := heap.Pop(&b.byNext).(*beladyObject)
		delete(b.objs, v.id)
		b.used -= v.size
	}
}

// simWTinyLFU is W-TinyLFU as Caffeine and otter run it (the RAM tier's
// policy, modelled step by step by simRAM): a 1% window LRU, a segmented
// LRU main, a count-min sketch duel between the window's and the main's
// oldest, and the hill climber that resizes the window. Here it weighs
// whole objects by their size alone, as the other baselines do.
// libCacheSim's W-TinyLFU keeps the window at 1%; the climber makes this
// one adapt, so the two differ by a few points at some sizes.
type simWTinyLFU struct {
	c   *simRAM
	res simResult
}

func newSimWTinyLFU(capacity int64, seed uint64) *simWTinyLFU {
	s := &simWTinyLFU{c: newSimRAM(capacity, seed, nil)}
	s.c.weigh = func(_ ramKey, v ramValue) uint64 { return uint64(v.size) }
	s.res.policy = "wtinylfu"
	return s
}

func (s *simWTinyLFU) get(q simRequest) {
	s.res.requests++
	s.res.bytes += q.size
	k := ramKey{key: strconv.FormatUint(q.id, 36)}
	if _, ok := s.c.get(k); ok {
		return
	}
	s.res.requestMisses++
	s.res.byteMisses += q.size
	if uint64(q.size) <= s.c.maximum {
		s.c.set(k, ramValue{size: q.size})
	}
}

func (s *simWTinyLFU) result() simResult { return s.res }
