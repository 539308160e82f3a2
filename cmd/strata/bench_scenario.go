package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"strata/internal/zipf"
)

// The read-under-write scenario asks the question the design exists for:
// do large uploads that saturate the data disk starve small reads? A
// reader set GETs a warm working set while a writer set streams uploads,
// in three phases of --duration each (after --warmup each):
//
//	reads         the readers alone
//	reads+writes  the same readers, and the writers beside them
//	writes        the writers alone
//
// Read latency of phase 2 over phase 1 is the cost of the uploads to the
// readers; upload MB/s of phase 2 over phase 3 is what the readers cost
// the uploads.
const scenarioReadUnderWrite = "read-under-write"

// Phase names of read-under-write.
const (
	phaseReads           = "reads"
	phaseReadsWithWrites = "reads+writes"
	phaseWrites          = "writes"
)

// writerKeysPerClient is how many keys each writer cycles through: the
// uploads overwrite a bounded set instead of growing the key space.
const writerKeysPerClient = 4

// scenarioResult is the per-phase report of read-under-write.
type scenarioResult struct {
	Name   string         `json:"name"`
	Phases []phaseSummary `json:"phases"`
	// Read latency with uploads (phase 2) over read latency alone
	// (phase 1), at three percentiles; 0 when a phase had no reads.
	ReadP50Ratio  float64 `json:"read_p50_ratio"`
	ReadP99Ratio  float64 `json:"read_p99_ratio"`
	ReadP999Ratio float64 `json:"read_p99_9_ratio"`
	// Upload throughput with the readers (phase 2) and alone (phase 3),
	// in 10^6 bytes/s, and the first over the second.
	UploadMBPerSec     float64 `json:"upload_mb_per_sec"`
	UploadSoloMBPerSec float64 `json:"upload_solo_mb_per_sec"`
	UploadShare        float64 `json:"upload_share"`
	// UploadCheck is, with --verify, the read-back of every uploaded key
	// after the last phase.
	UploadCheck *uploadCheck `json:"upload_check,omitempty"`
}

// uploadCheck counts the read-back of the uploads: each written key once,
// unmeasured, its bytes checked against its last acknowledged generation.
type uploadCheck struct {
	Verified       int64    `json:"verified"`
	VerifyMismatch int64    `json:"verify_mismatch"`
	VerifyStale    int64    `json:"verify_stale"`
	Errors         int64    `json:"errors"`
	ErrorSamples   []string `json:"error_samples,omitempty"`
}

// phaseSummary is one phase's figures.
type phaseSummary struct {
	Name         string             `json:"name"`
	ElapsedSec   float64            `json:"elapsed_sec"`
	Read         opSummary          `json:"read"`
	Write        opSummary          `json:"write"`
	TierReads    map[string]int64   `json:"tier_reads"`
	TierHitRatio map[string]float64 `json:"tier_hit_ratio"`

	readHist, writeHist *hdrhistogram.Histogram // for the plots
}

// runReadUnderWrite prefills and warms the readers' keys, then runs the
// three phases on c.
func runReadUnderWrite(ctx context.Context, cfg benchConfig, c benchTarget, s stdio) (*benchResult, error) {
	ranks, err := zipf.New(uint64(cfg.Keys), cfg.Zipf)
	if err != nil {
		return nil, err
	}
	writerKeys := cfg.WriteConcurrency * writerKeysPerClient
	var verifier *benchVerifier
	if cfg.Verify {
		verifier = newBenchVerifier(cfg.Keys+writerKeys, cfg.Seed)
	}
	pool := newPayloadPool(max(cfg.sizes.Max(), cfg.writeSizes.Max()), cfg.Seed)
	fmt.Fprintf(s.out, "strata bench: mode=%s %s scenario=%s read-size=%s read-concurrency=%d read-keys=%d zipf=%g write-size=%s write-concurrency=%d duration=%v (per phase) warmup=%v seed=%d verify=%t rate=%g\n",
		c.mode(), c.describe(), cfg.Scenario, cfg.sizes, cfg.ReadConcurrency, cfg.Keys, cfg.Zipf, cfg.writeSizes, cfg.WriteConcurrency,
		cfg.Duration, cfg.Warmup, cfg.Seed, cfg.Verify, cfg.Rate)

	res := &benchResult{SchemaVersion: benchSchemaVersion, Config: cfg, Started: time.Now().UTC()}
	p, err := prefill(ctx, cfg, c, pool, verifier)
	if err != nil {
		return nil, fmt.Errorf("prefill: %w", err)
	}
	res.Prefill = p
	fmt.Fprintf(s.out, "prefill: %d keys, %s in %.1fs\n", p.Keys, formatBytes(p.Bytes), p.ElapsedSec)
	if err := warmReads(ctx, cfg, c, verifier); err != nil {
		return nil, fmt.Errorf("warming the read set: %w", err)
	}

	readers := benchClients{
		concurrency: cfg.ReadConcurrency, rate: cfg.Rate, seed: cfg.Seed,
		op: func(ctx context.Context, rng *rand.Rand, _ time.Duration) (bool, int64, string, error) {
			n, tier, err := benchGet(ctx, c, cfg, ranks.Next(rng), verifier)
			return true, n, tier, err
		},
	}
	var uploads atomic.Uint64
	writers := benchClients{
		concurrency: cfg.WriteConcurrency, seed: cfg.Seed ^ 0x77726974, // "writ"
		op: func(ctx context.Context, rng *rand.Rand, _ time.Duration) (bool, int64, string, error) {
			key := uint64(cfg.Keys) + (uploads.Add(1)-1)%uint64(writerKeys)
			n, err := benchPut(ctx, c, cfg, key, cfg.writeSizes.Pick(rng), pool, rng, verifier)
			return false, n, "", err
		},
	}
	all := newBenchStats(cfg.Verify)
	var elapsed time.Duration
	var origin time.Time
	scen := &scenarioResult{Name: cfg.Scenario}
	for _, ph := range []benchPhase{
		{name: phaseReads, clients: []benchClients{readers}},
		{name: phaseReadsWithWrites, clients: []benchClients{readers, writers}},
		{name: phaseWrites, clients: []benchClients{writers}},
	} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ph.warmup, ph.duration = cfg.Warmup, cfg.Duration
		progress := newBenchProgress(cfg.progress)
		run := runPhase(ctx, ph, origin, cfg.Verify, progress.update)
		progress.done()
		if origin.IsZero() {
			origin = run.measureStart
		}
		all.merge(run.total)
		elapsed += run.elapsed
		res.Series = append(res.Series, run.series...)
		scen.Phases = append(scen.Phases, summarizePhase(ph.name, cfg, run))
	}
	scen.compare()
	if verifier != nil {
		scen.UploadCheck = checkUploads(ctx, cfg, c, verifier, writerKeys)
	}
	res.summarize(all, elapsed)
	res.Scenario = scen
	if cfg.Rate > 0 {
		// --rate paces the readers, who run in the first two phases.
		var sent int64
		var sec float64
		for _, p := range scen.Phases[:2] {
			r := p.Read
			sent += r.Ops + r.Errors + r.NotFound + r.VerifyMismatch + r.VerifyStale
			sec += p.ElapsedSec
		}
		res.AchievedRate = 0
		if sec > 0 {
			res.AchievedRate = float64(sent) / sec
		}
	}
	return res, nil
}

// summarizePhase gives one phase's figures.
func summarizePhase(name string, cfg benchConfig, run phaseRun) phaseSummary {
	r := benchResult{Config: cfg}
	r.summarize(run.total, run.elapsed)
	return phaseSummary{Name: name, ElapsedSec: r.ElapsedSec, Read: r.Read, Write: r.Write,
		TierReads: r.TierReads, TierHitRatio: r.TierHitRatio, readHist: r.readHist, writeHist: r.writeHist}
}

// compare fills in the ratios between the phases.
func (s *scenarioResult) compare() {
	if len(s.Phases) != 3 {
		return
	}
	alone, with, solo := s.Phases[0], s.Phases[1], s.Phases[2]
	ratio := func(a, b int64) float64 {
		if b <= 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	if alone.Read.Ops > 0 && with.Read.Ops > 0 {
		s.ReadP50Ratio = ratio(with.Read.Latency.P50, alone.Read.Latency.P50)
		s.ReadP99Ratio = ratio(with.Read.Latency.P99, alone.Read.Latency.P99)
		s.ReadP999Ratio = ratio(with.Read.Latency.P999, alone.Read.Latency.P999)
	}
	s.UploadMBPerSec, s.UploadSoloMBPerSec = with.Write.MBPerSec, solo.Write.MBPerSec
	if solo.Write.MBPerSec > 0 {
		s.UploadShare = with.Write.MBPerSec / solo.Write.MBPerSec
	}
}

// print writes the comparison of the phases.
func (s *scenarioResult) print(w io.Writer) {
	fmt.Fprintf(w, "  %s: read latency with uploads / alone: p50 x%.2f, p99 x%.2f, p99.9 x%.2f\n", s.Name, s.ReadP50Ratio, s.ReadP99Ratio, s.ReadP999Ratio)
	fmt.Fprintf(w, "  %s: upload MB/s with reads / alone: %.2f (%.1f / %.1f MB/s)\n", s.Name, s.UploadShare, s.UploadMBPerSec, s.UploadSoloMBPerSec)
	if c := s.UploadCheck; c != nil {
		fmt.Fprintf(w, "  %s: uploads read back: verified=%d verify_mismatch=%d verify_stale=%d errors=%d\n", s.Name, c.Verified, c.VerifyMismatch, c.VerifyStale, c.Errors)
		for _, e := range c.ErrorSamples {
			fmt.Fprintf(w, "  error: %s\n", e)
		}
	}
}

// checkUploads reads back every writer key that was uploaded and checks
// its bytes.
func checkUploads(ctx context.Context, cfg benchConfig, c benchTarget, v *benchVerifier, writerKeys int) *uploadCheck {
	check := &uploadCheck{}
	for i := range writerKeys {
		key := uint64(cfg.Keys + i)
		if ctx.Err() != nil || !v.written(key) {
			continue
		}
		_, _, err := benchGet(ctx, c, cfg, key, v)
		switch {
		case err == nil:
			check.Verified++
			continue
		case errors.Is(err, errVerifyMismatch):
			check.VerifyMismatch++
		case errors.Is(err, errVerifyStale):
			check.VerifyStale++
		default:
			check.Errors++
		}
		if len(check.ErrorSamples) < maxErrorSamples {
			check.ErrorSamples = append(check.ErrorSamples, err.Error())
		}
	}
	return check
}

// warmReads reads every key of the read set once, unmeasured, so the
// phases start from the caches the working set earns; with a verifier,
// every read is checked.
func warmReads(ctx context.Context, cfg benchConfig, c benchTarget, v *benchVerifier) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range cfg.ReadConcurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(cfg.Keys) {
					return
				}
				if _, _, err := benchGet(ctx, c, cfg, uint64(i), v); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
