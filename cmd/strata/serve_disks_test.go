package main

import (
	"context"
	"fmt"
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
	opts := blockstoreOptions(cfg, slog.New(slog.DiscardHandler), nil, func(string, uint64) { called = true }, nil)
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
	store, _, err := openStore(context.Background(), cfg, slog.New(slog.DiscardHandler), nil, nil, nil)
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

// The scrub's corrupt finds reach the repair set later: those before it
// wait (bounded) and are handed over; after stop they are only logged.
func TestCorruptRelay(t *testing.T) {
	r := &corruptRelay{log: slog.New(slog.DiscardHandler)}
	for i := range maxEarlyCorrupt + 5 {
		r.onCorrupt(fmt.Sprintf("early-%d", i), uint64(i+1))
	}
	var got []string
	r.set(func(key string, version uint64) { got = append(got, fmt.Sprintf("%s@%d", key, version)) })
	if len(got) != maxEarlyCorrupt || got[0] != "early-0@1" {
		t.Fatalf("handed over %d early calls (first %q), want the first %d", len(got), got[0], maxEarlyCorrupt)
	}
	r.onCorrupt("late", 9)
	if got[len(got)-1] != "late@9" {
		t.Fatalf("a call after set did not reach the repair: %q", got[len(got)-1])
	}
	r.stop()
	r.onCorrupt("after-stop", 10)
	if len(got) != maxEarlyCorrupt+1 {
		t.Fatalf("%d calls reached the repair, want none after stop", len(got)-maxEarlyCorrupt-1)
	}
}
