package node

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"strata/node/pace"
)

// pacing is the node's side of node/pace: reads answered from memory
// report their latency to the controller, and upload bodies pass through
// its pacer, so uploads slow down while those reads are over
// pacing.read_latency_target and run at full speed when there are none.
//
// Only GET and HEAD answers of blobs served from the RAM tier, not errors
// and with at most maxObservedRead body bytes, are observed: their time is
// CPU and scheduling, what uploads compete for. A disk read or a large
// transfer takes its time for reasons pacing cannot change.
//
// A nil *pacing (pacing.enabled false) observes nothing and paces nothing.
type pacing struct {
	ctl   *pace.Controller
	pacer *pace.Pacer
	sched *schedLatency // added to each observed read (schedlatency.go)
	now   func() time.Time
	// injected: the controller runs on a clock of its own (tests), not
	// the handlers' time.Now, so their end times are not used for it.
	injected bool
}

// maxObservedRead bounds the body of an observed read.
const maxObservedRead = 128 << 10

// paceQuantum bounds one body read while uploads are limited, so a
// paced upload moves in small steps instead of long sleeps after big reads.
const paceQuantum = 64 << 10

// newPacing builds the controller for c over base (its clock and sleep;
// zero: the real ones); nil when pacing is off.
func newPacing(c PacingConfig, base pace.Options) (*pacing, error) {
	if !c.Enabled {
		return nil, nil
	}
	base.Target, base.Relative, base.MinRate = c.ReadLatencyTarget, c.ReadLatencyRatio, float64(c.MinUploadRate)
	ctl, err := pace.New(base)
	if err != nil {
		return nil, err
	}
	p := &pacing{ctl: ctl, pacer: pace.NewPacer(ctl), now: base.Now, injected: base.Now != nil}
	if p.now == nil {
		// The scheduler's wait is real time: with an injected clock
		// (tests) only the handler times count.
		p.now, p.sched = time.Now, newSchedLatency()
	}
	return p, nil
}

// observeRead reports a blob request that ended at end (time.Now's, read
// by the handler for its duration: observing reads no clock of its own)
// to the controller when it is a read it watches. It does not allocate.
func (p *pacing) observeRead(method string, status int, end time.Time, elapsed time.Duration, rec *responseRecorder) {
	if p == nil {
		return
	}
	p.observeReadTier(method, status, end, elapsed, rec.written, rec.Header().Get("X-Strata-Tier"))
}

// observeReadTier is observeRead for an answer of sent body bytes served
// from tier (the lean path has no responseRecorder).
func (p *pacing) observeReadTier(method string, status int, end time.Time, elapsed time.Duration, sent int64, tier string) {
	if p == nil || (method != http.MethodGet && method != http.MethodHead) || status >= 400 || sent > maxObservedRead {
		return
	}
	if tier != "ram" {
		return
	}
	if p.injected {
		end = p.now()
	}
	p.ctl.ObserveAt(end, elapsed+p.sched.estimate(end))
}

// UploadsBackedOff reports whether pacing holds uploads back now for the
// sake of read latency: false with pacing off. The tiered store asks it
// (tiering.Options.UploadsBackedOff) so that, meanwhile, uploads are not
// copied into RAM just because it has room.
func (s *Server) UploadsBackedOff() bool {
	return s.pacing != nil && s.pacing.pacer.Limited()
}

// body paces an upload body; r itself when pacing is off.
func (p *pacing) body(ctx context.Context, r io.Reader) io.Reader {
	if p == nil {
		return r
	}
	return &pacedBody{r: r, ctx: ctx, pacer: p.pacer}
}

// pacedBody waits after each read until the pacer lets its bytes through.
// A wait cut short by ctx fails the read with ctx's error.
type pacedBody struct {
	r     io.Reader
	ctx   context.Context
	pacer *pace.Pacer
}

// Read reads at most paceQuantum while uploads are limited, then waits for
// the pacer. While uploads are limited it also yields the processor after each read
// (runtime.Gosched): a body read from a full socket buffer never blocks,
// so without it an upload's goroutine runs from one read to the next while
// a read's goroutine, made runnable by the network, waits its turn.
func (b *pacedBody) Read(p []byte) (int, error) {
	limited := b.pacer.Limited()
	if len(p) > paceQuantum && limited {
		p = p[:paceQuantum]
	}
	n, err := b.r.Read(p)
	if n > 0 {
		if werr := b.pacer.Wait(b.ctx, n); werr != nil && err == nil {
			err = werr
		}
		if limited {
			runtime.Gosched()
		}
	}
	return n, err
}

var (
	pacingEnabledDesc = prometheus.NewDesc("strata_pacing_enabled",
		"1 when uploads are paced for read latency ([pacing] enabled).", nil, nil)
	pacingRateDesc = prometheus.NewDesc("strata_pacing_upload_rate_bytes",
		"Upload budget the pacing controller set, in bytes per second; 0 when uploads are not limited.", nil, nil)
	pacingLimitedDesc = prometheus.NewDesc("strata_pacing_limited",
		"1 while uploads are held to strata_pacing_upload_rate_bytes.", nil, nil)
	pacingP99Desc = prometheus.NewDesc("strata_pacing_read_p99_seconds",
		"p99 latency of the reads the controller watches (blob reads answered from RAM) over its window; 0 without reads.", nil, nil)
	pacingTargetDesc = prometheus.NewDesc("strata_pacing_read_target_seconds",
		"The read p99 above which uploads are backed off now: pacing.read_latency_target, or read_latency_ratio times the p99 of reads without uploads when higher.", nil, nil)
	pacingBackoffsDesc = prometheus.NewDesc("strata_pacing_backoffs_total",
		"Times the pacing controller lowered the upload budget because reads were over the target.", nil, nil)
	pacingWaitDesc = prometheus.NewDesc("strata_pacing_upload_wait_seconds_total",
		"Time upload bodies were held back by pacing, summed over uploads.", nil, nil)
)

// pacingCollector exports what the controller does; with pacing off,
// strata_pacing_enabled 0 and zeros.
type pacingCollector struct{ srv *Server }

func (c pacingCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pacingEnabledDesc, pacingRateDesc, pacingLimitedDesc, pacingP99Desc, pacingTargetDesc, pacingBackoffsDesc, pacingWaitDesc} {
		ch <- d
	}
}

func (c pacingCollector) Collect(ch chan<- prometheus.Metric) {
	var enabled, rate, limited, p99, target, backoffs, wait float64
	if p := c.srv.pacing; p != nil {
		enabled = 1
		rate = p.ctl.Limit()
		if rate > 0 {
			limited = 1
		}
		p99 = p.ctl.ReadQuantile().Seconds()
		target = p.ctl.Target().Seconds()
		backoffs = float64(p.ctl.Backoffs())
		wait = p.ctl.Waited().Seconds()
	}
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	gauge(pacingEnabledDesc, enabled)
	gauge(pacingRateDesc, rate)
	gauge(pacingLimitedDesc, limited)
	gauge(pacingP99Desc, p99)
	gauge(pacingTargetDesc, target)
	ch <- prometheus.MustNewConstMetric(pacingBackoffsDesc, prometheus.CounterValue, backoffs)
	ch <- prometheus.MustNewConstMetric(pacingWaitDesc, prometheus.CounterValue, wait)
}
