package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"strata/internal/poll"
)

// overviewMetrics adds tiers, compaction, passes and errors to diskMetrics.
const overviewMetrics = diskMetrics + `strata_writable 0
strata_tier_items{tier="ram"} 10
strata_tier_bytes{tier="ram"} 40960
strata_tier_capacity_bytes{tier="ram"} 1.048576e+06
strata_tier_hits_total{tier="ram"} 3
strata_tier_misses_total{tier="ram"} 1
strata_tier_items{tier="hdd"} 1000
strata_tier_bytes{tier="hdd"} 4.096e+06
strata_tier_capacity_bytes{tier="hdd"} 0
strata_tier_read_latency_seconds_bucket{tier="hdd",le="0.001"} 4
strata_disk_live_bytes{device="data0",dir="/srv/hdd0/strata"} 1e+09
strata_disk_garbage_bytes{device="data0",dir="/srv/hdd0/strata"} 3.294967296e+09
strata_disk_garbage_ratio{device="data0",dir="/srv/hdd0/strata"} 0.767
strata_compaction_passes_total 4
strata_compaction_volumes_total 2
strata_compaction_written_bytes_total 123
strata_compaction_reclaimed_bytes_total 8.589934592e+09
strata_pass_running{kind="compact"} 1
strata_pass_progress_ratio{kind="compact"} 0.5
strata_pass_last_finished_timestamp_seconds{kind="compact"} 0
strata_pass_running{kind="scrub"} 0
strata_pass_last_finished_timestamp_seconds{kind="scrub"} 1.7e+09
strata_pass_last_failed{kind="scrub"} 1
strata_store_corrupt_records_total 2
`

// Plain `strata stat` shows the node: tiers with hit ratios, disks with
// garbage and scrub state, compaction totals, passes and errors; it exits
// 1 while a disk has failed, and --json gives the same as one object.
func TestStatOverview(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(overviewMetrics))
	}))
	defer srv.Close()
	code, out, errOut := cliRun(t, "", "stat", "--addr", srv.URL)
	for _, want := range []string{
		"writable:   NO",
		"failed disks: 1",
		"ram   10         40960           1048576         75.0%",
		"hdd   1000       4096000         -               -",
		"data0  4294967296      1000000000000   1000000000",
		"76.7%  25.0% of a pass, last pass never; 2 corrupt",
		"FAILED (/srv/hdd \"1\"/strata)",
		"compaction: 4 passes, 2 volumes compacted, 123 bytes written, 8589934592 bytes reclaimed",
		"compact pass: running, 50.0% done; last ended none since start",
		"scrub pass: idle; last ended 2023-11-14T22:13:20Z (FAILED",
		"errors:     2 corrupt records",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("overview lacks %q:\n%s", want, out)
		}
	}
	if code != exitError {
		t.Errorf("exit %d with a failed disk, want 1 (%s)", code, errOut)
	}
	_, out, _ = cliRun(t, "", "stat", "--json", "--addr", srv.URL)
	var o nodeOverview
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("JSON %q: %v", out, err)
	}
	if len(o.Tiers) != 2 || o.Tiers[0].HitRatio != 0.75 || len(o.Disks) != 2 || o.Disks[0].GarbageRatio != 0.767 || o.Compaction.Passes != 4 ||
		len(o.Passes) != 2 || !o.Passes[0].Running || o.Writable == nil || *o.Writable || o.Errors.CorruptRecords != 2 {
		t.Fatalf("overview JSON: %+v", o)
	}
}

// Against a real node: the overview of a fresh node with two blobs
// exits 0 and shows its HDD items and a disk in service.
func TestStatOverviewRealNode(t *testing.T) {
	admin, _, put := passNode(t)
	put("a", 1000)
	put("b", 3000)
	if code, _, errOut := cliRun(t, "", "scrub", "--addr", admin, "--wait"); code != exitOK {
		t.Fatalf("scrub: %d %s", code, errOut)
	}
	var o nodeOverview
	var hdd *tierStat
	poll.Until(t, "the HDD tier to count both blobs (the index commits them in the background)", func() bool {
		code, out, errOut := cliRun(t, "", "stat", "--json", "--addr", admin)
		o = nodeOverview{}
		if err := json.Unmarshal([]byte(out), &o); code != exitOK || err != nil {
			t.Fatalf("stat: exit %d, %v\n%s\n%s", code, err, out, errOut)
		}
		hdd = nil
		for i := range o.Tiers {
			if o.Tiers[i].Tier == "hdd" {
				hdd = &o.Tiers[i]
			}
		}
		return hdd != nil && hdd.Items == 2
	})
	if hdd == nil || hdd.Items != 2 || hdd.Bytes != 4000 || len(o.Disks) != 1 || o.Disks[0].Failed || o.Disks[0].ScrubLastComplete == nil || o.Writable == nil || !*o.Writable {
		t.Fatalf("overview of a real node: %+v", o)
	}
	var scrub *passStat
	for i := range o.Passes {
		if o.Passes[i].Kind == "scrub" {
			scrub = &o.Passes[i]
		}
	}
	if scrub == nil || scrub.Running || scrub.LastFinished == nil || scrub.LastFailed {
		t.Fatalf("scrub pass in the overview: %+v", o.Passes)
	}
}

// FuzzParseNodeMetrics: any exposition parses or fails cleanly, and what
// parses is consistent: ratios of tiers within [0, 1], disks in order.
func FuzzParseNodeMetrics(f *testing.F) {
	f.Add(overviewMetrics)
	f.Add("strata_tier_hits_total{tier=\"ram\"} 1e308\nstrata_tier_misses_total{tier=\"ram\"} 1e308\n")
	f.Add("strata_pass_running{kind=\"scrub\"} NaN\n")
	f.Fuzz(func(t *testing.T, text string) {
		o, err := parseNodeMetrics(strings.NewReader(text))
		if err != nil {
			return
		}
		for _, tr := range o.Tiers {
			if tr.Hits+tr.Misses > 0 && (tr.HitRatio < 0 || tr.HitRatio > 1) {
				t.Fatalf("tier %s hit ratio %v", tr.Tier, tr.HitRatio)
			}
		}
		for i := 1; i < len(o.Disks); i++ {
			if o.Disks[i-1].Device >= o.Disks[i].Device {
				t.Fatalf("disks out of order: %q, %q", o.Disks[i-1].Device, o.Disks[i].Device)
			}
		}
	})
}
