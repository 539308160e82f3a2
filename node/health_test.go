package node_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
)

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t, nil)
	wantStatus(t, e.do(http.MethodGet, "/healthz", nil), 200, "")
	wantStatus(t, e.do(http.MethodGet, "/readyz", nil), 200, "")

	e.store.SetHealthy(blockstore.ErrClosed) // reads fail: not ready
	w := e.do(http.MethodGet, "/readyz", nil)
	wantStatus(t, w, 503, "")
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["reason"] != "shutting_down" {
		t.Fatalf("readyz body %s", w.Body)
	}
	if e.srv.Ready() == nil {
		t.Fatal("Ready() nil with an unhealthy store")
	}
	wantStatus(t, e.do(http.MethodGet, "/healthz", nil), 200, "") // alive all the same

	e.store.SetHealthy(nil)
	e.srv.SetReady(false)
	wantStatus(t, e.do(http.MethodGet, "/readyz", nil), 503, "")
	e.srv.SetReady(true)
	wantStatus(t, e.do(http.MethodGet, "/readyz", nil), 200, "")
}

// Readiness means "serves reads": a full or read-only store stays ready,
// and says it cannot take writes in the /readyz body and in
// strata_writable.
func TestReadyzReportsWritability(t *testing.T) {
	e := newEnv(t, nil)
	e.put("k", "held")
	readyz := func() (int, map[string]any) {
		t.Helper()
		w := e.do(http.MethodGet, "/readyz", nil)
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("readyz body %s: %v", w.Body, err)
		}
		return w.Code, body
	}
	gauge := func() string {
		t.Helper()
		for _, line := range strings.Split(e.do(http.MethodGet, "/metrics", nil).Body.String(), "\n") {
			if strings.HasPrefix(line, "strata_writable ") {
				return line
			}
		}
		t.Fatal("no strata_writable in /metrics")
		return ""
	}
	if code, body := readyz(); code != 200 || body["status"] != "ready" || body["writable"] != true {
		t.Fatalf("healthy store: %d %v", code, body)
	}
	if g := gauge(); g != "strata_writable 1" {
		t.Fatalf("healthy store: %q", g)
	}
	for _, tc := range []struct {
		err    error
		reason string
	}{
		{blockstore.ErrNoSpace, "no_space"},
		{blockstore.ErrReadOnly, "read_only"},
	} {
		e.store.SetWritable(tc.err)
		if code, body := readyz(); code != 200 || body["status"] != "ready" || body["writable"] != false || body["write_reason"] != tc.reason {
			t.Fatalf("%v: readyz %d %v, want 200, ready, writable false, %s", tc.err, code, body, tc.reason)
		}
		if err := e.srv.Ready(); err != nil {
			t.Fatalf("%v: Ready() %v", tc.err, err)
		}
		if g := gauge(); g != "strata_writable 0" {
			t.Fatalf("%v: %q", tc.err, g)
		}
		if w := e.do(http.MethodGet, "/blobs/k", nil); w.Code != 200 || w.Body.String() != "held" {
			t.Fatalf("%v: GET %d %q", tc.err, w.Code, w.Body)
		}
	}
	e.store.SetWritable(nil)
	if code, body := readyz(); code != 200 || body["writable"] != true {
		t.Fatalf("writable again: %d %v", code, body)
	}
}

// A store that took a disk out of service stays ready (another disk
// serves) and lists the disk in /readyz and strata_failed_disks.
func TestReadyzReportsFailedDisks(t *testing.T) {
	e := newEnv(t, nil)
	get := func() (int, string, string) {
		t.Helper()
		w := e.do(http.MethodGet, "/readyz", nil)
		var body struct {
			FailedDisks []string `json:"failed_disks"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.FailedDisks == nil {
			t.Fatalf("readyz body %s: %v", w.Body, err)
		}
		gauge := ""
		for _, line := range strings.Split(e.do(http.MethodGet, "/metrics", nil).Body.String(), "\n") {
			if strings.HasPrefix(line, "strata_failed_disks ") {
				gauge = line
			}
		}
		return w.Code, strings.Join(body.FailedDisks, ","), gauge
	}
	if code, dirs, gauge := get(); code != 200 || dirs != "" || gauge != "strata_failed_disks 0" {
		t.Fatalf("no failed disk: %d %q %q", code, dirs, gauge)
	}
	e.store.SetFailedDisks([]string{"/hdd1", "/hdd3"})
	if code, dirs, gauge := get(); code != 200 || dirs != "/hdd1,/hdd3" || gauge != "strata_failed_disks 2" {
		t.Fatalf("two failed disks: %d %q %q", code, dirs, gauge)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, nil)
	e.store.SetStats(
		[]node.TierStats{{Tier: "ram", Hits: 7, Misses: 3, Items: 2, Bytes: 100, CapacityBytes: 1 << 20,
			ReadLatency: node.Latency{Bounds: []time.Duration{time.Millisecond}, Counts: []uint64{4, 1}, Sum: 9 * time.Millisecond, Count: 5}}},
		[]node.DeviceStats{{Name: "hdd0", Direct: true, InFlight: 1, Classes: []node.DeviceClassStats{
			{Class: "read", ReadOps: 11, ReadBytes: 4096, Latency: node.Latency{
				Bounds: []time.Duration{time.Millisecond, 10 * time.Millisecond}, Counts: []uint64{5, 5, 1}, Sum: 70 * time.Millisecond, Count: 11}},
			{Class: "write", WriteOps: 2, WriteBytes: 8192, SyncOps: 1, Errors: 1},
		}}},
	)
	e.put("m", "12345")
	e.do(http.MethodGet, "/blobs/m", nil)
	e.do(http.MethodGet, "/blobs/missing", nil)

	w := e.do(http.MethodGet, "/metrics", nil)
	wantStatus(t, w, 200, "")
	text := w.Body.String()
	for _, want := range []string{
		`strata_http_requests_total{code="201",method="PUT",route="blob"} 1`,
		`strata_http_requests_total{code="200",method="GET",route="blob"} 1`,
		`strata_http_requests_total{code="404",method="GET",route="blob"} 1`,
		`strata_http_request_duration_seconds_count{method="PUT",route="blob"} 1`,
		`strata_http_received_bytes_total{route="blob"} 5`,
		`strata_http_sent_bytes_total{route="blob"}`,
		`strata_http_rejected_total{class="upload"} 0`,
		`strata_http_in_flight{class="read"} 0`,
		`strata_http_admission_limit{class="upload"} 32`,
		`strata_device_ops_total{class="read",device="hdd0",op="read"} 11`,
		`strata_device_bytes_total{class="write",device="hdd0",direction="write"} 8192`,
		`strata_device_errors_total{class="write",device="hdd0"} 1`,
		`strata_device_latency_seconds_bucket{class="read",device="hdd0",le="0.001"} 5`,
		`strata_device_latency_seconds_bucket{class="read",device="hdd0",le="0.01"} 10`,
		`strata_device_latency_seconds_count{class="read",device="hdd0"} 11`,
		`strata_device_direct_io{device="hdd0"} 1`,
		`strata_device_in_flight{device="hdd0"} 1`,
		`strata_tier_hits_total{tier="ram"} 7`,
		`strata_tier_misses_total{tier="ram"} 3`,
		`strata_tier_capacity_bytes{tier="ram"} 1.048576e+06`,
		`strata_tier_read_latency_seconds_count{tier="ram"} 5`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

func TestStartingWithoutStore(t *testing.T) {
	srv, err := node.New(node.DefaultConfig(t.TempDir()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv}
	wantStatus(t, e.do(http.MethodGet, "/healthz", nil), 200, "")
	w := e.do(http.MethodGet, "/readyz", nil)
	wantStatus(t, w, 503, "")
	if !strings.Contains(w.Body.String(), `"reason":"starting"`) {
		t.Fatalf("readyz while starting: %s", w.Body)
	}
	for _, method := range []string{http.MethodPut, http.MethodGet, http.MethodDelete} {
		w := e.do(method, "/blobs/k", strings.NewReader("v"))
		wantStatus(t, w, 503, "starting")
		if w.Header().Get("Retry-After") == "" {
			t.Errorf("%s while starting: no Retry-After", method)
		}
	}
	wantStatus(t, e.do(http.MethodGet, "/blobs", nil), 503, "starting")
	wantStatus(t, e.do(http.MethodGet, "/metrics", nil), 200, "")
	if srv.Ready() == nil {
		t.Fatal("Ready() nil without a store")
	}

	store := nodetest.NewMemStore(0)
	if err := srv.Attach(store); err != nil {
		t.Fatal(err)
	}
	if err := srv.Attach(store); !errors.Is(err, node.ErrStoreAttached) {
		t.Fatalf("second Attach: %v", err)
	}
	wantStatus(t, e.do(http.MethodGet, "/readyz", nil), 200, "")
	wantStatus(t, e.do(http.MethodPut, "/blobs/k", strings.NewReader("v")), 201, "")
}
