package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"strata/blockstore"
	"strata/node"
)

// openStore passes serve's recovery-progress hook to the block store: a
// reopen that rebuilds the index reports the bytes its scan reads, which
// is what serve extends systemd's start timeout on.
func TestOpenStoreReportsRecoveryProgress(t *testing.T) {
	dir := t.TempDir()
	cfg := node.DefaultConfig(dir)
	cfg.HDDDirs, cfg.IndexDir, cfg.SSDCacheSize = []string{filepath.Join(dir, "hdd")}, filepath.Join(dir, "index"), 0
	cfg.VolumeSize, cfg.RAMCacheSize = 64<<20, 1<<20
	if err := createDataDirs(cfg); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	store, _, err := openStore(context.Background(), cfg, log, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const size = 256 << 10
	if _, err := node.Tiered(store).Put(t.Context(), "k", bytes.NewReader(make([]byte, size)), size, blockstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cfg.IndexDir, blockstore.IndexFileName)); err != nil {
		t.Fatal(err)
	}
	var scanned atomic.Int64
	store, _, err = openStore(context.Background(), cfg, log, nil, nil, nil, func(n int64) { scanned.Add(n) })
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if scanned.Load() < size {
		t.Fatalf("recovery progress reported %d bytes, want at least the %d the rebuild scanned", scanned.Load(), size)
	}
}
