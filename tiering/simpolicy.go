package tiering

import (
	"fmt"
	"strconv"
)

// This file is the simulator's entry point for `strata sim`: a named policy
// at given bytes, fed one whole-object read at a time.

// simPolicy is anything the simulator replays a trace through.
type simPolicy interface {
	get(simRequest)
	result() simResult
}

func (s *simTiered) result() simResult   { return s.res }
func (b *simBaseline) result() simResult { return b.res }
func (s *simS3FIFO) result() simResult   { return s.res }
func (s *simSIEVE) result() simResult    { return s.res }
func (b *simBelady) result() simResult   { return b.res }

// Policy names NewSimulator knows. PolicyStrata is the Store's own policy
// (RAM then SSD with admission); PolicyStrataAdmitAll is the same with every
// RAM eviction admitted to the SSD, the reference for its flash writes.
const (
	PolicyStrata         = "strata"
	PolicyStrataAdmitAll = "strata-admit-all"
	PolicyLRU            = "lru"
	PolicyFIFO           = "fifo"
	PolicyS3FIFO         = "s3fifo"
	PolicySIEVE          = "sieve"
	PolicyWTinyLFU       = "wtinylfu"
	PolicyBelady         = "belady"
)

// SimPolicies lists the policy names NewSimulator accepts, Strata's first.
func SimPolicies() []string {
	return []string{PolicyStrata, PolicyStrataAdmitAll, PolicyLRU, PolicyFIFO, PolicyS3FIFO, PolicySIEVE, PolicyWTinyLFU, PolicyBelady}
}

// SimConfig sizes one simulated cache. The baselines get RAMBytes+SSDBytes
// as one cache; Strata's policy gets a RAM tier and an SSD tier of those
// sizes, with the Store's default region, segment and item-size limits.
type SimConfig struct {
	Policy   string
	RAMBytes int64
	SSDBytes int64
	// Seed makes Strata's policy reproducible: equal seeds, equal results.
	Seed uint64
}

// SimResult is what one policy achieved on the requests replayed so far.
type SimResult struct {
	Policy          string
	CacheBytes      int64 // RAMBytes + SSDBytes
	RAMBytes        int64
	SSDBytes        int64
	Requests        int64
	Misses          int64 // requests with at least one byte not served from cache
	Bytes           int64
	ByteMisses      int64
	SSDBytesWritten int64 // Strata's policies only
	// SSDIndexBytesPerItem is the RAM the SSD index costs per item on the
	// SSD at the end of the replay (Strata's policies only).
	SSDIndexBytesPerItem float64
}

// ObjectMissRatio is the fraction of requests that missed.
func (r SimResult) ObjectMissRatio() float64 { return ratio(r.Misses, r.Requests) }

// ByteMissRatio is the fraction of requested bytes that missed.
func (r SimResult) ByteMissRatio() float64 { return ratio(r.ByteMisses, r.Bytes) }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Simulator replays whole-object reads through one policy, without I/O.
// Not safe for concurrent use.
type Simulator struct {
	cfg SimConfig
	p   simPolicy
}

// NewSimulator returns a simulator of c.Policy at c's bytes.
func NewSimulator(c SimConfig) (*Simulator, error) {
	if c.RAMBytes < 0 || c.SSDBytes < 0 || c.RAMBytes+c.SSDBytes <= 0 {
		return nil, fmt.Errorf("%w: simulated cache of %d RAM and %d SSD bytes", ErrBadOptions, c.RAMBytes, c.SSDBytes)
	}
	p, err := newSimPolicy(c.Policy, simPolicyConfig{cacheBytes: c.RAMBytes + c.SSDBytes, ramBytes: c.RAMBytes, ssdBytes: c.SSDBytes, seed: c.Seed})
	if err != nil {
		return nil, err
	}
	return &Simulator{cfg: c, p: p}, nil
}

// Get replays one read of the whole object id of size bytes. nextAccess is
// the number (from 1) of the object's next request, or -1 for none; only
// Belady uses it.
func (s *Simulator) Get(id uint64, size, nextAccess int64) {
	s.p.get(simRequest{id: id, size: size, nextAccess: nextAccess})
}

// Result returns the counts so far.
func (s *Simulator) Result() SimResult {
	r := s.p.result()
	out := SimResult{
		Policy: s.cfg.Policy, CacheBytes: s.cfg.RAMBytes + s.cfg.SSDBytes, RAMBytes: s.cfg.RAMBytes, SSDBytes: s.cfg.SSDBytes,
		Requests: r.requests, Misses: r.requestMisses, Bytes: r.bytes, ByteMisses: r.byteMisses,
		SSDBytesWritten: r.ssdBytesWritten,
	}
	if t, ok := s.p.(*simTiered); ok && t.ssd != nil {
		out.SSDIndexBytesPerItem = t.ssd.indexBytesPerItem()
	}
	return out
}

type simPolicyConfig struct {
	cacheBytes         int64 // the baselines' capacity
	ramBytes, ssdBytes int64 // Strata's tiers
	seed               uint64
}

func newSimPolicy(name string, c simPolicyConfig) (simPolicy, error) {
	switch name {
	case PolicyStrata, PolicyStrataAdmitAll:
		cfg := storeSimConfig(c.ramBytes, c.ssdBytes, name == PolicyStrataAdmitAll)
		cfg.deterministicRAM, cfg.seed = true, c.seed
		return newSimTiered(cfg), nil
	case PolicyLRU, PolicyFIFO:
		return newWholeObjectBaseline(name == PolicyLRU, c.cacheBytes), nil
	case PolicyS3FIFO:
		return newSimS3FIFO(c.cacheBytes), nil
	case PolicySIEVE:
		return newSimSIEVE(c.cacheBytes), nil
	case PolicyWTinyLFU:
		return newSimWTinyLFU(c.cacheBytes, c.seed), nil
	case PolicyBelady:
		return newSimBelady(c.cacheBytes), nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownPolicy, strconv.Quote(name))
}

// storeSimConfig is the Store's policy with its default limits at these
// bytes. A small SSD gets smaller regions (at least 64 of them, at least
// 64 KiB each), so reclaiming one region does not empty a tenth of it.
func storeSimConfig(ramBytes, ssdBytes int64, admitAll bool) simTieredConfig {
	c := simTieredConfig{
		ramBytes: ramBytes, ssdBytes: ssdBytes, regionSize: defaultRegionSize,
		segSize: defaultRAMMaxItemBytes, ssdMaxObject: defaultSSDMaxItemBytes, admitAll: admitAll,
	}
	if ssdBytes/c.regionSize < 64 {
		c.regionSize = max(ssdBytes/64/(64<<10)*(64<<10), 64<<10)
	}
	return c
}
