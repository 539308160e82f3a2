package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"strata/blockstore"
	"strata/node"
)

// passNode is a real node (store and admin handler) served in-process.
func passNode(t *testing.T) (admin string, cfg node.Config, put func(key string, n int)) {
	t.Helper()
	cfg = node.DefaultConfig(t.TempDir())
	cfg.RAMCacheSize, cfg.SSDCacheSize, cfg.VolumeSize = 0, 0, 32<<20
	// No background scrub: its first pass on a fresh disk can start before
	// the test's puts, and the commands would wait for it instead of
	// starting their own.
	cfg.ScrubInterval = 0
	if err := createDataDirs(cfg); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	store, _, err := openStore(ctx, cfg, log, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv, err := node.New(cfg, node.Tiered(store), log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(hs.Close)
	return hs.URL, cfg, func(key string, n int) {
		t.Helper()
		if _, err := store.Put(ctx, key, bytes.NewReader(bytes.Repeat([]byte{'x'}, n)), int64(n), blockstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// flipVolumeByte changes one byte of the first volume of cfg's first disk.
func flipVolumeByte(t *testing.T, cfg node.Config, off int64) {
	t.Helper()
	vols, err := filepath.Glob(filepath.Join(cfg.HDDDirs[0], "*.vol"))
	if err != nil || len(vols) == 0 {
		t.Fatalf("no volume: %v", err)
	}
	f, err := os.OpenFile(vols[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{'!'}, off); err != nil {
		t.Fatal(err)
	}
}

// `strata scrub --wait` and `strata compact --wait` against a real node:
// exit 0 for a clean pass with its figures, exit 1 naming the count when
// the scrub finds corruption; without --wait they exit 0 once started.
func TestPassCommandsAgainstNode(t *testing.T) {
	admin, cfg, put := passNode(t)
	put("a", 1000)
	put("b", 3000)
	code, out, errOut := cliRun(t, "", "scrub", "--addr", admin, "--wait")
	if code != exitOK || !strings.Contains(out, "scrub pass") || !strings.Contains(out, ": ok") || !strings.Contains(out, "verified:    2 records") {
		t.Fatalf("clean scrub: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cliRun(t, "", "compact", "--addr", admin, "--wait", "--json")
	var p node.PassReport
	if err := json.Unmarshal([]byte(out), &p); code != exitOK || err != nil || p.Kind != "compact" || p.Result != node.PassResultOK || p.Compact == nil {
		t.Fatalf("compact --wait --json: exit %d, %+v, %v\n%s\n%s", code, p, err, out, errOut)
	}
	code, out, _ = cliRun(t, "", "compact", "--addr", admin)
	if code != exitOK || !strings.Contains(out, "started") {
		t.Fatalf("compact without --wait: exit %d\n%s", code, out)
	}
	flipVolumeByte(t, cfg, 48+1+10) // the payload of "a"
	code, out, errOut = cliRun(t, "", "scrub", "--addr", admin, "--wait")
	if code != exitError || !strings.Contains(errOut, "found 1 corrupt records") || !strings.Contains(out, "problems") {
		t.Fatalf("scrub over a flipped byte: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := cliRun(t, "", "scrub", "--addr", admin, "extra"); code != exitUsage {
		t.Fatalf("scrub with an argument: exit %d %s", code, errOut)
	}
}

// A node answering 409: without --wait the command exits 3 naming the
// running pass; with --wait it follows that pass to its end, printing
// progress, and exits by its result. A node refusing the token exits 1
// and says which scope is needed.
func TestPassCommandConflict(t *testing.T) {
	var gets atomic.Int32
	running := node.PassReport{Kind: "scrub", ID: 42, Trigger: "background", Running: true, Result: node.PassResultRunning, DoneBytes: 1, TotalBytes: 4, Progress: 0.25}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path != "/admin/scrub":
			http.NotFound(w, r)
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(map[string]any{"error": "running", "code": "pass_running", "pass": running})
		case r.URL.Query().Get("id") != "42":
			http.Error(w, "want id 42", http.StatusBadRequest)
		case gets.Add(1) < 3:
			p := running
			p.DoneBytes, p.Progress = int64(gets.Load()+1), float64(gets.Load()+1)/4
			json.NewEncoder(w).Encode(p)
		default:
			p := running
			p.Running, p.Result, p.DoneBytes, p.Progress = false, node.PassResultOK, 4, 1
			p.Scrub = &node.ScrubPassStats{Disks: 1, Records: 10}
			json.NewEncoder(w).Encode(p)
		}
	}))
	defer srv.Close()
	code, _, errOut := cliRun(t, "", "scrub", "--addr", srv.URL)
	if code != exitPassRunning || !strings.Contains(errOut, "already running (pass 42") {
		t.Fatalf("409 without --wait: exit %d\n%s", code, errOut)
	}
	code, out, errOut := cliRun(t, "", "scrub", "--addr", srv.URL, "--wait")
	if code != exitOK || !strings.Contains(errOut, "waiting for that pass") || !strings.Contains(errOut, "pass 42: 50.0%") || !strings.Contains(out, "scrub pass 42") {
		t.Fatalf("409 with --wait: exit %d\n%s\n%s", code, out, errOut)
	}

	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"token scope does not allow this request","code":"forbidden"}`, http.StatusForbidden)
	}))
	defer forbidden.Close()
	code, _, errOut = cliRun(t, "", "compact", "--addr", forbidden.URL, "--token", "t")
	if code != exitError || !strings.Contains(errOut, "admin-scope token") {
		t.Fatalf("403: exit %d\n%s", code, errOut)
	}
}

// The real binary: `strata scrub --wait` and `strata compact --wait` reach
// a `strata serve` through its admin listener.
func TestPassCommandsE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	adminAddr := fmt.Sprintf("127.0.0.1:%d", port)
	n := startNode(t, nodeOptions{adminAddr: adminAddr})
	if code, _, errOut := n.cli(t, []byte("hello"), "put", "k", "-"); code != 0 {
		t.Fatalf("put: %d %s", code, errOut)
	}
	code, out, errOut := n.cli(t, nil, "scrub", "--addr", adminAddr, "--wait")
	if code != 0 || !strings.Contains(out, ": ok") {
		t.Fatalf("scrub --wait: exit %d\n%s\n%s\n%s", code, out, errOut, n.logTail())
	}
	code, out, errOut = n.cli(t, nil, "compact", "--addr", "http://"+adminAddr, "--wait")
	if code != 0 || !strings.Contains(out, "compaction pass") {
		t.Fatalf("compact --wait: exit %d\n%s\n%s", code, out, errOut)
	}
}

// In cluster mode the pass routes run the node's own store's passes (the
// blob API is the coordinator's), and /metrics carries the cluster's
// hint counters.
func TestPassCommandsClusterE2E(t *testing.T) {
	c := newTestCluster(t, clusterOptions{nodes: 1, replicas: 1, writeQuorum: 1, readQuorum: 1})
	n := c.nodes[0]
	c.put(n, "k", []byte("hello"))
	code, out, errOut := n.cli(t, nil, "scrub", "--addr", n.admin, "--wait")
	if code != 0 || !strings.Contains(out, ": ok") || !strings.Contains(out, "verified:    1 records") {
		t.Fatalf("scrub --wait on a cluster node: exit %d\n%s\n%s\n%s", code, out, errOut, n.logTail())
	}
	if code, out, errOut := n.cli(t, nil, "compact", "--addr", n.admin, "--wait"); code != 0 {
		t.Fatalf("compact --wait on a cluster node: exit %d\n%s\n%s", code, out, errOut)
	}
	resp, err := http.Get(n.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	for _, want := range []string{"strata_hints_pending_bytes 0", `strata_pass_running{kind="scrub"} 0`, "strata_fsync_duration_seconds_count"} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("cluster node's /metrics lacks %q", want)
		}
	}
}
