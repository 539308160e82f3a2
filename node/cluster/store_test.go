package cluster

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"strata/blockstore"
	"strata/node"
	"strata/node/membership"
	"strata/tiering"
)

// reportingLocal is a fake store with every optional reporter node.Server
// looks for on a single node's store.
type reportingLocal struct {
	*memLocal
}

func (reportingLocal) StoreStats() node.StoreStats {
	return node.StoreStats{CorruptRecords: 7, WriteErrors: 3}
}

func (reportingLocal) FailedDisks() []string { return []string{"/disks/b"} }

func (reportingLocal) Disks() []node.DiskHealth {
	return []node.DiskHealth{
		{Name: "sda", Dir: "/disks/a", UsedBytes: 4096, ScrubCorruptions: 2},
		{Name: "sdb", Dir: "/disks/b", Failed: true, IOErrors: 11},
	}
}

// singleNodeCluster is a one-member cluster over local.
func singleNodeCluster(t *testing.T, local Local) *Cluster {
	t.Helper()
	world := &bgWorld{}
	world.add(membership.Member{ID: "n1", HTTPAddr: "n1", Weight: 1, State: membership.Alive})
	c, err := New(Options{Local: local, Peer: &bgNet{nodes: map[string]*Cluster{}, down: map[string]bool{}}, Members: world.membersFor("n1"), Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A cluster node's /readyz and /metrics show what its local store reports,
// as a single node's do: failed disks, per-disk health and scrub, store
// counters.
func TestClusterPassesStoreReportersThrough(t *testing.T) {
	c := singleNodeCluster(t, reportingLocal{newBGLocal(nil)})
	srv, err := node.New(node.DefaultConfig(t.TempDir()), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		rec := httptest.NewRecorder()
		srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil))
		return rec.Body.String()
	}
	var ready struct {
		FailedDisks []string `json:"failed_disks"`
	}
	if body := get("/readyz"); json.Unmarshal([]byte(body), &ready) != nil || !slices.Equal(ready.FailedDisks, []string{"/disks/b"}) {
		t.Errorf("/readyz %s: want failed_disks [/disks/b]", body)
	}
	metrics := get("/metrics")
	for _, want := range []string{
		"strata_failed_disks 1",
		`strata_disk_failed{device="sdb",dir="/disks/b"} 1`,
		`strata_disk_io_errors_total{device="sdb",dir="/disks/b"} 11`,
		`strata_scrub_corrupt_records_total{device="sda",dir="/disks/a"} 2`,
		"strata_store_corrupt_records_total 7",
		"strata_store_write_errors_total 3",
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// LocalTiered passes the tiered store's reporters through (the embedded
// node.Store interface would hide them), so a real cluster node reports
// its disks.
func TestLocalTieredPassesReportersThrough(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	hdd := filepath.Join(dir, "hdd")
	bs, err := blockstore.Open(ctx, blockstore.Options{
		DataDirs: []string{hdd}, IndexDir: filepath.Join(dir, "index"),
		VolumeSize: 16 << 20, ChunkSize: 256 << 10, MaxBlobSize: 4 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tiering.Open(ctx, tiering.Options{Backend: bs})
	if err != nil {
		bs.Close()
		t.Fatal(err)
	}
	defer ts.Close()
	c := singleNodeCluster(t, LocalTiered(ts))
	if disks := c.Disks(); len(disks) != 1 || disks[0].Dir != hdd {
		t.Errorf("Disks %+v, want the one data disk %s", disks, hdd)
	}
	if failed := c.FailedDisks(); len(failed) != 0 {
		t.Errorf("FailedDisks %v, want none", failed)
	}
	if _, ok := LocalTiered(ts).(interface{ StoreStats() node.StoreStats }); !ok {
		t.Error("LocalTiered hides StoreStats")
	}
}
