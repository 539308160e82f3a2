package node_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"strata/node"
)

// auditEnv is the real stack with both caches, a blob written and read,
// a scrub pass run through the admin route and cluster counters set, so
// every family the operations docs name has samples.
func auditEnv(t *testing.T) *env {
	t.Helper()
	e := newTieredEnv(t, func(c *node.Config) {
		c.RAMCacheSize, c.SSDCacheSize = 1<<20, 64<<20
		if err := os.MkdirAll(c.SSDDir, 0o700); err != nil {
			t.Fatal(err)
		}
	})
	e.put("k", strings.Repeat("v", 5000))
	if w := e.do(http.MethodGet, "/blobs/k", nil); w.Code != 200 {
		t.Fatalf("GET: %d", w.Code)
	}
	w := adminDo(t, e, http.MethodPost, "/admin/scrub", "127.0.0.1:1", "")
	if w.Code != http.StatusAccepted {
		t.Fatalf("POST /admin/scrub: %d %s", w.Code, w.Body)
	}
	waitPassRoute(t, e, "/admin/scrub", decodePass(t, w).ID)
	e.srv.SetClusterMetrics(func() node.ClusterMetrics {
		return node.ClusterMetrics{HintsPending: map[string]int{"node-b": 3}, HintBytes: 3000, HintsStored: 3}
	})
	return e
}

// The families the observability list names exist, in the
// strata_ namespace, with the right type, base units in their names and
// the per disk, tier or route labels; every strata_ counter ends in
// _total and no name uses a non-base unit.
func TestMetricFamiliesAudit(t *testing.T) {
	e := auditEnv(t)
	fams, err := e.srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	type family struct {
		typ    string
		labels map[string]bool
	}
	got := map[string]family{}
	for _, mf := range fams {
		f := family{typ: mf.GetType().String(), labels: map[string]bool{}}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				f.labels[l.GetName()] = true
			}
		}
		got[mf.GetName()] = f
	}
	for _, want := range []struct {
		name, typ string
		labels    []string
	}{
		{"strata_fsync_duration_seconds", "HISTOGRAM", []string{"device"}},
		{"strata_device_latency_seconds", "HISTOGRAM", []string{"device", "class"}},
		{"strata_http_request_duration_seconds", "HISTOGRAM", []string{"route", "method"}},
		{"strata_http_requests_total", "COUNTER", []string{"route", "method", "code"}},
		{"strata_compaction_written_bytes_total", "COUNTER", nil},
		{"strata_compaction_reclaimed_bytes_total", "COUNTER", nil},
		{"strata_disk_garbage_ratio", "GAUGE", []string{"device", "dir"}},
		{"strata_disk_garbage_bytes", "GAUGE", []string{"device", "dir"}},
		{"strata_disk_used_bytes", "GAUGE", []string{"device", "dir"}},
		{"strata_disk_free_bytes", "GAUGE", []string{"device", "dir"}},
		{"strata_scrub_progress_ratio", "GAUGE", []string{"device", "dir"}},
		{"strata_scrub_corrupt_records_total", "COUNTER", []string{"device", "dir"}},
		{"strata_scrub_last_complete_timestamp_seconds", "GAUGE", []string{"device", "dir"}},
		{"strata_disk_failed", "GAUGE", []string{"device", "dir"}},
		{"strata_failed_disks", "GAUGE", nil},
		{"strata_hints_pending", "GAUGE", []string{"target"}},
		{"strata_hints_pending_bytes", "GAUGE", nil},
		{"strata_ssd_written_bytes_total", "COUNTER", nil},
		{"strata_ssd_write_budget_bytes_per_day", "GAUGE", nil},
		{"strata_tier_bytes", "GAUGE", []string{"tier"}},
		{"strata_tier_capacity_bytes", "GAUGE", []string{"tier"}},
		{"strata_tier_hits_total", "COUNTER", []string{"tier"}},
		{"strata_pass_running", "GAUGE", []string{"kind"}},
		{"strata_pass_progress_ratio", "GAUGE", []string{"kind"}},
		{"strata_pass_last_finished_timestamp_seconds", "GAUGE", []string{"kind"}},
		{"strata_pacing_upload_rate_bytes", "GAUGE", nil},
		{"strata_pacing_read_p99_seconds", "GAUGE", nil},
		{"strata_pacing_backoffs_total", "COUNTER", nil},
	} {
		f, ok := got[want.name]
		if !ok {
			t.Errorf("no %s on /metrics", want.name)
			continue
		}
		if f.typ != want.typ {
			t.Errorf("%s is a %s, want %s", want.name, f.typ, want.typ)
		}
		for _, l := range want.labels {
			if !f.labels[l] {
				t.Errorf("%s has no %q label", want.name, l)
			}
		}
	}
	for name, f := range got {
		if !strings.HasPrefix(name, "strata_") {
			continue
		}
		if f.typ == "COUNTER" && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		for _, bad := range []string{"_ms", "_milliseconds", "_microseconds", "_kb", "_mb", "_kib", "_mib", "_percent"} {
			if strings.Contains(name, bad) {
				t.Errorf("%s uses a non-base unit (%s)", name, bad)
			}
		}
	}
}

// promtool (Debian package prometheus) lints a real scrape.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH (apt-get install prometheus): skipping its lint of /metrics")
	}
	e := auditEnv(t)
	w := e.do(http.MethodGet, "/metrics", nil)
	if w.Code != 200 {
		t.Fatalf("GET /metrics: %d", w.Code)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(w.Body.Bytes())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
