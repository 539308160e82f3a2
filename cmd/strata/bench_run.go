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

// benchWorkerStats is what one worker measured; merged at the end so the
// hot loop takes no lock.
type benchWorkerStats struct {
	read, write           *hdrhistogram.Histogram
	readOps, writeOps     int64
	readBytes, writeBytes int64
	readErrs, writeErrs   int64
	notFound              int64
	lateStarts            int64 // --rate: requests sent after their intended start
	verified              int64 // GETs whose bytes --verify checked
	mismatches, stale     int64 // --verify failures
	tiers                 map[string]int64
	errSamples            []string
	lastDone              time.Time
}

func newBenchWorkerStats() *benchWorkerStats {
	return &benchWorkerStats{read: newLatencyHistogram(), write: newLatencyHistogram(), tiers: map[string]int64{}}
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

func (w *benchWorkerStats) noteError(err error) {
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

	res = &benchResult{Config: cfg, Started: time.Now().UTC()}
	if cfg.Prefill && cfg.ReadRatio > 0 {
		p, err := prefill(ctx, cfg, c, pool, verifier)
		if err != nil {
			return nil, fmt.Errorf("prefill: %w", err)
		}
		res.Prefill = p
		fmt.Fprintf(s.out, "prefill: %d keys, %s in %.1fs\n", p.Keys, formatBytes(p.Bytes), p.ElapsedSec)
	}

	start := time.Now()
	measureStart := start.Add(cfg.Warmup)
	runCtx, cancel := context.WithDeadline(ctx, measureStart.Add(cfg.Duration))
	defer cancel()
	var claimed atomic.Int64
	var schedule *openLoopSchedule
	if cfg.Rate > 0 {
		schedule = newOpenLoopSchedule(start, cfg.Rate)
	}
	deadline := measureStart.Add(cfg.Duration)
	stats := make([]*benchWorkerStats, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		st := newBenchWorkerStats()
		stats[w] = st
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)+1))
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
				if measured && cfg.MaxOps > 0 && claimed.Add(1) > cfg.MaxOps {
					return
				}
				keyIndex := keys.Key(ranks.Next(rng), opStart.Sub(start))
				isRead := rng.Float64() < cfg.ReadRatio
				var n int64
				var tier string
				var err error
				if isRead {
					n, tier, err = benchGet(runCtx, c, cfg, keyIndex, verifier)
				} else {
					n, err = benchPut(runCtx, c, keyIndex, pool, rng, cfg, verifier)
				}
				done := time.Now()
				if err != nil && runCtx.Err() != nil {
					return // cut off by the deadline: neither a result nor an error
				}
				if !measured {
					continue
				}
				st.lastDone = done
				if late {
					st.lateStarts++
				}
				switch {
				case isRead && errors.Is(err, errVerifyMismatch):
					st.mismatches++
					st.noteError(err)
				case isRead && errors.Is(err, errVerifyStale):
					st.stale++
					st.noteError(err)
				case isRead && errors.Is(err, errNotFound):
					st.notFound++
					recordLatency(st.read, done.Sub(opStart))
				case isRead && err != nil:
					st.readErrs++
					st.noteError(err)
				case isRead:
					st.readOps++
					st.readBytes += n
					st.tiers[tier]++
					if verifier != nil {
						st.verified++
					}
					recordLatency(st.read, done.Sub(opStart))
				case err != nil:
					st.writeErrs++
					st.noteError(err)
				default:
					st.writeOps++
					st.writeBytes += n
					recordLatency(st.write, done.Sub(opStart))
				}
			}
		})
	}
	wg.Wait()
	end := time.Now()
	if d := measureStart.Add(cfg.Duration); end.After(d) {
		end = d
	}
	if cfg.MaxOps > 0 && claimed.Load() > cfg.MaxOps {
		// Ended by the operation count: the run lasted until the last
		// operation finished.
		end = measureStart
		for _, st := range stats {
			if st.lastDone.After(end) {
				end = st.lastDone
			}
		}
	}
	res.summarize(stats, end.Sub(measureStart))
	return res, nil
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

// benchPut writes a body of a size drawn from the mix: random bytes, or
// with a verifier the content of the key's next generation.
func benchPut(ctx context.Context, c benchTarget, keyIndex uint64, pool []byte, rng *rand.Rand, cfg benchConfig, v *benchVerifier) (int64, error) {
	key := cfg.keyName(keyIndex)
	size := cfg.sizes.Pick(rng)
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
				n, err := benchPut(ctx, c, uint64(i), pool, rng, cfg, v)
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
