package tiering

import (
	"container/list"
	"fmt"
	"math"
	"math/rand/v2"
	"strata/internal/mix"
	"strconv"
	"time"

	"strata/internal/zipf"
)

// This file is a trace-driven simulator of the caching policy. It replays
// a stream of whole-object GETs through the very code the Store uses to
// decide (the otter RAM cache, admissionPolicy, ssdCore), with no I/O and
// no payload bytes, and through LRU and FIFO baselines of the same byte
// capacity, and counts request and byte misses and SSD bytes written.

// simRequest is one GET of a whole object.
type simRequest struct {
	id         uint64
	size       int64
	nextAccess int64 // number of the object's next request (from 1), -1 if none; only Belady reads it
}

// simResult is what one policy achieved on one trace.
type simResult struct {
	policy          string
	requests        int64
	requestMisses   int64
	bytes           int64
	byteMisses      int64
	ssdBytesWritten int64
	ramHitBytes     int64
	ssdHitBytes     int64
}

func (r simResult) requestMissRatio() float64 { return float64(r.requestMisses) / float64(r.requests) }
func (r simResult) byteMissRatio() float64    { return float64(r.byteMisses) / float64(r.bytes) }

// simTiered is the Store's policy without I/O: RAM (otter W-TinyLFU), then
// the SSD core with reject-first admission and hit-based reinsertion.
type simTiered struct {
	segSize int64
	ram     simRAMTier
	ssd     *ssdCore
	adm     *admissionPolicy
	flash   [][]simFlashItem // what each region holds, standing in for reading it back
	res     simResult
	clock   time.Time

	reclaiming bool
}

// simRAMTier is the RAM tier as the simulator drives it: the real ramCache
// (otter), or simRAM, the deterministic model of otter's policy.
type simRAMTier interface {
	get(ramKey) (ramValue, bool)
	set(ramKey, ramValue)
	containsQuietly(ramKey) bool
	items() int64
}

type simFlashItem struct {
	k         ramKey
	h         uint64
	off       int64
	footprint int64
	objSize   int64
}

type simTieredConfig struct {
	ramBytes, ssdBytes int64
	regionSize         int64
	segSize            int64 // RAMMaxItemBytes
	ssdMaxObject       int64 // SSDMaxItemBytes
	admitAll           bool  // baseline: admit every RAM eviction (no reuse filter)
	// deterministicRAM replaces otter with simRAM seeded with seed, so
	// equal seeds replay equally.
	deterministicRAM bool
	seed             uint64
}

func newSimTiered(c simTieredConfig) *simTiered {
	s := &simTiered{segSize: c.segSize, clock: time.Unix(0, 0)}
	s.res.policy = "tiered"
	if c.admitAll {
		s.res.policy = "tiered-admit-all"
	}
	// The Store's admission at these sizes, on the simulated clock.
	ac := admissionConfigFor(Options{
		RAMCacheBytes: c.ramBytes, SSDCacheBytes: c.ssdBytes,
		SSDMaxItemBytes: c.ssdMaxObject, RAMMaxItemBytes: c.segSize, AdmitWindow: defaultAdmitWindow,
	})
	ac.now = func() time.Time { return s.clock }
	ac.admitAll = c.admitAll
	s.adm = newAdmissionPolicy(ac)
	regions := int(c.ssdBytes / c.regionSize)
	if regions >= 2 {
		s.ssd = newSSDCore(regions, c.regionSize)
		s.flash = make([][]simFlashItem, regions)
	}
	switch {
	case c.ramBytes > 0 && c.deterministicRAM:
		s.ram = newSimRAM(c.ramBytes, c.seed, s.onRAMEvict)
	case c.ramBytes > 0:
		if ram, err := newRAMCache(c.ramBytes, s.onRAMEvict); err == nil {
			s.ram = ram
		}
	}
	return s
}

func (s *simTiered) onRAMEvict(k ramKey, v ramValue) {
	if s.ssd != nil {
		s.offer(k, k.hash(), v.objSize, v.size)
	}
}

// offer mirrors ssdCache.offer followed by the admitter: a clean copy is
// never rewritten; admission decides; the item is appended to the fill
// region, rotating and reclaiming as the writer would.
func (s *simTiered) offer(k ramKey, h uint64, objSize, size int64) {
	if s.ssd.contains(h) {
		return
	}
	fp := s.ssd.footprint(encodedItemLen(len(k.key), int(size)))
	if fp > s.ssd.regionSize {
		return
	}
	if s.adm.decide(objectHash(k.key, k.version, k.sum), objSize, fp) != admitYes {
		return
	}
	s.place(simFlashItem{k: k, h: h, footprint: fp, objSize: objSize})
}

func (s *simTiered) place(it simFlashItem) {
	for range 2 {
		loc, res := s.ssd.place(it.h, it.footprint)
		switch res {
		case placed:
			it.off = loc.off
			s.flash[loc.region] = append(s.flash[loc.region], it)
			s.res.ssdBytesWritten += it.footprint
			return
		case placeNeedFill:
			if r, ok := s.ssd.sealFill(); ok {
				s.ssd.markSealed(r) // the write completes at once
				s.reclaim()
			}
			if _, ok := s.ssd.openFill(); !ok {
				return
			}
		default:
			return
		}
	}
}

// reclaim mirrors ssdCache.reclaim: keep the reserve of free regions,
// reinserting items read while resident.
func (s *simTiered) reclaim() {
	if s.reclaiming {
		return // reinsertion filled a region: the outer loop reclaims next
	}
	s.reclaiming = true
	defer func() { s.reclaiming = false }()
	for s.ssd.needReclaim(ssdReserveRegions) {
		r, _ := s.ssd.beginReclaim()
		items := s.flash[r]
		s.flash[r] = nil
		var keep []simFlashItem
		for _, it := range items {
			live, hit := s.ssd.reclaimItem(r, it.h, it.off)
			if live && s.ram != nil && s.ram.containsQuietly(it.k) {
				continue // RAM has it: no need for a second copy
			}
			if live && s.adm.keepOnReclaim(objectHash(it.k.key, it.k.version, it.k.sum), hit) {
				keep = append(keep, it)
			}
		}
		s.ssd.endReclaim(r)
		for _, it := range keep {
			if !s.ssd.contains(it.h) && s.adm.allowRewrite(it.footprint) {
				s.place(it)
			}
		}
	}
}

// get mirrors Object reads + Store.fetch + Store.fill for a whole object
// of one chunk: per segment RAM, then SSD (promoting to RAM); the first
// miss reads the whole chunk, which serves the remaining segments and is
// offered to RAM segment by segment.
func (s *simTiered) get(req simRequest) {
	s.clock = s.clock.Add(time.Millisecond)
	key := strconv.FormatUint(req.id, 36)
	s.adm.recordAccess(objectHash(key, 1, 0), req.size)
	nseg := int((req.size + s.segSize - 1) / s.segSize)
	missed := false
	for seg := range nseg {
		n := min(s.segSize, req.size-int64(seg)*s.segSize)
		s.res.bytes += n
		if missed {
			s.res.byteMisses += n
			continue
		}
		k := ramKey{key: key, version: 1, seg: uint32(seg)}
		if s.ram != nil {
			if _, ok := s.ram.get(k); ok {
				s.res.ramHitBytes += n
				continue
			}
		}
		if s.ssd != nil {
			h := k.hash()
			if _, ok := s.ssd.lookup(h); ok {
				s.ssd.touch(h)
				s.res.ssdHitBytes += n
				if s.ram != nil {
					s.ram.set(k, ramValue{size: n, objSize: req.size, fromSSD: true})
				}
				continue
			}
		}
		missed = true
		s.res.byteMisses += n
		for j := range nseg {
			kj := ramKey{key: key, version: 1, seg: uint32(j)}
			nj := min(s.segSize, req.size-int64(j)*s.segSize)
			if s.ram != nil {
				s.ram.set(kj, ramValue{size: nj, objSize: req.size})
			} else if s.ssd != nil {
				s.offer(kj, kj.hash(), req.size, nj)
			}
		}
	}
	s.res.requests++
	if missed {
		s.res.requestMisses++
	}
}

// simBaseline is LRU or FIFO over the same segments with one byte capacity.
type simBaseline struct {
	lru      bool
	capacity int64
	used     int64
	segSize  int64
	order    *list.List // front = next to evict
	where    map[[2]uint64]*list.Element
	res      simResult
}

type simEntry struct {
	k    [2]uint64
	size int64
}

func newSimBaseline(lru bool, capacity, segSize int64) *simBaseline {
	b := &simBaseline{lru: lru, capacity: capacity, segSize: segSize, order: list.New(), where: map[[2]uint64]*list.Element{}}
	b.res.policy = "fifo"
	if lru {
		b.res.policy = "lru"
	}
	return b
}

func (b *simBaseline) get(req simRequest) {
	nseg := int(1 + (req.size-1)/b.segSize) // segSize may be MaxInt64: one segment per object
	missed := false
	for seg := range nseg {
		n := min(b.segSize, req.size-int64(seg)*b.segSize)
		b.res.bytes += n
		k := [2]uint64{req.id, uint64(seg)}
		if e, ok := b.where[k]; ok && !missed {
			if b.lru {
				b.order.MoveToBack(e)
			}
			continue
		}
		if !missed {
			missed = true
		}
		b.res.byteMisses += n
		if _, ok := b.where[k]; ok || n > b.capacity {
			continue
		}
		b.where[k] = b.order.PushBack(simEntry{k: k, size: n})
		b.used += n
		for b.used > b.capacity {
			e := b.order.Front()
			v := b.order.Remove(e).(simEntry)
			delete(b.where, v.k)
			b.used -= v.size
		}
	}
	b.res.requests++
	if missed {
		b.res.requestMisses++
	}
}

// simTraceConfig describes a synthetic trace: Zipf popularity over ranks
// with churn (a fraction of requests retires the object at a random rank
// and puts a brand-new object there), and object sizes log-uniform in
// [minSize, maxSize]. Optionally the hot set moves (every shiftEvery
// requests the hottest shiftFraction of the ranks, or all of them when it
// is 0, move to other objects), a fraction scan of requests
// read objects never read before or after (a scan), and a fraction loop
// walk cyclically over loopKeys objects of their own (a loop larger than
// the cache defeats LRU).
type simTraceConfig struct {
	keys             uint64
	requests         int
	alpha            float64
	churn            float64
	minSize, maxSize int64
	seed             uint64
	shiftEvery       int
	shiftFraction    float64
	scan             float64
	loop             float64
	loopKeys         uint64
}

// makeTrace returns the requests and the footprint (bytes of all distinct
// objects requested).
func makeTrace(c simTraceConfig) ([]simRequest, int64, error) {
	r := rand.New(rand.NewPCG(c.seed, c.seed+1))
	z, err := zipf.New(c.keys, c.alpha)
	if err != nil {
		return nil, 0, fmt.Errorf("tiering: trace: %w", err)
	}
	ids := make([]uint64, c.keys)
	// Scatter ranks over ids so popularity is not correlated with id.
	for i := range ids {
		ids[i] = uint64(i)
	}
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	next := c.keys
	size := func(id uint64) int64 {
		u := float64(mix.Mix64(id^c.seed)>>11) / (1 << 53)
		lo, hi := math.Log(float64(c.minSize)), math.Log(float64(c.maxSize))
		return int64(math.Exp(lo + u*(hi-lo)))
	}
	seen := map[uint64]bool{}
	var footprint int64
	reqs := make([]simRequest, c.requests)
	const scanBase, loopBase = 1 << 62, 1 << 61 // id spaces of their own
	var scanned, looped uint64
	for i := range reqs {
		if c.churn > 0 && r.Float64() < c.churn {
			ids[r.Uint64N(c.keys)] = next
			next++
		}
		if c.shiftEvery > 0 && i > 0 && i%c.shiftEvery == 0 {
			moved := ids
			if c.shiftFraction > 0 {
				moved = ids[:max(int(c.shiftFraction*float64(len(ids))), 1)]
			}
			for j := range moved { // a new hot set: each of these ranks gets a new object
				ids[j] = next
				next++
			}
		}
		u := 1.0 // draw only for traces with scans or loops: the plain stream stays as it was
		if c.scan > 0 || c.loop > 0 {
			u = r.Float64()
		}
		var id uint64
		switch {
		case u < c.scan:
			id = scanBase + scanned
			scanned++
		case u < c.scan+c.loop && c.loopKeys > 0:
			id = loopBase + looped%c.loopKeys
			looped++
		default:
			id = ids[z.Next(r)]
		}
		reqs[i] = simRequest{id: id, size: size(id)}
		if !seen[id] {
			seen[id] = true
			footprint += reqs[i].size
		}
	}
	return withNextAccesses(reqs), footprint, nil
}

func replay(p simPolicy, reqs []simRequest) {
	for _, q := range reqs {
		p.get(q)
	}
}

// withNextAccesses fills in each request's nextAccess (the number, from 1,
// of the object's next request; -1 for none), so Belady can replay a
// synthetic trace.
func withNextAccesses(reqs []simRequest) []simRequest {
	last := make(map[uint64]int64)
	for i := len(reqs) - 1; i >= 0; i-- {
		next, ok := last[reqs[i].id]
		if !ok {
			next = -1
		}
		reqs[i].nextAccess = next
		last[reqs[i].id] = int64(i) + 1
	}
	return reqs
}
