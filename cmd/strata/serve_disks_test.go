package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"strata/internal/poll"
	"strata/node"
	"strata/node/cluster"
)

// The scrub and failed-disk settings of the config reach the block store
// serve opens (they were validated and then dropped).
func TestBlockstoreOptionsTakeDiskSettings(t *testing.T) {
	cfg := node.DefaultConfig(t.TempDir())
	cfg.ScrubInterval, cfg.ScrubRate, cfg.DiskErrorThreshold = 3*time.Hour, 5<<20, 4
	called := false
	opts := blockstoreOptions(cfg, slog.New(slog.DiscardHandler), nil, func(string, uint64) { called = true })
	if opts.ScrubInterval != 3*time.Hour || opts.ScrubBytesPerSec != 5<<20 || opts.DiskErrorThreshold != 4 {
		t.Errorf("blockstore options: scrub interval %v, rate %d, disk error threshold %d; want 3h, %d, 4",
			opts.ScrubInterval, opts.ScrubBytesPerSec, opts.DiskErrorThreshold, 5<<20)
	}
	if opts.OnCorrupt == nil {
		t.Fatal("OnCorrupt not passed to the block store")
	}
	opts.OnCorrupt("k", 1)
	if !called {
		t.Error("the block store's OnCorrupt is not the one given")
	}
}

// A store opened as serve opens it runs the background scrub the config
// asks for (scrub_interval): a fresh disk gets its first pass at once.
func TestOpenStoreRunsTheConfiguredScrub(t *testing.T) {
	dir := t.TempDir()
	cfg := node.DefaultConfig(dir)
	cfg.HDDDirs, cfg.IndexDir, cfg.SSDCacheSize = []string{filepath.Join(dir, "hdd")}, filepath.Join(dir, "index"), 0
	cfg.VolumeSize, cfg.RAMCacheSize = 64<<20, 1<<20
	if err := createDataDirs(cfg); err != nil {
		t.Fatal(err)
	}
	store, _, err := openStore(context.Background(), cfg, slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	poll.Until(t, "the background scrub's first pass", func() bool {
		disks := store.Stats().Backend.Disks
		return len(disks) == 1 && !disks[0].Scrub.LastComplete.IsZero()
	})
}

// The [cluster] table's background rates reach the cluster's options.
func TestApplyBackgroundRates(t *testing.T) {
	c := node.DefaultConfig("").Cluster
	c.HintReplayRate, c.HintReplayConcurrency, c.AntiEntropyRate, c.AntiEntropyConcurrency = 50, 3, 1<<20, 5
	var o cluster.Options
	applyBackgroundRates(c, &o)
	if o.HintReplayRate != 50 || o.HintReplayConcurrency != 3 || o.AntiEntropyBytesPerSec != 1<<20 || o.AntiEntropyConcurrency != 5 {
		t.Fatalf("cluster options %+v, want the table's rates", o)
	}
}
