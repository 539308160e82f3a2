package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"strata/cmd/strata/internal/workload"
	"strata/internal/zipf"
)

// maxErrorSamples is how many distinct error messages a run keeps.
const maxErrorSamples = 5

// benchStats is what a set of clients measured over a span: one
// recorder shard's interval, a phase's interval or total.
type benchStats struct {
	read, write                 *hdrhistogram.Histogram
	readOps, writeOps           int64
	readBytes, writeBytes       int64
	readErrs, writeErrs         int64
	readErrKinds, writeErrKinds map[string]int64 // by errorKind, verification failures included
	notFound                    int64
	lateStarts                  int64 // --rate: requests sent after their intended start
	verifying                   bool  // --verify: every successful GET was checked
	verified                    int64 // GETs whose bytes --verify checked
	mismatches, stale           int64 // --verify failures
	tiers                       map[string]int64
	errSamples                  []string
	lastDone                    time.Time
}

func newBenchStats(verifying bool) *benchStats {
	return &benchStats{read: newLatencyHistogram(), write: newLatencyHistogram(), tiers: map[string]int64{},
		readErrKinds: map[string]int64{}, writeErrKinds: map[string]int64{}, verifying: verifying}
}

// newLatencyHistogram records microseconds from 1 µs to one hour with three
// significant digits.
func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
}

func recordLatency(h *hdrhistogram.Histogram, d time.Duration) {
	us := max(d.Microseconds(), 1)
	if err := h.RecordValue(us); err != nil {
		_ = h.RecordValue(h.HighestTrackableValue())
	}
}

func (w *benchStats) noteError(err error) {
	if len(w.errSamples) < maxErrorSamples {
		w.errSamples = append(w.errSamples, err.Error())
	}
}

// runBenchmark prefills, then runs the measured workload and summarizes it.
func runBenchmark(ctx context.Context, cfg benchConfig, s stdio) (*benchResult, error) {
	c, err := newBenchTarget(ctx, cfg, s)
	if err != nil {
		return nil, err
	}
	return runBenchmarkOn(ctx, cfg, c, s)
}

// runBenchmarkOn is runBenchmark on an opened target. It closes the target
// at the end; a failed close (the embedded store's) fails the run.
func runBenchmarkOn(ctx context.Context, cfg benchConfig, c benchTarget, s stdio) (res *benchResult, err error) {
	defer func() {
		if cerr := c.close(); cerr != nil {
			res, err = nil, errors.Join(err, cerr)
		}
	}()
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	if cfg.Scenario == scenarioReadUnderWrite {
		return runReadUnderWrite(ctx, cfg, c, s)
	}
	ranks, err := zipf.New(uint64(cfg.Keys), cfg.Zipf)
	if err != nil {
		return nil, err
	}
	keys, err := workload.NewKeySpace(uint64(cfg.Keys), cfg.Churn, cfg.Seed)
	if err != nil {
		return nil, err
	}
	pool := newPayloadPool(cfg.sizes.Max(), cfg.Seed)
	var verifier *benchVerifier
	if cfg.Verify {
		verifier = newBenchVerifier(cfg.Keys, cfg.Seed)
	}

	fmt.Fprintf(s.out, "strata bench: mode=%s %s size=%s read-ratio=%g zipf=%g keys=%d churn=%g concurrency=%d duration=%v warmup=%v ops=%d seed=%d verify=%t rate=%g\n",
		c.mode(), c.describe(), cfg.sizes, cfg.ReadRatio, cfg.Zipf, cfg.Keys, cfg.Churn, cfg.Concurrency, cfg.Duration, cfg.Warmup, cfg.MaxOps, cfg.Seed, cfg.Verify, cfg.Rate)

	res = &benchResult{SchemaVersion: benchSchemaVersion, Config: cfg, Started: time.Now().UTC()}
	if cfg.Prefill && cfg.ReadRatio > 0 {
		p, err := prefill(ctx, cfg, c, pool, verifier)
		if err != nil {
			return nil, fmt.Errorf("prefill: %w", err)
		}
		res.Prefill = p
		fmt.Fprintf(s.out, "prefill: %d keys, %s in %.1fs\n", p.Keys, formatBytes(p.Bytes), p.ElapsedSec)
	}

	mixed := benchClients{
		concurrency: cfg.Concurrency, rate: cfg.Rate, seed: cfg.Seed,
		op: func(ctx context.Context, rng *rand.Rand, since time.Duration) (bool, int64, string, error) {
			keyIndex := keys.Key(ranks.Next(rng), since)
			if rng.Float64() < cfg.ReadRatio {
				n, tier, err := benchGet(ctx, c, cfg, keyIndex, verifier)
				return true, n, tier, err
			}
			n, err := benchPut(ctx, c, cfg, keyIndex, cfg.sizes.Pick(rng), pool, rng, verifier)
			return false, n, "", err
		},
	}
	progress := newBenchProgress(cfg.progress)
	run := runPhase(ctx, benchPhase{name: phaseMixed, warmup: cfg.Warmup, duration: cfg.Duration, maxOps: cfg.MaxOps,
		clients: []benchClients{mixed}}, time.Time{}, cfg.Verify, progress.update)
	progress.done()
	res.summarize(run.total, run.elapsed)
	res.Series = run.series
	return res, nil
}

// benchClients is a set of clients doing one kind of work in a phase.
type benchClients struct {
	concurrency int
	rate        float64 // requests/s across the set, latency from each intended start; 0 = closed loop
	seed        uint64  // of the clients' random streams
	// op does one operation; since is its (intended) start since the
	// phase began, warmup included.
	op func(ctx context.Context, rng *rand.Rand, since time.Duration) (read bool, n int64, tier string, err error)
}

// benchPhase is one measured span of a run: sets of clients running side
// by side for warmup (unmeasured) and then duration, or until maxOps
// measured operations.
type benchPhase struct {
	name     string
	warmup   time.Duration
	duration time.Duration
	maxOps   int64
	clients  []benchClients
}

// Phase names, as the series and the scenario report them.
const phaseMixed = "mixed"

// phaseRun is what one phase measured.
type phaseRun struct {
	total        *benchStats
	series       []seriesPoint
	measureStart time.Time
	elapsed      time.Duration
}

// runPhase runs ph and returns what it measured. origin is t=0 of the
// series (zero: this phase's measured start). onSample, if not nil, sees
// every point of the series as it is taken, with the phase's total so far.
func runPhase(ctx context.Context, ph benchPhase, origin time.Time, verifying bool, onSample func(seriesPoint, *benchStats)) phaseRun {
	start := time.Now()
	measureStart := start.Add(ph.warmup)
	deadline := measureStart.Add(ph.duration)
	if origin.IsZero() {
		origin = measureStart
	}
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	clients := 0
	for _, g := range ph.clients {
		clients += g.concurrency
	}
	rec := newBenchRecorder(clients, ph.name, origin, measureStart, verifying)
	stopSampler, samplerDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(samplerDone)
		rec.sampleEvery(time.Second, stopSampler, onSample)
	}()
	var claimed atomic.Int64
	var wg sync.WaitGroup
	client := 0
	for _, g := range ph.clients {
		var schedule *openLoopSchedule
		if g.rate > 0 {
			schedule = newOpenLoopSchedule(start, g.rate)
		}
		for w := range g.concurrency {
			id := client
			client++
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(g.seed, uint64(w)+1))
				for runCtx.Err() == nil {
					opStart := time.Now()
					late := false
					if schedule != nil {
						// Open loop: the latency clock starts at the intended
						// start, however late the request actually goes out.
						opStart = schedule.claim()
						if !opStart.Before(deadline) || !waitUntil(runCtx, opStart) {
							return
						}
						late = time.Since(opStart) > lateStartSlack
					}
					measured := !opStart.Before(measureStart)
					if measured && ph.maxOps > 0 && claimed.Add(1) > ph.maxOps {
						return
					}
					read, n, tier, err := g.op(runCtx, rng, opStart.Sub(start))
					done := time.Now()
					if err != nil && runCtx.Err() != nil {
						return // cut off by the deadline: neither a result nor an error
					}
					if measured {
						rec.record(id, benchOutcome{read: read, bytes: n, tier: tier, err: err, latency: done.Sub(opStart), late: late, done: done})
					}
				}
			})
		}
	}
	wg.Wait()
	close(stopSampler)
	<-samplerDone
	end := time.Now()
	if end.After(deadline) {
		end = deadline
	}
	if ph.maxOps > 0 && claimed.Load() > ph.maxOps {
		// Ended by the operation count: the phase lasted until the last
		// operation finished.
		end = measureStart
		for i := range rec.shards {
			if d := rec.shards[i].cur.lastDone; d.After(end) {
				end = d
			}
		}
		if rec.total.lastDone.After(end) {
			end = rec.total.lastDone
		}
	}
	// The last, partial interval; the sampler may have closed one ending
	// after the last operation already.
	last := rec.sample(later(end, rec.last))
	if onSample != nil {
		onSample(last, rec.total)
	}
	if n := len(rec.series); n > 1 && last.IntervalSec == 0 && last.Read.Ops+last.Read.Errors+last.Write.Ops+last.Write.Errors == 0 {
		rec.series = rec.series[:n-1] // an empty last interval says nothing
	}
	return phaseRun{total: rec.total, series: rec.series, measureStart: measureStart, elapsed: end.Sub(measureStart)}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// checkReady fails early, with a clear message, when no node answers.
func checkReady(ctx context.Context, c *client) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, c.base.String()+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return fmt.Errorf("node at %s is not ready: %w", c.base, err)
	}
	resp.Body.Close()
	return nil
}

// benchGet reads key to the end and returns the bytes read and the tier
// that served it. With a verifier it checks the bytes (errVerifyMismatch,
// errVerifyStale); a key missing although a write of it was acknowledged
// before the GET is a stale read.
func benchGet(ctx context.Context, c benchTarget, cfg benchConfig, keyIndex uint64, v *benchVerifier) (int64, string, error) {
	key := cfg.keyName(keyIndex)
	var oldest uint64
	if v != nil {
		oldest = v.oldestAllowed(keyIndex)
	}
	n, tier, err := c.get(ctx, key, func(body io.Reader) (int64, error) {
		if v != nil && v.written(keyIndex) {
			return v.check(keyIndex, oldest, body)
		}
		// Not written in this run (--no-prefill): nothing to check against.
		return io.Copy(io.Discard, body)
	})
	switch {
	case oldest > 0 && errors.Is(err, errNotFound):
		return 0, "", fmt.Errorf("GET %s: %w: not found, generation %d was acknowledged before the GET", key, errVerifyStale, oldest)
	case errors.Is(err, errNotFound):
		return 0, "", err
	case err != nil: // errVerifyMismatch and errVerifyStale stay visible to errors.Is
		return n, "", fmt.Errorf("GET %s: %w", key, err)
	}
	return n, tier, nil
}

// benchPut writes size bytes under keyIndex: random bytes, or with a
// verifier the content of the key's next generation.
func benchPut(ctx context.Context, c benchTarget, cfg benchConfig, keyIndex uint64, size int64, pool []byte, rng *rand.Rand, v *benchVerifier) (int64, error) {
	key := cfg.keyName(keyIndex)
	var body io.Reader
	var gen putGeneration
	if v != nil {
		gen = v.nextGeneration(keyIndex)
		body = v.body(keyIndex, gen.gen, size)
	} else {
		body = &payloadReader{pool: pool, off: rng.IntN(len(pool)), n: size}
	}
	err := c.put(ctx, key, body, size, cfg.ContentType)
	if v != nil {
		v.finish(keyIndex, gen, err == nil)
	}
	if err != nil {
		return 0, fmt.Errorf("PUT %s: %w", key, err)
	}
	return size, nil
}

// prefill writes every key once, cfg.Concurrency at a time.
func prefill(ctx context.Context, cfg benchConfig, c benchTarget, pool []byte, v *benchVerifier) (*prefillResult, error) {
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var bytes atomic.Int64
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(cfg.Seed^0x5eed, uint64(w)+1))
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(cfg.Keys) {
					return
				}
				n, err := benchPut(ctx, c, cfg, uint64(i), cfg.sizes.Pick(rng), pool, rng, v)
				if err != nil {
					cancel(err)
					return
				}
				bytes.Add(n)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return &prefillResult{Keys: cfg.Keys, Bytes: bytes.Load(), ElapsedSec: time.Since(start).Seconds()}, nil
}
