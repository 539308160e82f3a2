package main

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"strata/blockstore"
)

// benchOutcome is what one measured operation did.
type benchOutcome struct {
	read    bool
	bytes   int64
	tier    string
	err     error
	latency time.Duration // from the (intended) start to the end
	late    bool          // --rate: sent after its intended start
	done    time.Time
}

// add counts one outcome.
func (w *benchStats) add(o benchOutcome) {
	if o.done.After(w.lastDone) {
		w.lastDone = o.done
	}
	if o.late {
		w.lateStarts++
	}
	err := o.err
	switch {
	case o.read && errors.Is(err, errVerifyMismatch):
		w.mismatches++
		w.readErrKinds[errorKind(err)]++
		w.noteError(err)
	case o.read && errors.Is(err, errVerifyStale):
		w.stale++
		w.readErrKinds[errorKind(err)]++
		w.noteError(err)
	case o.read && errors.Is(err, errNotFound):
		w.notFound++
		recordLatency(w.read, o.latency)
	case o.read && err != nil:
		w.readErrs++
		w.readErrKinds[errorKind(err)]++
		w.noteError(err)
	case o.read:
		w.readOps++
		w.readBytes += o.bytes
		w.tiers[o.tier]++
		if w.verifying {
			w.verified++
		}
		recordLatency(w.read, o.latency)
	case err != nil:
		w.writeErrs++
		w.writeErrKinds[errorKind(err)]++
		w.noteError(err)
	default:
		w.writeOps++
		w.writeBytes += o.bytes
		recordLatency(w.write, o.latency)
	}
}

// merge adds what o counted to w.
func (w *benchStats) merge(o *benchStats) {
	w.read.Merge(o.read)
	w.write.Merge(o.write)
	w.readOps, w.writeOps = w.readOps+o.readOps, w.writeOps+o.writeOps
	w.readBytes, w.writeBytes = w.readBytes+o.readBytes, w.writeBytes+o.writeBytes
	w.readErrs, w.writeErrs = w.readErrs+o.readErrs, w.writeErrs+o.writeErrs
	w.notFound += o.notFound
	w.lateStarts += o.lateStarts
	w.verified += o.verified
	w.mismatches, w.stale = w.mismatches+o.mismatches, w.stale+o.stale
	for t, n := range o.tiers {
		w.tiers[t] += n
	}
	for k, n := range o.readErrKinds {
		w.readErrKinds[k] += n
	}
	for k, n := range o.writeErrKinds {
		w.writeErrKinds[k] += n
	}
	for _, e := range o.errSamples {
		if len(w.errSamples) < maxErrorSamples {
			w.errSamples = append(w.errSamples, e)
		}
	}
	if o.lastDone.After(w.lastDone) {
		w.lastDone = o.lastDone
	}
}

// reset empties w for reuse, keeping its histograms' memory.
func (w *benchStats) reset() {
	read, write, verifying := w.read, w.write, w.verifying
	read.Reset()
	write.Reset()
	clear(w.tiers)
	clear(w.readErrKinds)
	clear(w.writeErrKinds)
	*w = benchStats{read: read, write: write, tiers: w.tiers, readErrKinds: w.readErrKinds,
		writeErrKinds: w.writeErrKinds, errSamples: w.errSamples[:0], verifying: verifying}
}

// Error kinds, the keys of errors_by_kind (docs/bench-json.md).
const (
	errKindVerifyMismatch = "verify_mismatch"
	errKindVerifyStale    = "verify_stale"
	errKindTimeout        = "timeout"
	errKindConnection     = "connection"
	errKindNoSpace        = "no_space"
	errKindReadOnly       = "read_only"
	errKindCorrupt        = "corrupt"
	errKindOther          = "other"
)

// errorKind names the class of a failed operation: an HTTP status as
// "http_503", a verification failure, a timeout, a broken connection, one
// of the store's sentinels (embedded), or "other".
func errorKind(err error) string {
	var se *statusError
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, errVerifyMismatch):
		return errKindVerifyMismatch
	case errors.Is(err, errVerifyStale):
		return errKindVerifyStale
	case errors.As(err, &se):
		return "http_" + strconv.Itoa(se.code)
	case errors.Is(err, blockstore.ErrNoSpace):
		return errKindNoSpace
	case errors.Is(err, blockstore.ErrReadOnly):
		return errKindReadOnly
	case errors.Is(err, blockstore.ErrCorrupt):
		return errKindCorrupt
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return errKindTimeout
	case errors.As(err, &oe):
		return errKindConnection
	}
	return errKindOther
}

// seriesPoint is one interval (about a second) of a run, for --json and
// --plot-dir. Operations count in the interval in which they finished.
type seriesPoint struct {
	// TSec is the end of the interval in seconds since the first measured
	// phase started; IntervalSec its length (the last one of a phase is
	// usually shorter).
	TSec        float64  `json:"t_sec"`
	IntervalSec float64  `json:"interval_sec"`
	Phase       string   `json:"phase"`
	Read        seriesOp `json:"read"`
	Write       seriesOp `json:"write"`
	// TierReads counts the successful GETs of the interval by the tier
	// that served them.
	TierReads map[string]int64 `json:"tier_reads"`
}

// seriesOp is one kind of operation in one interval.
type seriesOp struct {
	Ops       int64   `json:"ops"` // successful (and reads answered "not found")
	Errors    int64   `json:"errors"`
	OpsPerSec float64 `json:"ops_per_sec"`
	MBPerSec  float64 `json:"mb_per_sec"` // 10^6 bytes
	P50Us     int64   `json:"p50_us"`
	P99Us     int64   `json:"p99_us"`
}

// benchRecorder collects the outcomes of one phase's clients. Clients
// record into a few locked shards (a lock per shard, so they rarely meet);
// the sampler swaps each shard's interval out about once a second, turns
// it into a seriesPoint and adds it to the phase's total.
type benchRecorder struct {
	shards []recorderShard
	origin time.Time // t=0 of the series
	phase  string
	last   time.Time // end of the last sampled interval

	// Owned by the sampler: the interval being summed, and the total.
	interval, total *benchStats
	series          []seriesPoint
}

type recorderShard struct {
	mu    sync.Mutex
	cur   *benchStats
	spare *benchStats // the sampler's
	_     [64]byte    // keeps shards on their own cache lines
}

// newBenchRecorder returns a recorder for clients clients whose series
// counts time from origin and starts at start.
func newBenchRecorder(clients int, phase string, origin, start time.Time, verifying bool) *benchRecorder {
	n := max(1, min(clients, 2*runtime.GOMAXPROCS(0)))
	r := &benchRecorder{shards: make([]recorderShard, n), origin: origin, phase: phase, last: start,
		interval: newBenchStats(verifying), total: newBenchStats(verifying)}
	for i := range r.shards {
		r.shards[i].cur, r.shards[i].spare = newBenchStats(verifying), newBenchStats(verifying)
	}
	return r
}

// record counts the outcome of client's operation.
func (r *benchRecorder) record(client int, o benchOutcome) {
	s := &r.shards[client%len(r.shards)]
	s.mu.Lock()
	s.cur.add(o)
	s.mu.Unlock()
}

// sample closes the interval ending at now, adds it to the total and
// returns its point. Only the sampler calls it, one call at a time.
func (r *benchRecorder) sample(now time.Time) seriesPoint {
	iv := r.interval
	iv.reset()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		full := s.cur
		s.cur = s.spare
		s.mu.Unlock()
		iv.merge(full)
		full.reset()
		s.spare = full
	}
	r.total.merge(iv)
	sec := now.Sub(r.last).Seconds()
	r.last = now
	p := seriesPoint{
		TSec: now.Sub(r.origin).Seconds(), IntervalSec: sec, Phase: r.phase,
		Read:      newSeriesOp(iv.readOps+iv.notFound, iv.readErrs+iv.mismatches+iv.stale, iv.readBytes, iv, true, sec),
		Write:     newSeriesOp(iv.writeOps, iv.writeErrs, iv.writeBytes, iv, false, sec),
		TierReads: map[string]int64{},
	}
	for t, n := range iv.tiers {
		p.TierReads[tierName(t)] += n
	}
	r.series = append(r.series, p)
	return p
}

func newSeriesOp(ops, errs, bytes int64, iv *benchStats, read bool, sec float64) seriesOp {
	h := iv.write
	if read {
		h = iv.read
	}
	o := seriesOp{Ops: ops, Errors: errs, P50Us: h.ValueAtQuantile(50), P99Us: h.ValueAtQuantile(99)}
	if sec > 0 {
		o.OpsPerSec = float64(ops) / sec
		o.MBPerSec = float64(bytes) / sec / 1e6
	}
	return o
}

// tierName is how a read's tier appears in the output: "none" when the
// answer named none.
func tierName(t string) string {
	if t == "" {
		return "none"
	}
	return t
}

// sampleEvery runs r's sampler: a sample every interval from r.last on,
// each handed to onSample with the phase's total so far, until stop is
// closed. The caller takes the last, partial sample.
func (r *benchRecorder) sampleEvery(interval time.Duration, stop <-chan struct{}, onSample func(seriesPoint, *benchStats)) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for next := r.last.Add(interval); waitUntil(ctx, next); next = next.Add(interval) {
		p := r.sample(next)
		if onSample != nil {
			onSample(p, r.total)
		}
	}
}
