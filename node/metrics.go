package node

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"strata/blockstore"
)

// Route labels: a fixed set, so label cardinality stays bounded whatever
// paths clients send.
const (
	routeBlob     = "blob"
	routeList     = "list"
	routeInternal = "internal"
	routeHealthz  = "healthz"
	routeReadyz   = "readyz"
	routeMetrics  = "metrics"
	routeOther    = "other"
)

// metrics is the HTTP layer's instrumentation, registered on the Server's
// own registry (never the global default one).
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	rejected *prometheus.CounterVec

	// blob caches the children of the vectors for the blob route, resolved
	// on first use (so no series appears before a request made it), since
	// looking one up hashes its labels and formats the status every time.
	blob blobMetrics
}

// blobMetrics are the blob route's resolved series, by blobMethodIndex.
type blobMetrics struct {
	methods [4]methodSeries
	sent    atomic.Pointer[prometheus.Counter]
	recv    atomic.Pointer[prometheus.Counter]
}

// methodSeries are one method's duration and its requests by status code.
type methodSeries struct {
	duration atomic.Pointer[prometheus.Observer]
	codes    [600]atomic.Pointer[prometheus.Counter] // by status code
}

// blobMethodIndex numbers the methods the blob route serves; -1 for others.
func blobMethodIndex(method string) int {
	switch method {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPut:
		return 2
	case http.MethodDelete:
		return 3
	}
	return -1
}

// resolved returns the child *p holds, storing resolve's on first use.
// Racing first uses store the same child (the vector returns one per
// label set), so either store is right.
func resolved[T any](p *atomic.Pointer[T], resolve func() T) T {
	if v := p.Load(); v != nil {
		return *v
	}
	v := resolve()
	p.Store(&v)
	return v
}

func newMetrics(reg *prometheus.Registry, store func() Store, uploads, reads *semaphore, build Build) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_http_requests_total",
			Help: "HTTP requests answered, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strata_http_request_duration_seconds",
			Help:    "Time from request headers to the end of the handler, by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"route", "method"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_http_received_bytes_total",
			Help: "Request body bytes received, by route.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_http_sent_bytes_total",
			Help: "Response body bytes sent, by route.",
		}, []string{"route"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_http_rejected_total",
			Help: "Requests refused with 503 because their admission class was full.",
		}, []string{"class"}),
	}
	inUse := func(class string, s *semaphore) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "strata_http_in_flight",
			Help:        "Requests holding an admission slot, by class.",
			ConstLabels: prometheus.Labels{"class": class},
		}, func() float64 { return float64(s.inUse()) })
	}
	limit := func(class string, s *semaphore) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "strata_http_admission_limit",
			Help:        "Admission slots, by class.",
			ConstLabels: prometheus.Labels{"class": class},
		}, func() float64 { return float64(cap(s.slots)) })
	}
	reg.MustRegister(
		m.requests, m.duration, m.bytesIn, m.bytesOut, m.rejected,
		inUse("upload", uploads), inUse("read", reads), limit("upload", uploads), limit("read", reads),
		&deviceCollector{store: store}, &tierCollector{store: store}, &storeCollector{store: store},
		buildInfoGauge(build),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, c := range []string{"upload", "read"} {
		m.rejected.WithLabelValues(c) // export zeros from the start
	}
	return m
}

// methodLabel keeps unknown methods from growing label cardinality.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPost:
		return method
	}
	return "OTHER"
}

func (m *metrics) observe(route, method string, status int, elapsed time.Duration, sent int64) {
	if i := blobMethodIndex(method); route == routeBlob && i >= 0 && status >= 0 && status < len(m.blob.methods[i].codes) {
		ms := &m.blob.methods[i]
		resolved(&ms.codes[status], func() prometheus.Counter {
			return m.requests.WithLabelValues(route, method, strconv.Itoa(status))
		}).Inc()
		resolved(&ms.duration, func() prometheus.Observer { return m.duration.WithLabelValues(route, method) }).Observe(elapsed.Seconds())
		if sent > 0 {
			resolved(&m.blob.sent, func() prometheus.Counter { return m.bytesOut.WithLabelValues(route) }).Add(float64(sent))
		}
		return
	}
	method = methodLabel(method)
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
	if sent > 0 {
		m.bytesOut.WithLabelValues(route).Add(float64(sent))
	}
}

// received counts n request body bytes of route.
func (m *metrics) received(route string, n int64) {
	if route == routeBlob {
		resolved(&m.blob.recv, func() prometheus.Counter { return m.bytesIn.WithLabelValues(route) }).Add(float64(n))
		return
	}
	m.bytesIn.WithLabelValues(route).Add(float64(n))
}

// latencyHistogram turns a bucketed snapshot into a Prometheus histogram.
func latencyHistogram(desc *prometheus.Desc, l Latency, labels ...string) (prometheus.Metric, error) {
	buckets := make(map[float64]uint64, len(l.Bounds))
	var cum uint64
	for i, b := range l.Bounds {
		if i < len(l.Counts) {
			cum += l.Counts[i]
		}
		buckets[b.Seconds()] = cum
	}
	return prometheus.NewConstHistogram(desc, l.Count, l.Sum.Seconds(), buckets, labels...)
}

var (
	devOpsDesc = prometheus.NewDesc("strata_device_ops_total",
		"I/O operations on a device, by I/O class and operation (read, write, sync, other).",
		[]string{"device", "class", "op"}, nil)
	devBytesDesc = prometheus.NewDesc("strata_device_bytes_total",
		"Bytes moved on a device, by I/O class and direction (read, write).",
		[]string{"device", "class", "direction"}, nil)
	devErrorsDesc = prometheus.NewDesc("strata_device_errors_total",
		"Failed I/O operations on a device, by I/O class.",
		[]string{"device", "class"}, nil)
	devLatencyDesc = prometheus.NewDesc("strata_device_latency_seconds",
		"I/O latency on a device, queueing included, by I/O class.",
		[]string{"device", "class"}, nil)
	devInFlightDesc = prometheus.NewDesc("strata_device_in_flight",
		"I/O operations running on a device.", []string{"device"}, nil)
	devQueuedDesc = prometheus.NewDesc("strata_device_queued",
		"I/O operations waiting for a device.", []string{"device"}, nil)
	devDirectDesc = prometheus.NewDesc("strata_device_direct_io",
		"1 when the device uses O_DIRECT, 0 when it fell back to buffered I/O.", []string{"device"}, nil)
	fsyncDesc = prometheus.NewDesc("strata_fsync_duration_seconds",
		"fdatasync latency on a device (every class; queue wait included): what each acknowledged write waited for durability.",
		[]string{"device"}, nil)
	devQueueWaitDesc = prometheus.NewDesc("strata_device_queue_wait_seconds",
		"Time I/O operations waited for a device slot, by I/O class (only operations that had to wait).",
		[]string{"device", "class"}, nil)
)

// deviceCollector exports Store.Devices at scrape time (nothing before a store is attached).
type deviceCollector struct{ store func() Store }

func (c *deviceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{devOpsDesc, devBytesDesc, devErrorsDesc, devLatencyDesc, devQueueWaitDesc, devInFlightDesc, devQueuedDesc, devDirectDesc, fsyncDesc} {
		ch <- d
	}
}

func (c *deviceCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	store := c.store()
	if store == nil {
		return // still recovering
	}
	for _, dev := range store.Devices() {
		gauge(devInFlightDesc, float64(dev.InFlight), dev.Name)
		gauge(devQueuedDesc, float64(dev.Queued), dev.Name)
		direct := 0.0
		if dev.Direct {
			direct = 1
		}
		gauge(devDirectDesc, direct, dev.Name)
		if h, err := latencyHistogram(fsyncDesc, dev.SyncLatency, dev.Name); err == nil {
			ch <- h
		}
		for _, cs := range dev.Classes {
			counter(devOpsDesc, cs.ReadOps, dev.Name, cs.Class, "read")
			counter(devOpsDesc, cs.WriteOps, dev.Name, cs.Class, "write")
			counter(devOpsDesc, cs.SyncOps, dev.Name, cs.Class, "sync")
			counter(devOpsDesc, cs.OtherOps, dev.Name, cs.Class, "other")
			counter(devBytesDesc, cs.ReadBytes, dev.Name, cs.Class, "read")
			counter(devBytesDesc, cs.WriteBytes, dev.Name, cs.Class, "write")
			counter(devErrorsDesc, cs.Errors, dev.Name, cs.Class)
			if h, err := latencyHistogram(devLatencyDesc, cs.Latency, dev.Name, cs.Class); err == nil {
				ch <- h
			}
			if h, err := latencyHistogram(devQueueWaitDesc, cs.QueueWait, dev.Name, cs.Class); err == nil {
				ch <- h
			}
		}
	}
}

var (
	tierCounterDescs = map[string]*prometheus.Desc{
		"hits":       prometheus.NewDesc("strata_tier_hits_total", "Reads answered by a tier.", []string{"tier"}, nil),
		"misses":     prometheus.NewDesc("strata_tier_misses_total", "Reads a tier could not answer.", []string{"tier"}, nil),
		"admissions": prometheus.NewDesc("strata_tier_admissions_total", "Items admitted into a tier.", []string{"tier"}, nil),
		"rejections": prometheus.NewDesc("strata_tier_rejections_total", "Items a tier's admission policy refused.", []string{"tier"}, nil),
		"evictions":  prometheus.NewDesc("strata_tier_evictions_total", "Items evicted from a tier.", []string{"tier"}, nil),
	}
	tierItemsDesc    = prometheus.NewDesc("strata_tier_items", "Items held by a tier.", []string{"tier"}, nil)
	tierBytesDesc    = prometheus.NewDesc("strata_tier_bytes", "Bytes held by a tier.", []string{"tier"}, nil)
	tierCapacityDesc = prometheus.NewDesc("strata_tier_capacity_bytes", "Configured capacity of a tier (0 = off or unbounded).", []string{"tier"}, nil)
	tierLatencyDesc  = prometheus.NewDesc("strata_tier_read_latency_seconds", "Latency of reads answered by a tier.", []string{"tier"}, nil)
)

// tierCollector exports Store.Stats at scrape time.
type tierCollector struct{ store func() Store }

func (c *tierCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range tierCounterDescs {
		ch <- d
	}
	for _, d := range []*prometheus.Desc{tierItemsDesc, tierBytesDesc, tierCapacityDesc, tierLatencyDesc} {
		ch <- d
	}
}

func (c *tierCollector) Collect(ch chan<- prometheus.Metric) {
	store := c.store()
	if store == nil {
		return
	}
	for _, t := range store.Stats() {
		for name, v := range map[string]uint64{"hits": t.Hits, "misses": t.Misses, "admissions": t.Admissions, "rejections": t.Rejections, "evictions": t.Evictions} {
			ch <- prometheus.MustNewConstMetric(tierCounterDescs[name], prometheus.CounterValue, float64(v), t.Tier)
		}
		ch <- prometheus.MustNewConstMetric(tierItemsDesc, prometheus.GaugeValue, float64(t.Items), t.Tier)
		ch <- prometheus.MustNewConstMetric(tierBytesDesc, prometheus.GaugeValue, float64(t.Bytes), t.Tier)
		ch <- prometheus.MustNewConstMetric(tierCapacityDesc, prometheus.GaugeValue, float64(t.CapacityBytes), t.Tier)
		if h, err := latencyHistogram(tierLatencyDesc, t.ReadLatency, t.Tier); err == nil {
			ch <- h
		}
	}
}

// storeStatsReporter is the optional Store method behind storeCollector.
type storeStatsReporter interface {
	StoreStats() StoreStats
}

var (
	storeCorruptDesc = prometheus.NewDesc("strata_store_corrupt_records_total",
		"Records that failed a checksum, on read or in recovery; their bytes were never served.", nil, nil)
	storeWriteErrorsDesc = prometheus.NewDesc("strata_store_write_errors_total",
		"Failed volume writes and fdatasyncs; each failed its group and retired its volume.", nil, nil)
	storeTornTailsDesc = prometheus.NewDesc("strata_store_torn_tails_total",
		"Unacknowledged writes that recovery found torn at a volume's end and cut off (not corruption).", nil, nil)
	indexErrorsDesc = prometheus.NewDesc("strata_index_commit_errors_total",
		"Failed index commit attempts; when every retry of a commit fails the store stops taking writes (see /readyz).", nil, nil)
	indexPendingDesc = prometheus.NewDesc("strata_index_pending_entries",
		"Durable, readable entries not yet committed to the index.", nil, nil)
	groupCommitsDesc = prometheus.NewDesc("strata_store_group_commits_total",
		"Group commits of the HDD tier: one aligned write and one fdatasync each.", nil, nil)
	groupRecordsDesc = prometheus.NewDesc("strata_store_group_records_total",
		"Records the group commits carried; over strata_store_group_commits_total, the records per fdatasync.", nil, nil)
	coalescedDesc = prometheus.NewDesc("strata_tier_coalesced_reads_total",
		"Reads that shared another reader's backend read instead of issuing their own.", nil, nil)
	diskLiveDesc = prometheus.NewDesc("strata_disk_live_bytes",
		"Bytes of a data disk's volumes that the index needs.", []string{"device", "dir"}, nil)
	diskGarbageDesc = prometheus.NewDesc("strata_disk_garbage_bytes",
		"Bytes of a data disk's volumes that compaction can reclaim (overwritten, deleted, padding).", []string{"device", "dir"}, nil)
	diskGarbageRatioDesc = prometheus.NewDesc("strata_disk_garbage_ratio",
		"Garbage bytes over used bytes of a data disk's volumes (0 to 1).", []string{"device", "dir"}, nil)
	compactPassesDesc = prometheus.NewDesc("strata_compaction_passes_total",
		"Compaction passes run.", nil, nil)
	compactVolumesDesc = prometheus.NewDesc("strata_compaction_volumes_total",
		"Volumes compacted and removed.", nil, nil)
	compactWrittenDesc = prometheus.NewDesc("strata_compaction_written_bytes_total",
		"Bytes compaction copied into active volumes.", nil, nil)
	compactReclaimedDesc = prometheus.NewDesc("strata_compaction_reclaimed_bytes_total",
		"Bytes of the volumes compaction removed.", nil, nil)
	compactTombstonesDesc = prometheus.NewDesc("strata_compaction_tombstones_dropped_total",
		"Tombstones compaction dropped past their grace period.", nil, nil)
	ssdWrittenDesc = prometheus.NewDesc("strata_ssd_written_bytes_total",
		"Bytes the SSD cache wrote to its file (padding included); compare with strata_ssd_write_budget_bytes_per_day.", nil, nil)
	ssdBudgetDayDesc = prometheus.NewDesc("strata_ssd_write_budget_bytes_per_day",
		"The SSD cache's configured write budget per day (0: none).", nil, nil)
	ssdBudgetSecDesc = prometheus.NewDesc("strata_ssd_write_budget_bytes_per_second",
		"The SSD cache's configured write budget per second (0: none).", nil, nil)
	ssdBudgetRejectedDesc = prometheus.NewDesc("strata_ssd_budget_rejections_total",
		"Admissions to the SSD cache refused because its write budget was spent.", nil, nil)
	fillsDesc = prometheus.NewDesc("strata_tier_fills_total",
		"Missed reads' bytes copied into the caches off the request path, by outcome: applied, dropped_full (the fill queue was full), dropped_stale (a put or delete of the key came first).", []string{"outcome"}, nil)
	writeThroughDesc = prometheus.NewDesc("strata_tier_writethrough_total",
		"Put's write-through to RAM, by decision: admitted, skipped (RAM full and the key not being read), too_big, paced (RAM had room but uploads were being backed off for read latency).", []string{"decision"}, nil)
	ssdPacedDesc = prometheus.NewDesc("strata_ssd_paced_waits_total",
		"SSD cache writes and reclaim reads that waited for the backend's reads (cache and data on one device).", nil, nil)
	ssdPacedSecondsDesc = prometheus.NewDesc("strata_ssd_paced_wait_seconds_total",
		"Time SSD cache writes and reclaim reads waited for the backend's reads.", nil, nil)
)

// storeCollector exports StoreStats at scrape time, for stores that have them.
type storeCollector struct{ store func() Store }

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{storeCorruptDesc, storeWriteErrorsDesc, storeTornTailsDesc, indexErrorsDesc, indexPendingDesc, coalescedDesc, groupCommitsDesc, groupRecordsDesc,
		diskLiveDesc, diskGarbageDesc, diskGarbageRatioDesc, compactPassesDesc, compactVolumesDesc, compactWrittenDesc, compactReclaimedDesc, compactTombstonesDesc,
		ssdWrittenDesc, ssdBudgetDayDesc, ssdBudgetSecDesc, ssdBudgetRejectedDesc, fillsDesc, writeThroughDesc, ssdPacedDesc, ssdPacedSecondsDesc} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	r, ok := c.store().(storeStatsReporter)
	if !ok {
		return // no store yet, or one without these counters
	}
	st := r.StoreStats()
	ch <- prometheus.MustNewConstMetric(storeCorruptDesc, prometheus.CounterValue, float64(st.CorruptRecords))
	ch <- prometheus.MustNewConstMetric(storeWriteErrorsDesc, prometheus.CounterValue, float64(st.WriteErrors))
	ch <- prometheus.MustNewConstMetric(storeTornTailsDesc, prometheus.CounterValue, float64(st.TornTails))
	ch <- prometheus.MustNewConstMetric(indexErrorsDesc, prometheus.CounterValue, float64(st.IndexErrors))
	ch <- prometheus.MustNewConstMetric(indexPendingDesc, prometheus.GaugeValue, float64(st.PendingIndexEntries))
	ch <- prometheus.MustNewConstMetric(coalescedDesc, prometheus.CounterValue, float64(st.CoalescedReads))
	ch <- prometheus.MustNewConstMetric(groupCommitsDesc, prometheus.CounterValue, float64(st.GroupCommits))
	ch <- prometheus.MustNewConstMetric(groupRecordsDesc, prometheus.CounterValue, float64(st.GroupRecords))
	for _, d := range st.Disks {
		ch <- prometheus.MustNewConstMetric(diskLiveDesc, prometheus.GaugeValue, float64(d.Live), d.Device, d.Dir)
		ch <- prometheus.MustNewConstMetric(diskGarbageDesc, prometheus.GaugeValue, float64(d.Garbage), d.Device, d.Dir)
		ch <- prometheus.MustNewConstMetric(diskGarbageRatioDesc, prometheus.GaugeValue, d.GarbageRatio, d.Device, d.Dir)
	}
	cs := st.Compaction
	ch <- prometheus.MustNewConstMetric(compactPassesDesc, prometheus.CounterValue, float64(cs.Passes))
	ch <- prometheus.MustNewConstMetric(compactVolumesDesc, prometheus.CounterValue, float64(cs.Volumes))
	ch <- prometheus.MustNewConstMetric(compactWrittenDesc, prometheus.CounterValue, float64(cs.BytesCopied))
	ch <- prometheus.MustNewConstMetric(compactReclaimedDesc, prometheus.CounterValue, float64(cs.BytesReclaimed))
	ch <- prometheus.MustNewConstMetric(compactTombstonesDesc, prometheus.CounterValue, float64(cs.TombstonesDropped))
	if ssd := st.SSD; ssd.Enabled {
		ch <- prometheus.MustNewConstMetric(ssdWrittenDesc, prometheus.CounterValue, float64(ssd.BytesWritten))
		ch <- prometheus.MustNewConstMetric(ssdBudgetDayDesc, prometheus.GaugeValue, float64(ssd.BudgetBytesPerDay))
		ch <- prometheus.MustNewConstMetric(ssdBudgetSecDesc, prometheus.GaugeValue, float64(ssd.BudgetBytesPerSec))
		ch <- prometheus.MustNewConstMetric(ssdBudgetRejectedDesc, prometheus.CounterValue, float64(ssd.RejectedBudget))
		ch <- prometheus.MustNewConstMetric(ssdPacedDesc, prometheus.CounterValue, float64(st.Fills.SSDPacedWaits))
		ch <- prometheus.MustNewConstMetric(ssdPacedSecondsDesc, prometheus.CounterValue, st.Fills.SSDPacedWaitSeconds)
	}
	f := st.Fills
	for outcome, v := range map[string]uint64{"applied": f.Applied, "dropped_full": f.DroppedFull, "dropped_stale": f.DroppedStale} {
		ch <- prometheus.MustNewConstMetric(fillsDesc, prometheus.CounterValue, float64(v), outcome)
	}
	for decision, v := range map[string]uint64{"admitted": f.WriteThroughAdmitted, "skipped": f.WriteThroughSkipped, "too_big": f.WriteThroughBig, "paced": f.WriteThroughPaced} {
		ch <- prometheus.MustNewConstMetric(writeThroughDesc, prometheus.CounterValue, float64(v), decision)
	}
}

// buildInfoGauge is strata_build_info: always 1, the build in its labels.
func buildInfoGauge(b Build) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "strata_build_info",
		Help:        "Always 1; the labels describe the running binary.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": b.GoVersion},
	})
	g.Set(1)
	return g
}

var (
	passRunningDesc = prometheus.NewDesc("strata_pass_running",
		"1 while a compaction or scrub pass runs (the background loop's or a requested one), by kind.", []string{"kind"}, nil)
	passProgressDesc = prometheus.NewDesc("strata_pass_progress_ratio",
		"How far the running pass of a kind is, 0 to 1 of its bytes (0 when none runs).", []string{"kind"}, nil)
	passFinishedDesc = prometheus.NewDesc("strata_pass_last_finished_timestamp_seconds",
		"When the last pass of a kind since start ended (unix seconds; 0: none).", []string{"kind"}, nil)
	passFailedDesc = prometheus.NewDesc("strata_pass_last_failed",
		"1 when the last pass of a kind since start stopped before completing, else 0.", []string{"kind"}, nil)
)

// passCollector exports the compaction and scrub passes (SetPasses, or
// the attached store) at scrape time.
type passCollector struct{ srv *Server }

func (c *passCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{passRunningDesc, passProgressDesc, passFinishedDesc, passFailedDesc} {
		ch <- d
	}
}

func (c *passCollector) Collect(ch chan<- prometheus.Metric) {
	p, err := c.srv.passRunner()
	if err != nil {
		return
	}
	for _, kind := range []blockstore.PassKind{blockstore.PassCompact, blockstore.PassScrub} {
		cur, err := p.Pass(kind, 0)
		if err != nil {
			continue
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, string(kind))
		}
		r := ReportPass(cur)
		running, progress, finished, failed := 0.0, 0.0, 0.0, 0.0
		if r.Running {
			running, progress = 1, r.Progress
		}
		if r.Finished != nil {
			finished = float64(r.Finished.UnixNano()) / 1e9
		}
		if r.Result == PassResultFailed {
			failed = 1
		}
		gauge(passRunningDesc, running)
		gauge(passProgressDesc, progress)
		gauge(passFinishedDesc, finished)
		gauge(passFailedDesc, failed)
	}
}

// ClusterMetrics are a cluster node's background counters, as exported
// on /metrics once SetClusterMetrics is called (cluster mode).
type ClusterMetrics struct {
	HintsPending                               map[string]int // per target node id
	HintBytes                                  int64
	HintsStored, HintsDropped, HintsReplayed   uint64
	RepairsQueued, RepairsDone, RepairsDropped uint64
	AntiEntropyKeysPulled                      uint64
	AntiEntropyBytesPulled                     uint64
}

// SetClusterMetrics has /metrics export f's counters (strata_hints_*,
// strata_repairs_*, strata_antientropy_*).
func (s *Server) SetClusterMetrics(f func() ClusterMetrics) { s.clusterMetrics.Store(&f) }

var (
	hintsPendingDesc = prometheus.NewDesc("strata_hints_pending",
		"Hints waiting for a replica that was down, by target node.", []string{"target"}, nil)
	hintsPendingBytesDesc = prometheus.NewDesc("strata_hints_pending_bytes",
		"Bytes the pending hints count against hints_max_bytes.", nil, nil)
	hintsStoredDesc   = prometheus.NewDesc("strata_hints_stored_total", "Hints stored for replicas that were down.", nil, nil)
	hintsDroppedDesc  = prometheus.NewDesc("strata_hints_dropped_total", "Hints dropped (store full or obsolete); anti-entropy repairs what they held.", nil, nil)
	hintsReplayedDesc = prometheus.NewDesc("strata_hints_replayed_total", "Hints replayed to their replica.", nil, nil)
	repairsDesc       = prometheus.NewDesc("strata_repairs_total",
		"Repairs of local copies from replicas, by outcome (queued, done, dropped).", []string{"outcome"}, nil)
	aeKeysDesc  = prometheus.NewDesc("strata_antientropy_pulled_keys_total", "Keys anti-entropy copied from replicas.", nil, nil)
	aeBytesDesc = prometheus.NewDesc("strata_antientropy_pulled_bytes_total", "Bytes anti-entropy copied from replicas.", nil, nil)
)

type clusterCollector struct{ srv *Server }

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{hintsPendingDesc, hintsPendingBytesDesc, hintsStoredDesc, hintsDroppedDesc, hintsReplayedDesc, repairsDesc, aeKeysDesc, aeBytesDesc} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.srv.clusterMetrics.Load()
	if f == nil {
		return
	}
	m := (*f)()
	for target, n := range m.HintsPending {
		ch <- prometheus.MustNewConstMetric(hintsPendingDesc, prometheus.GaugeValue, float64(n), target)
	}
	ch <- prometheus.MustNewConstMetric(hintsPendingBytesDesc, prometheus.GaugeValue, float64(m.HintBytes))
	ch <- prometheus.MustNewConstMetric(hintsStoredDesc, prometheus.CounterValue, float64(m.HintsStored))
	ch <- prometheus.MustNewConstMetric(hintsDroppedDesc, prometheus.CounterValue, float64(m.HintsDropped))
	ch <- prometheus.MustNewConstMetric(hintsReplayedDesc, prometheus.CounterValue, float64(m.HintsReplayed))
	ch <- prometheus.MustNewConstMetric(repairsDesc, prometheus.CounterValue, float64(m.RepairsQueued), "queued")
	ch <- prometheus.MustNewConstMetric(repairsDesc, prometheus.CounterValue, float64(m.RepairsDone), "done")
	ch <- prometheus.MustNewConstMetric(repairsDesc, prometheus.CounterValue, float64(m.RepairsDropped), "dropped")
	ch <- prometheus.MustNewConstMetric(aeKeysDesc, prometheus.CounterValue, float64(m.AntiEntropyKeysPulled))
	ch <- prometheus.MustNewConstMetric(aeBytesDesc, prometheus.CounterValue, float64(m.AntiEntropyBytesPulled))
}
