package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// nodeOverview is what plain `strata stat` shows about a node, read from
// its /metrics: per-tier and per-disk usage, garbage, compaction and scrub
// passes, and errors.
type nodeOverview struct {
	// Writable is whether the node takes new blobs (strata_writable);
	// nil when the node does not say.
	Writable    *bool           `json:"writable,omitempty"`
	FailedDisks int             `json:"failed_disks"`
	Tiers       []tierStat      `json:"tiers"`
	Disks       []diskStat      `json:"disks"`
	Compaction  compactionStat  `json:"compaction"`
	Passes      []passStat      `json:"passes"`
	Errors      storeErrorStats `json:"errors"`
}

// tierStat is one cache tier (strata_tier_*).
type tierStat struct {
	Tier          string  `json:"tier"`
	Items         int64   `json:"items"`
	Bytes         int64   `json:"bytes"`
	CapacityBytes int64   `json:"capacity_bytes"` // 0: off or unbounded
	Hits          uint64  `json:"hits"`
	Misses        uint64  `json:"misses"`
	HitRatio      float64 `json:"hit_ratio"` // hits over hits and misses; 0 before any read
}

// compactionStat is compaction's totals since the node started.
type compactionStat struct {
	Passes            uint64 `json:"passes"`
	Volumes           uint64 `json:"volumes_compacted"`
	WrittenBytes      uint64 `json:"written_bytes"`
	ReclaimedBytes    uint64 `json:"reclaimed_bytes"`
	TombstonesDropped uint64 `json:"tombstones_dropped"`
}

// passStat is one kind of pass (strata_pass_*).
type passStat struct {
	Kind         string     `json:"kind"`
	Running      bool       `json:"running"`
	Progress     float64    `json:"progress"`
	LastFinished *time.Time `json:"last_finished,omitempty"`
	LastFailed   bool       `json:"last_failed"`
}

// storeErrorStats are the store's error counters.
type storeErrorStats struct {
	CorruptRecords    uint64 `json:"corrupt_records"`
	WriteErrors       uint64 `json:"write_errors"`
	TornTails         uint64 `json:"torn_tails"`
	IndexCommitErrors uint64 `json:"index_commit_errors"`
}

// fetchOverview GETs the node's /metrics and parses it.
func fetchOverview(ctx context.Context, c *client) (nodeOverview, error) {
	req, err := c.newRequest(ctx, http.MethodGet, c.base.String()+"/metrics", nil)
	if err != nil {
		return nodeOverview{}, err
	}
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return nodeOverview{}, err
	}
	defer resp.Body.Close()
	o, err := parseNodeMetrics(resp.Body)
	if err != nil {
		return nodeOverview{}, fmt.Errorf("reading the node's metrics: %w", err)
	}
	return o, nil
}

// statOverview prints the node overview. It exits 1 when a disk has
// failed or the scrub found corruption, as --disks does.
func statOverview(ctx context.Context, s stdio, c *client, asJSON bool) int {
	o, err := fetchOverview(ctx, c)
	if err != nil {
		return fail(s, "stat", err)
	}
	if len(o.Tiers) == 0 && len(o.Disks) == 0 {
		return fail(s, "stat", fmt.Errorf("the node reports no tiers or disks (strata_tier_*, strata_disk_* in /metrics): is it still starting?"))
	}
	code := exitOK
	for _, d := range o.Disks {
		if d.Failed || d.ScrubCorruptions > 0 {
			code = exitError
		}
	}
	if asJSON {
		_ = json.NewEncoder(s.out).Encode(o)
		return code
	}
	w := s.out
	switch {
	case o.Writable == nil:
	case *o.Writable:
		fmt.Fprintln(w, "writable:   yes")
	default:
		fmt.Fprintln(w, "writable:   NO (full or read-only disks: /readyz says why; deletes and reads still work)")
	}
	fmt.Fprintf(w, "failed disks: %d\n\n", o.FailedDisks)
	fmt.Fprintln(w, "tier  items      bytes           capacity        hit ratio")
	for _, t := range o.Tiers {
		capacity := "-"
		if t.CapacityBytes > 0 {
			capacity = fmt.Sprint(t.CapacityBytes)
		}
		ratio := "-"
		if t.Hits+t.Misses > 0 {
			ratio = fmt.Sprintf("%.1f%%", 100*t.HitRatio)
		}
		fmt.Fprintf(w, "%-5s %-10d %-15d %-15s %s\n", t.Tier, t.Items, t.Bytes, capacity, ratio)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "disk   used            free            live            garbage  scrub")
	for _, d := range o.Disks {
		scrub := "last pass " + stampOrNever(d.ScrubLastComplete)
		if d.ScrubPassStarted != nil {
			scrub = fmt.Sprintf("%.1f%% of a pass, %s", 100*d.ScrubProgress, scrub)
		}
		health := ""
		if d.Failed {
			health = " FAILED"
		}
		fmt.Fprintf(w, "%-6s %-15d %-15d %-15d %6.1f%%  %s; %d corrupt, %d read errors, %d io errors%s (%s)\n",
			d.Device, d.UsedBytes, d.FreeBytes, d.LiveBytes, 100*d.GarbageRatio, scrub, d.ScrubCorruptions, d.ScrubReadErrors, d.IOErrors, health, d.Dir)
	}
	fmt.Fprintln(w)
	cs := o.Compaction
	fmt.Fprintf(w, "compaction: %d passes, %d volumes compacted, %d bytes written, %d bytes reclaimed, %d tombstones dropped\n",
		cs.Passes, cs.Volumes, cs.WrittenBytes, cs.ReclaimedBytes, cs.TombstonesDropped)
	for _, p := range o.Passes {
		state := "idle"
		if p.Running {
			state = fmt.Sprintf("running, %.1f%% done", 100*p.Progress)
		}
		last := "none since start"
		if p.LastFinished != nil {
			last = p.LastFinished.Format(time.RFC3339)
			if p.LastFailed {
				last += " (FAILED: see the node's log)"
			}
		}
		fmt.Fprintf(w, "%s pass: %s; last ended %s\n", p.Kind, state, last)
	}
	e := o.Errors
	fmt.Fprintf(w, "errors:     %d corrupt records, %d write errors, %d index commit errors, %d torn tails (recovered)\n",
		e.CorruptRecords, e.WriteErrors, e.IndexCommitErrors, e.TornTails)
	return code
}

func stampOrNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Format(time.RFC3339)
}

// entryOf is m[key], made by mk when there is none yet.
func entryOf[T any](m map[string]*T, key string, mk func() *T) *T {
	v := m[key]
	if v == nil {
		v = mk()
		m[key] = v
	}
	return v
}

// parseNodeMetrics reads the series of a Prometheus text exposition that
// the overview shows; others are skipped, a malformed strata_ series is an
// error. Disks are in device order, tiers ram, ssd, hdd.
func parseNodeMetrics(r io.Reader) (nodeOverview, error) {
	var o nodeOverview
	disks := map[string]*diskStat{}
	tiers := map[string]*tierStat{}
	passes := map[string]*passStat{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "strata_") {
			continue
		}
		name, labels, value, err := parseMetricLine(line)
		if err != nil {
			return o, err
		}
		stamp := func() *time.Time {
			if value <= 0 {
				return nil
			}
			t := time.Unix(0, int64(value*1e9)).UTC()
			return &t
		}
		disk := func() *diskStat {
			return entryOf(disks, labels["device"], func() *diskStat { return &diskStat{Device: labels["device"], Dir: labels["dir"]} })
		}
		tier := func() *tierStat {
			return entryOf(tiers, labels["tier"], func() *tierStat { return &tierStat{Tier: labels["tier"]} })
		}
		pass := func() *passStat {
			return entryOf(passes, labels["kind"], func() *passStat { return &passStat{Kind: labels["kind"]} })
		}
		switch name {
		case "strata_writable":
			w := value != 0
			o.Writable = &w
		case "strata_failed_disks":
			o.FailedDisks = int(value)
		case "strata_disk_failed":
			disk().Failed = value != 0
		case "strata_disk_io_errors_total":
			disk().IOErrors = uint64(value)
		case "strata_disk_used_bytes":
			disk().UsedBytes = int64(value)
		case "strata_disk_free_bytes":
			disk().FreeBytes = int64(value)
		case "strata_disk_live_bytes":
			disk().LiveBytes = int64(value)
		case "strata_disk_garbage_bytes":
			disk().GarbageBytes = int64(value)
		case "strata_disk_garbage_ratio":
			disk().GarbageRatio = value
		case "strata_scrub_progress_ratio":
			disk().ScrubProgress = value
		case "strata_scrub_pass_started_timestamp_seconds":
			disk().ScrubPassStarted = stamp()
		case "strata_scrub_last_complete_timestamp_seconds":
			disk().ScrubLastComplete = stamp()
		case "strata_scrub_read_bytes_total":
			disk().ScrubBytes = uint64(value)
		case "strata_scrub_corrupt_records_total":
			disk().ScrubCorruptions = uint64(value)
		case "strata_scrub_read_errors_total":
			disk().ScrubReadErrors = uint64(value)
		case "strata_tier_items":
			tier().Items = int64(value)
		case "strata_tier_bytes":
			tier().Bytes = int64(value)
		case "strata_tier_capacity_bytes":
			tier().CapacityBytes = int64(value)
		case "strata_tier_hits_total":
			tier().Hits = uint64(value)
		case "strata_tier_misses_total":
			tier().Misses = uint64(value)
		case "strata_compaction_passes_total":
			o.Compaction.Passes = uint64(value)
		case "strata_compaction_volumes_total":
			o.Compaction.Volumes = uint64(value)
		case "strata_compaction_written_bytes_total":
			o.Compaction.WrittenBytes = uint64(value)
		case "strata_compaction_reclaimed_bytes_total":
			o.Compaction.ReclaimedBytes = uint64(value)
		case "strata_compaction_tombstones_dropped_total":
			o.Compaction.TombstonesDropped = uint64(value)
		case "strata_pass_running":
			pass().Running = value != 0
		case "strata_pass_progress_ratio":
			pass().Progress = value
		case "strata_pass_last_finished_timestamp_seconds":
			pass().LastFinished = stamp()
		case "strata_pass_last_failed":
			pass().LastFailed = value != 0
		case "strata_store_corrupt_records_total":
			o.Errors.CorruptRecords = uint64(value)
		case "strata_store_write_errors_total":
			o.Errors.WriteErrors = uint64(value)
		case "strata_store_torn_tails_total":
			o.Errors.TornTails = uint64(value)
		case "strata_index_commit_errors_total":
			o.Errors.IndexCommitErrors = uint64(value)
		}
	}
	if err := sc.Err(); err != nil {
		return o, err
	}
	for _, d := range disks {
		o.Disks = append(o.Disks, *d)
	}
	sort.Slice(o.Disks, func(i, j int) bool { return o.Disks[i].Device < o.Disks[j].Device })
	for _, name := range []string{"ram", "ssd", "hdd"} {
		if t := tiers[name]; t != nil {
			if t.Hits+t.Misses > 0 {
				t.HitRatio = float64(t.Hits) / float64(t.Hits+t.Misses)
			}
			o.Tiers = append(o.Tiers, *t)
		}
	}
	for _, k := range []string{"compact", "scrub"} {
		if p := passes[k]; p != nil {
			o.Passes = append(o.Passes, *p)
		}
	}
	return o, nil
}
