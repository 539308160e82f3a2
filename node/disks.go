package node

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DiskHealth is one data disk's health, usage and scrub state, as exported
// on /metrics. A Store that has disks reports them with a Disks() method
// (see diskReporter).
type DiskHealth struct {
	Name, Dir string
	// Failed: taken out of service after too many I/O errors until restart.
	Failed    bool
	IOErrors  uint64
	UsedBytes int64
	FreeBytes int64
	// Scrub: bytes read, corrupt records found and failed reads since
	// start; when the pass in progress began (zero: none) and how far it
	// is (volume, offset); when the last complete pass ended (zero: never).
	ScrubBytes, ScrubCorruptions, ScrubReadErrors uint64
	ScrubPassStarted, ScrubLastComplete           time.Time
	ScrubVolume                                   uint32
	ScrubOffset                                   int64
	ScrubDone                                     int64 // bytes of UsedBytes the pass in progress has verified
}

// diskReporter is the optional Store method behind diskCollector.
type diskReporter interface {
	Disks() []DiskHealth
}

var (
	diskFailedDesc = prometheus.NewDesc("strata_disk_failed",
		"1 when the data disk was taken out of service after too many I/O errors (until restart), else 0.", []string{"device", "dir"}, nil)
	diskIOErrorsDesc = prometheus.NewDesc("strata_disk_io_errors_total",
		"I/O errors on the data disk (failed reads, writes, fdatasyncs, volume creations; not ENOSPC).", []string{"device", "dir"}, nil)
	diskUsedDesc = prometheus.NewDesc("strata_disk_used_bytes",
		"Bytes written to the data disk's volumes.", []string{"device", "dir"}, nil)
	diskFreeDesc = prometheus.NewDesc("strata_disk_free_bytes",
		"Free filesystem space on the data disk.", []string{"device", "dir"}, nil)
	scrubBytesDesc = prometheus.NewDesc("strata_scrub_read_bytes_total",
		"Bytes the scrub read and verified on the data disk.", []string{"device", "dir"}, nil)
	scrubCorruptDesc = prometheus.NewDesc("strata_scrub_corrupt_records_total",
		"Corrupt records (or stretches of corrupt bytes) the scrub found on the data disk.", []string{"device", "dir"}, nil)
	scrubReadErrorsDesc = prometheus.NewDesc("strata_scrub_read_errors_total",
		"Scrub reads that failed on the data disk.", []string{"device", "dir"}, nil)
	scrubLastCompleteDesc = prometheus.NewDesc("strata_scrub_last_complete_timestamp_seconds",
		"When the data disk's last complete scrub pass ended (unix seconds; 0: never).", []string{"device", "dir"}, nil)
	scrubPassStartedDesc = prometheus.NewDesc("strata_scrub_pass_started_timestamp_seconds",
		"When the scrub pass in progress on the data disk began (unix seconds; 0: none in progress).", []string{"device", "dir"}, nil)
	scrubProgressDesc = prometheus.NewDesc("strata_scrub_progress_ratio",
		"How far the scrub pass in progress on the data disk is, 0 to 1 of its used bytes (0: none in progress).", []string{"device", "dir"}, nil)
)

// diskCollector exports the store's disks at scrape time, for stores that have them.
type diskCollector struct{ store func() Store }

func (c *diskCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{diskFailedDesc, diskIOErrorsDesc, diskUsedDesc, diskFreeDesc,
		scrubBytesDesc, scrubCorruptDesc, scrubReadErrorsDesc, scrubLastCompleteDesc, scrubPassStartedDesc, scrubProgressDesc} {
		ch <- d
	}
}

func (c *diskCollector) Collect(ch chan<- prometheus.Metric) {
	r, ok := c.store().(diskReporter)
	if !ok {
		return
	}
	stamp := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	}
	for _, d := range r.Disks() {
		gauge := func(desc *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, d.Name, d.Dir)
		}
		counter := func(desc *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), d.Name, d.Dir)
		}
		failed := 0.0
		if d.Failed {
			failed = 1
		}
		gauge(diskFailedDesc, failed)
		counter(diskIOErrorsDesc, d.IOErrors)
		gauge(diskUsedDesc, float64(d.UsedBytes))
		gauge(diskFreeDesc, float64(d.FreeBytes))
		counter(scrubBytesDesc, d.ScrubBytes)
		counter(scrubCorruptDesc, d.ScrubCorruptions)
		counter(scrubReadErrorsDesc, d.ScrubReadErrors)
		gauge(scrubLastCompleteDesc, stamp(d.ScrubLastComplete))
		gauge(scrubPassStartedDesc, stamp(d.ScrubPassStarted))
		progress := 0.0
		if !d.ScrubPassStarted.IsZero() && d.UsedBytes > 0 {
			progress = min(1, float64(d.ScrubDone)/float64(d.UsedBytes))
		}
		gauge(scrubProgressDesc, progress)
	}
}
