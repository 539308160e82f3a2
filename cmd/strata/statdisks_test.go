package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// diskMetrics is what a node with two disks answers on /metrics (the
// series node/disks.go exports), among other series.
const diskMetrics = `# HELP strata_disk_failed 1 when ...
# TYPE strata_disk_failed gauge
strata_disk_failed{device="data0",dir="/srv/hdd0/strata"} 0
strata_disk_failed{device="data1",dir="/srv/hdd \"1\"/strata"} 1
strata_disk_io_errors_total{device="data0",dir="/srv/hdd0/strata"} 0
strata_disk_io_errors_total{device="data1",dir="/srv/hdd \"1\"/strata"} 12
strata_disk_used_bytes{device="data0",dir="/srv/hdd0/strata"} 4.294967296e+09
strata_disk_free_bytes{device="data0",dir="/srv/hdd0/strata"} 1e+12
strata_device_ops_total{class="read",device="data0",op="read"} 11
strata_scrub_progress_ratio{device="data0",dir="/srv/hdd0/strata"} 0.25
strata_scrub_pass_started_timestamp_seconds{device="data0",dir="/srv/hdd0/strata"} 1.7e+09
strata_scrub_last_complete_timestamp_seconds{device="data0",dir="/srv/hdd0/strata"} 0
strata_scrub_corrupt_records_total{device="data0",dir="/srv/hdd0/strata"} 2
strata_scrub_read_bytes_total{device="data0",dir="/srv/hdd0/strata"} 1.073741824e+09
strata_failed_disks 1
`

func TestStatDisks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(diskMetrics))
	}))
	defer srv.Close()
	code, out, _ := cliRun(t, "", "stat", "--disks", "--addr", srv.URL)
	for _, want := range []string{
		"disk:              data0 (/srv/hdd0/strata)",
		"health:            in service",
		"used:              4294967296 bytes",
		"scrub pass:        25.0% done, started 2023-11-14T22:13:20Z",
		"scrub last pass:   never",
		"scrub corrupt:     2 records",
		`disk:              data1 (/srv/hdd "1"/strata)`,
		"health:            FAILED",
		"io errors:         12",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != exitError {
		t.Fatalf("exit %d with a failed disk, want %d", code, exitError)
	}
	code, out, _ = cliRun(t, "", "stat", "--disks", "--json", "--addr", srv.URL)
	var first diskStat
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&first); err != nil || first.Device != "data0" || first.ScrubCorruptions != 2 || first.ScrubLastComplete != nil {
		t.Fatalf("JSON %q: %+v, %v", out, first, err)
	}
	if code, _, _ := cliRun(t, "", "stat", "--disks", "--addr", srv.URL, "key"); code != exitUsage {
		t.Fatalf("--disks with a KEY: exit %d", code)
	}
}

func FuzzParseMetricLine(f *testing.F) {
	for _, line := range strings.Split(diskMetrics, "\n") {
		f.Add(line)
	}
	f.Add(`strata_disk_failed{device="a\\",dir="\n"} 1`)
	f.Fuzz(func(t *testing.T, line string) {
		name, labels, _, err := parseMetricLine(line)
		if err == nil && (name == "" || labels == nil) {
			t.Fatalf("%q parsed without a name or labels", line)
		}
	})
}
