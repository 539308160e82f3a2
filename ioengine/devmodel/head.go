package devmodel

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Stats counts what the head did since Wrap.
type Stats struct {
	Reads, Writes, Syncs  uint64
	ReadBytes, WriteBytes uint64
	// Sequential counts requests that started where the previous one
	// ended, so they paid neither seek nor rotation.
	Sequential uint64
	// Busy is the head time charged: Seek + Rotation + Transfer + flushes.
	// Over a run it bounds throughput: no two requests share the head.
	Busy                     time.Duration
	Seek, Rotation, Transfer time.Duration
	// Wait is the time requests spent queued behind others for the head.
	Wait time.Duration
}

type requestKind int

const (
	requestRead requestKind = iota
	requestWrite
	requestSync
)

// head is the one disk head every request of a wrapped FS shares. It keeps
// a timeline: each request starts when the head is free (or on arrival,
// if later) and holds it for its cost, so requests are served one at a
// time in arrival order and queue depth cannot add throughput.
type head struct {
	model      Model
	fullStroke time.Duration

	mu        sync.Mutex
	pos       int64     // the byte after the last request
	busyUntil time.Time // when the head finishes the requests it has
	rng       *rand.Rand
	stats     Stats
}

func newHead(m Model) *head {
	h := &head{model: m, fullStroke: m.FullStroke()}
	if m.Seed != 0 {
		h.rng = rand.New(rand.NewPCG(m.Seed, m.Seed^0x9e3779b97f4a7c15))
	}
	return h
}

// reserve books the head for one request arriving at now: n bytes at
// position pos (ignored for syncs). It returns when the request completes.
func (h *head) reserve(now time.Time, kind requestKind, pos, n int64) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	start := now
	if h.busyUntil.After(start) {
		h.stats.Wait += h.busyUntil.Sub(start)
		start = h.busyUntil
	}
	var cost time.Duration
	switch kind {
	case requestSync:
		// The head is write-through: a sync waits for what is queued
		// before it, then pays the flush.
		h.stats.Syncs++
		cost = h.model.Flush
	default:
		if kind == requestRead {
			h.stats.Reads++
			h.stats.ReadBytes += uint64(n)
		} else {
			h.stats.Writes++
			h.stats.WriteBytes += uint64(n)
		}
		if pos == h.pos {
			h.stats.Sequential++
		} else {
			seek := h.model.SeekTime(pos - h.pos)
			rotation := h.rotation()
			h.stats.Seek += seek
			h.stats.Rotation += rotation
			cost += seek + rotation
		}
		transfer := h.model.TransferTime(n)
		h.stats.Transfer += transfer
		cost += transfer
		h.pos = pos + n
	}
	h.stats.Busy += cost
	h.busyUntil = start.Add(cost)
	return h.busyUntil
}

// rotation is how long the sector takes to come under the head.
func (h *head) rotation() time.Duration {
	rev := h.model.Revolution()
	if h.rng == nil {
		return rev / 2
	}
	return time.Duration(h.rng.Int64N(int64(rev)))
}

func (h *head) snapshot() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}
