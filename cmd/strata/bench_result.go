package main

import (
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// benchSchemaVersion is the version of the --json document
// (docs/bench-json.md): raised when a field changes meaning or goes away,
// not when one is added.
const benchSchemaVersion = 1

// benchResult is a run's figures; --json writes it as is. Its fields are
// documented in docs/bench-json.md, which a test holds it to.
type benchResult struct {
	SchemaVersion int                `json:"schema_version"`
	Config        benchConfig        `json:"config"`
	Started       time.Time          `json:"started"`
	ElapsedSec    float64            `json:"elapsed_sec"`
	Prefill       *prefillResult     `json:"prefill,omitempty"`
	Read          opSummary          `json:"read"`
	Write         opSummary          `json:"write"`
	Total         opSummary          `json:"total"`
	TierReads     map[string]int64   `json:"tier_reads"`
	TierHitRatio  map[string]float64 `json:"tier_hit_ratio"`
	ErrorSamples  []string           `json:"error_samples,omitempty"`
	// With --rate: the requests per second sent (measured operations of
	// any outcome over the elapsed time) and how many went out more than
	// lateStartSlack after their intended start.
	AchievedRate float64 `json:"achieved_rate,omitempty"`
	LateStarts   int64   `json:"late_starts,omitempty"`
	// Series is the run about once a second, phase by phase.
	Series []seriesPoint `json:"series"`
	// Scenario is the per-phase report of --scenario.
	Scenario *scenarioResult `json:"scenario,omitempty"`

	// Merged latency histograms (µs), for --hgrm.
	readHist, writeHist *hdrhistogram.Histogram
}

// prefillResult describes the unmeasured initial writes.
type prefillResult struct {
	Keys       int     `json:"keys"`
	Bytes      int64   `json:"bytes"`
	ElapsedSec float64 `json:"elapsed_sec"`
}

// opSummary is the figures of one kind of operation.
type opSummary struct {
	Ops      int64 `json:"ops"` // successful
	Errors   int64 `json:"errors"`
	NotFound int64 `json:"not_found,omitempty"`
	// With --verify: GETs whose bytes were checked and found right, and
	// the two kinds of verification failure (not counted in Errors).
	Verified       int64 `json:"verified,omitempty"`
	VerifyMismatch int64 `json:"verify_mismatch,omitempty"`
	VerifyStale    int64 `json:"verify_stale,omitempty"`
	// ErrorsByKind counts failures by errorKind ("http_503", "timeout",
	// "verify_mismatch", ...); empty when none failed.
	ErrorsByKind map[string]int64 `json:"errors_by_kind"`
	Bytes        int64            `json:"bytes"`
	OpsPerSec    float64          `json:"ops_per_sec"`
	MBPerSec     float64          `json:"mb_per_sec"` // 10^6 bytes
	MiBPerSec    float64          `json:"mib_per_sec"`
	Latency      latencySummary   `json:"latency_us"`
}

// latencySummary is in microseconds.
type latencySummary struct {
	Min         int64             `json:"min"`
	Mean        float64           `json:"mean"`
	P50         int64             `json:"p50"`
	P90         int64             `json:"p90"`
	P99         int64             `json:"p99"`
	P999        int64             `json:"p99_9"`
	Max         int64             `json:"max"`
	Percentiles []percentilePoint `json:"percentiles"` // for plotting
}

type percentilePoint struct {
	Percentile float64 `json:"percentile"`
	Us         int64   `json:"us"`
}

var plotPercentiles = []float64{1, 5, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100}

func summarizeLatency(h *hdrhistogram.Histogram) latencySummary {
	if h.TotalCount() == 0 {
		return latencySummary{Percentiles: []percentilePoint{}}
	}
	l := latencySummary{
		Min: h.Min(), Mean: h.Mean(), Max: h.Max(),
		P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90),
		P99: h.ValueAtQuantile(99), P999: h.ValueAtQuantile(99.9),
	}
	for _, p := range plotPercentiles {
		l.Percentiles = append(l.Percentiles, percentilePoint{Percentile: p, Us: h.ValueAtQuantile(p)})
	}
	return l
}

func newOpSummary(ops, errs, notFound, bytes int64, h *hdrhistogram.Histogram, elapsed time.Duration) opSummary {
	o := opSummary{Ops: ops, Errors: errs, NotFound: notFound, Bytes: bytes, Latency: summarizeLatency(h)}
	if sec := elapsed.Seconds(); sec > 0 {
		o.OpsPerSec = float64(ops+notFound) / sec
		o.MBPerSec = float64(bytes) / sec / 1e6
		o.MiBPerSec = float64(bytes) / sec / (1 << 20)
	}
	return o
}

// summarize turns what the clients measured over a span of elapsed into
// the run's figures.
func (r *benchResult) summarize(st *benchStats, elapsed time.Duration) {
	total := newLatencyHistogram()
	total.Merge(st.read)
	total.Merge(st.write)
	r.readHist, r.writeHist = st.read, st.write
	r.ElapsedSec = elapsed.Seconds()
	r.Read = newOpSummary(st.readOps, st.readErrs, st.notFound, st.readBytes, st.read, elapsed)
	r.Write = newOpSummary(st.writeOps, st.writeErrs, 0, st.writeBytes, st.write, elapsed)
	r.Total = newOpSummary(st.readOps+st.writeOps, st.readErrs+st.writeErrs, st.notFound, st.readBytes+st.writeBytes, total, elapsed)
	r.LateStarts = st.lateStarts
	if sec := elapsed.Seconds(); r.Config.Rate > 0 && sec > 0 {
		r.AchievedRate = float64(st.readOps+st.writeOps+st.readErrs+st.writeErrs+st.notFound+st.mismatches+st.stale) / sec
	}
	r.Read.Verified, r.Read.VerifyMismatch, r.Read.VerifyStale = st.verified, st.mismatches, st.stale
	r.Total.Verified, r.Total.VerifyMismatch, r.Total.VerifyStale = st.verified, st.mismatches, st.stale
	r.Read.ErrorsByKind, r.Write.ErrorsByKind = maps.Clone(st.readErrKinds), maps.Clone(st.writeErrKinds)
	r.Total.ErrorsByKind = maps.Clone(st.readErrKinds)
	for k, n := range st.writeErrKinds {
		r.Total.ErrorsByKind[k] += n
	}
	r.TierReads, r.TierHitRatio = map[string]int64{}, map[string]float64{}
	for t, n := range st.tiers {
		r.TierReads[tierName(t)] += n
	}
	for t, n := range r.TierReads {
		if st.readOps > 0 {
			r.TierHitRatio[t] = float64(n) / float64(st.readOps)
		}
	}
	r.ErrorSamples = slices.Clone(st.errSamples)
}

// print writes the figures in fio's layout.
func (r *benchResult) print(w io.Writer) {
	if r.Scenario != nil {
		// A scenario's figures mean something phase by phase; the
		// totals below only sum them up.
		for _, p := range r.Scenario.Phases {
			fmt.Fprintf(w, "  phase %s (%.1fs):\n", p.Name, p.ElapsedSec)
			printOps(w, "    ", "read", p.Read, p.ElapsedSec, r.Config.Verify)
			printOps(w, "    ", "upload", p.Write, p.ElapsedSec, r.Config.Verify)
			if p.Read.Ops > 0 {
				fmt.Fprintf(w, "      tiers (share of reads): %s\n", tierShares(p.TierReads, p.TierHitRatio))
			}
		}
	} else {
		printOps(w, "  ", "read", r.Read, r.ElapsedSec, r.Config.Verify)
		printOps(w, "  ", "write", r.Write, r.ElapsedSec, r.Config.Verify)
	}
	t := r.Total
	fmt.Fprintf(w, "  total: IOPS=%.0f, BW=%.1fMiB/s (%.1fMB/s), ops=%d, errors=%d, elapsed=%.2fs\n",
		t.OpsPerSec, t.MiBPerSec, t.MBPerSec, t.Ops, t.Errors, r.ElapsedSec)
	if r.Config.Rate > 0 {
		fmt.Fprintf(w, "  open loop: target=%.0f/s achieved=%.1f/s late_starts=%d (latency from intended start)\n",
			r.Config.Rate, r.AchievedRate, r.LateStarts)
	}
	if r.Read.Ops > 0 && r.Scenario == nil {
		fmt.Fprintf(w, "  tiers (share of reads): %s\n", tierShares(r.TierReads, r.TierHitRatio))
	}
	if len(r.Total.ErrorsByKind) > 0 {
		var parts []string
		for kind, n := range sortedCounts(r.Total.ErrorsByKind) {
			parts = append(parts, fmt.Sprintf("%s=%d", kind, n))
		}
		fmt.Fprintf(w, "  errors by kind: %s\n", strings.Join(parts, " "))
	}
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	if r.Scenario != nil {
		r.Scenario.print(w)
	}
}

// printOps writes one kind of operation's figures in fio's layout, or
// nothing if none ran.
func printOps(w io.Writer, indent, name string, o opSummary, elapsedSec float64, verify bool) {
	if o.Ops+o.Errors+o.NotFound+o.VerifyMismatch+o.VerifyStale == 0 {
		return
	}
	fmt.Fprintf(w, "%s%s: IOPS=%.0f, BW=%.1fMiB/s (%.1fMB/s)(%s/%.1fs)\n",
		indent, name, o.OpsPerSec, o.MiBPerSec, o.MBPerSec, formatBytes(o.Bytes), elapsedSec)
	l := o.Latency
	fmt.Fprintf(w, "%s  lat (usec): min=%d, max=%d, avg=%.1f\n", indent, l.Min, l.Max, l.Mean)
	fmt.Fprintf(w, "%s  lat percentiles (usec): p50=%d, p90=%d, p99=%d, p99.9=%d, max=%d\n", indent, l.P50, l.P90, l.P99, l.P999, l.Max)
	fmt.Fprintf(w, "%s  ops=%d errors=%d", indent, o.Ops, o.Errors)
	if name == "read" {
		fmt.Fprintf(w, " not_found=%d", o.NotFound)
		if verify {
			fmt.Fprintf(w, " verified=%d verify_mismatch=%d verify_stale=%d", o.Verified, o.VerifyMismatch, o.VerifyStale)
		}
	}
	fmt.Fprintln(w)
}

// tierShares lists each tier's share of reads, the usual four first.
func tierShares(reads map[string]int64, ratio map[string]float64) string {
	tiers := []string{"ram", "ssd", "hdd", "peer"}
	for name := range reads {
		switch name {
		case "ram", "ssd", "hdd", "peer":
		default:
			tiers = append(tiers, name)
		}
	}
	sort.Strings(tiers[4:])
	parts := make([]string, 0, len(tiers))
	for _, name := range tiers {
		parts = append(parts, fmt.Sprintf("%s=%.2f%%", name, 100*ratio[name]))
	}
	return strings.Join(parts, " ")
}

// sortedCounts yields m's entries in key order.
func sortedCounts(m map[string]int64) iter.Seq2[string, int64] {
	return func(yield func(string, int64) bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}

// formatBytes prints n with a binary unit and one decimal.
func formatBytes(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "KiB", "MiB", "GiB"} {
		if f < 1024 {
			return fmt.Sprintf("%.1f%s", f, u)
		}
		f /= 1024
	}
	return fmt.Sprintf("%.1fTiB", f)
}

// writeHgrm writes the read and write latency distributions in
// HdrHistogram's percentile format (milliseconds), which HdrHistogram's
// plotter reads: PREFIX.read.hgrm and PREFIX.write.hgrm, for kinds that ran.
func (r *benchResult) writeHgrm(prefix string) error {
	for _, k := range []struct {
		name string
		h    *hdrhistogram.Histogram
	}{{"read", r.readHist}, {"write", r.writeHist}} {
		if k.h == nil || k.h.TotalCount() == 0 {
			continue
		}
		f, err := os.Create(prefix + "." + k.name + ".hgrm")
		if err != nil {
			return err
		}
		_, err = k.h.PercentilesPrint(f, 5, 1000) // µs recorded, ms printed
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
