package node_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"strata/internal/poll"
	"strata/node"
)

// TestMetricsStoreCounters checks that the store's own counters (measured
// in blockstore, tiering and ioengine) reach /metrics under their names.
func TestMetricsStoreCounters(t *testing.T) {
	e := newEnv(t, nil)
	e.store.SetStats(
		[]node.TierStats{{Tier: "hdd", Hits: 1, Items: 3, Bytes: 300}},
		[]node.DeviceStats{{Name: "hdd0", Classes: []node.DeviceClassStats{
			{Class: "read", ReadOps: 4, QueueWait: node.Latency{
				Bounds: []time.Duration{time.Millisecond}, Counts: []uint64{2, 1}, Sum: 5 * time.Millisecond, Count: 3}},
		}}},
	)
	e.store.SetStoreStats(node.StoreStats{CorruptRecords: 2, WriteErrors: 3, PendingIndexEntries: 4, CoalescedReads: 5, TornTails: 6, IndexErrors: 7, GroupCommits: 13, GroupRecords: 14,
		Disks:      []node.DiskSpace{{Device: "hdd0", Dir: "/hdd0", Live: 600, Garbage: 400, GarbageRatio: 0.4}},
		Compaction: node.CompactionStats{Passes: 8, Volumes: 9, TombstonesDropped: 10, BytesCopied: 11, BytesReclaimed: 12},
		Fills:      node.CacheFills{Applied: 13, DroppedFull: 14, DroppedStale: 15, WriteThroughAdmitted: 16, WriteThroughSkipped: 17, WriteThroughBig: 18, WriteThroughPaced: 19}})
	w := e.do(http.MethodGet, "/metrics", nil)
	wantStatus(t, w, 200, "")
	text := w.Body.String()
	for _, want := range []string{
		`strata_store_corrupt_records_total 2`,
		`strata_store_write_errors_total 3`,
		`strata_index_pending_entries 4`,
		`strata_tier_coalesced_reads_total 5`,
		`strata_store_torn_tails_total 6`,
		`strata_index_commit_errors_total 7`,
		`strata_store_group_commits_total 13`,
		`strata_store_group_records_total 14`,
		`strata_disk_live_bytes{device="hdd0",dir="/hdd0"} 600`,
		`strata_disk_garbage_bytes{device="hdd0",dir="/hdd0"} 400`,
		`strata_disk_garbage_ratio{device="hdd0",dir="/hdd0"} 0.4`,
		`strata_compaction_passes_total 8`,
		`strata_tier_fills_total{outcome="applied"} 13`,
		`strata_tier_fills_total{outcome="dropped_full"} 14`,
		`strata_tier_fills_total{outcome="dropped_stale"} 15`,
		`strata_tier_writethrough_total{decision="admitted"} 16`,
		`strata_tier_writethrough_total{decision="skipped"} 17`,
		`strata_tier_writethrough_total{decision="too_big"} 18`,
		`strata_tier_writethrough_total{decision="paced"} 19`,
		`strata_compaction_volumes_total 9`,
		`strata_compaction_tombstones_dropped_total 10`,
		`strata_compaction_written_bytes_total 11`,
		`strata_compaction_reclaimed_bytes_total 12`,
		`strata_device_queue_wait_seconds_bucket{class="read",device="hdd0",le="0.001"} 2`,
		`strata_device_queue_wait_seconds_count{class="read",device="hdd0"} 3`,
		`strata_tier_items{tier="hdd"} 3`,
		`strata_tier_bytes{tier="hdd"} 300`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^strata_build_info\{goversion="go[^"]+",revision="[^"]*",version="[^"]+"\} 1$`).MatchString(text) {
		t.Errorf("metrics lack strata_build_info{goversion,revision,version} 1")
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

// metricValue returns the value of the first sample of name (with labels,
// as printed) on /metrics, or -1 when there is none.
func metricValue(t *testing.T, e *env, sample string) float64 {
	t.Helper()
	text := e.do(http.MethodGet, "/metrics", nil).Body.String()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", sample, err)
	}
	return v
}

// TestMetricsRealStack reads the counters through the real tiering and
// blockstore: the HDD tier's items and bytes (0 before, whatever was
// stored), a corrupt record found by a read, and the zeros of the others.
// payloadByte is inside the payload of the first blob of a volume whose
// key is one byte long: past the 48-byte header, the key and 10 bytes.
const payloadByte = 48 + 1 + 10

// flipFirstVolumeByte flips a bit of the byte at off of the env's first
// volume file, under the store's feet.
func flipFirstVolumeByte(t *testing.T, e *env, off int64) {
	t.Helper()
	vols, err := filepath.Glob(filepath.Join(e.cfg.HDDDirs[0], "*.vol"))
	if err != nil || len(vols) == 0 {
		t.Fatalf("no volume file: %v", err)
	}
	f, err := os.OpenFile(vols[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMetricsRealStack(t *testing.T) {
	e := newTieredEnv(t, func(c *node.Config) { c.RAMCacheSize = 0 })
	e.put("a", strings.Repeat("a", 1000))
	e.put("b", strings.Repeat("b", 3000))
	poll.Until(t, "the HDD tier to count two blobs on /metrics", func() bool {
		return metricValue(t, e, `strata_tier_items{tier="hdd"}`) == 2
	})
	if c, r := metricValue(t, e, "strata_store_group_commits_total"), metricValue(t, e, "strata_store_group_records_total"); c < 1 || c > 2 || r != 2 {
		t.Errorf("group commits %v carrying %v records after two PUTs, want 1 or 2 carrying 2", c, r)
	}
	if got := metricValue(t, e, `strata_tier_bytes{tier="hdd"}`); got != 4000 {
		t.Errorf("strata_tier_bytes{tier=\"hdd\"} = %v, want 4000", got)
	}
	for _, name := range []string{"strata_store_write_errors_total", "strata_index_pending_entries", "strata_tier_coalesced_reads_total"} {
		if got := metricValue(t, e, name); got != 0 {
			t.Errorf("%s = %v, want 0", name, got)
		}
	}
	// Flip a byte of the first blob's payload on disk; its read must fail
	// and be counted.
	flipFirstVolumeByte(t, e, payloadByte)
	if w := e.do(http.MethodGet, "/blobs/a", nil); w.Code == http.StatusOK && w.Body.String() == strings.Repeat("a", 1000) {
		t.Fatal("corrupted blob served intact: the test flipped the wrong byte")
	}
	if got := metricValue(t, e, "strata_store_corrupt_records_total"); got != 1 {
		t.Errorf("strata_store_corrupt_records_total = %v after one corrupt read, want 1", got)
	}
}
