package tiering

import (
	"math/bits"
	"sync/atomic"
	"time"

	"strata/blockstore"
	"strata/ioengine"
)

// Tier names where a read was served from.
type Tier string

const (
	TierRAM Tier = "ram"
	TierSSD Tier = "ssd"
	TierHDD Tier = "hdd"
)

// rank orders tiers from fastest to slowest ("" is below all).
func (t Tier) rank() int {
	switch t {
	case TierRAM:
		return 1
	case TierSSD:
		return 2
	case TierHDD:
		return 3
	}
	return 0
}

// Stats is a snapshot of the store's counters, for /metrics.
type Stats struct {
	RAM TierStats
	SSD TierStats
	HDD TierStats
	// SSDCache has the SSD cache's own counters (zero when it is off).
	SSDCache SSDStats
	// Coalesced counts reads that waited for another reader's identical
	// backend read instead of issuing their own.
	Coalesced uint64
	// Backend has the backend's own counters (zero when it reports none;
	// *blockstore.Store does).
	Backend blockstore.Stats
	// Fill counts the cache fills queued off the request path.
	Fill FillStats
	// WriteThrough counts the write-through decisions of Put.
	WriteThrough WriteThroughStats
}

// FillStats counts the fill queue: copies of missed bytes into the caches,
// made by a background goroutine rather than the reader.
type FillStats struct {
	Queued, Applied uint64
	DroppedFull     uint64 // the queue held Options.FillQueueBytes: not cached
	DroppedStale    uint64 // the key was invalidated (Put, Delete) after the read began
	QueuedBytes     int64
	QueueLimitBytes int64
}

// WriteThroughStats counts Put's write-through to RAM (writeadmit.go).
type WriteThroughStats struct {
	Admitted      uint64 // written blobs put in RAM
	SkippedFull   uint64 // RAM full and the key not read recently: not cached
	SkippedTooBig uint64 // above the write-through size limit
	SkippedRaced  uint64 // another Put or Delete of the key ran meanwhile
	SkippedPaced  uint64 // RAM had room, but uploads were being backed off (Options.UploadsBackedOff)
}

// TierStats counts one tier. A hit is one item (segment) served by the
// tier; a miss is one lookup it could not answer. For TierHDD, Hits counts
// items read from the backend and Misses failed backend reads; Items and
// Bytes are the backend's live blobs and their sizes, as committed to its
// index.
type TierStats struct {
	Tier          Tier
	Enabled       bool
	Hits          uint64
	Misses        uint64
	HitBytes      uint64
	Admissions    uint64 // items admitted into the tier
	Rejections    uint64 // items the admission policy refused
	Evictions     uint64 // items evicted (RAM) or reclaimed with their region (SSD)
	Items         int64  // items held now
	Bytes         int64  // bytes held now (RAM: weighted, with overhead)
	CapacityBytes int64
	Latency       ioengine.LatencySnapshot // per item served by this tier
}

// SSDStats are the SSD cache's own counters.
type SSDStats struct {
	BytesWritten       uint64 // bytes written to the cache file (regions, padding included)
	RegionsWritten     uint64
	Reinsertions       uint64 // items rewritten on reclaim because they were read
	RejectedTooLarge   uint64 // objects above the per-object cutoff
	RejectedCold       uint64 // not reused (reject-first)
	RejectedBudget     uint64 // write budget exhausted
	SkippedPresent     uint64 // RAM evictions already on the SSD (clean: no write)
	DroppedQueueFull   uint64 // writer lagging: admission queue full
	DroppedNoRegion    uint64 // writer lagging: no free region or buffer
	ChecksumMismatches uint64 // reads that failed verification (served as misses)
	ReadErrors         uint64
	WriteErrors        uint64
	IndexItems         int64
	IndexBytes         int64 // RAM used by the index
	IndexBytesPerItem  float64
	LiveBytes          int64 // bytes of indexed items on flash
	Regions            int
	RegionSize         int64
	FreeRegions        int
	Start              string // "warm", "cold" and why
	// Paced: the cache's writes and reclaim reads yield to backend reads
	// (Options.SSDPacing); PacedWaits of them waited, PacedWait in all.
	Paced      bool
	PacedWaits uint64
	PacedWait  time.Duration

	// BudgetBytesPerDay and BudgetBytesPerSec are the configured write
	// budget (Options.SSDWriteBytesPerDay, SSDWriteBytesPerSec; 0: none).
	BudgetBytesPerDay, BudgetBytesPerSec int64
}

// latencyRecorder is a lock-free log2 histogram from 1µs to ~33s.
type latencyRecorder struct {
	counts [latBounds + 1]atomic.Uint64
	sum    atomic.Int64
}

const (
	latBase   = time.Microsecond
	latBounds = 26
)

func (h *latencyRecorder) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := 0
	if d > latBase {
		units := (uint64(d) + uint64(latBase) - 1) / uint64(latBase)
		i = min(bits.Len64(units-1), latBounds)
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

func (h *latencyRecorder) snapshot() ioengine.LatencySnapshot {
	s := ioengine.LatencySnapshot{
		Bounds: make([]time.Duration, latBounds),
		Counts: make([]uint64, latBounds+1),
		Sum:    time.Duration(h.sum.Load()),
	}
	for i := range s.Bounds {
		s.Bounds[i] = latBase << i
	}
	for i := range s.Counts {
		s.Counts[i] = h.counts[i].Load()
		s.Count += s.Counts[i]
	}
	return s
}

// tierCounters are the live counters behind one TierStats.
type tierCounters struct {
	hits, misses, hitBytes atomic.Uint64
	admissions, rejections atomic.Uint64
	latency                latencyRecorder
}

func (c *tierCounters) snapshot(t Tier, enabled bool) TierStats {
	return TierStats{
		Tier:       t,
		Enabled:    enabled,
		Hits:       c.hits.Load(),
		Misses:     c.misses.Load(),
		HitBytes:   c.hitBytes.Load(),
		Admissions: c.admissions.Load(),
		Rejections: c.rejections.Load(),
		Latency:    c.latency.snapshot(),
	}
}
