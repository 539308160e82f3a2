package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
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
	store, _, err := openStore(context.Background(), cfg, log, nil, nil, nil)
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
	store, _, err = openStoreProgress(context.Background(), cfg, log, nil, nil, nil, func(n int64) { scanned.Add(n) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if scanned.Load() < size {
		t.Fatalf("recovery progress reported %d bytes, want at least the %d the rebuild scanned", scanned.Load(), size)
	}
}

// notifySocket listens where NOTIFY_SOCKET (set for the test) points and
// returns the next message each call (a guard deadline, not a timing
// check), or "" once nothing more is queued when drain is set.
func notifySocket(t *testing.T) func(drain bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Skipf("unixgram sockets unavailable here: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return func(drain bool) string {
		t.Helper()
		wait := 20 * time.Second
		if drain {
			wait = 50 * time.Millisecond
		}
		if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if drain && errors.Is(err, os.ErrDeadlineExceeded) {
			return ""
		}
		if err != nil {
			t.Fatalf("notify socket: %v", err)
		}
		return string(buf[:n])
	}
}

// A signal during recovery: STOPPING=1 still goes out, and the later
// ready (serve attaching the store it was opening) sends no READY=1 and
// starts no watchdog.
func TestServiceNotifySignalDuringRecovery(t *testing.T) {
	recv := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "1000000")
	ctx, cancel := context.WithCancel(t.Context())
	s := startServiceNotify(ctx, slog.New(slog.DiscardHandler))
	if got := recv(false); got != "STATUS=recovering the store" {
		t.Fatalf("first message %q", got)
	}
	cancel()
	if got := recv(false); !strings.HasPrefix(got, "STOPPING=1") {
		t.Fatalf("after the signal: %q, want STOPPING=1", got)
	}
	s.ready(ctx, "serving", nodetest.NewMemStore(1<<20))
	s.stop()
	if got := recv(true); got != "" {
		t.Fatalf("after STOPPING=1: %q", got)
	}
}

// The normal life: READY=1 with its status, pings while the store
// answers, STOPPING=1 after the last ping.
func TestServiceNotifyLife(t *testing.T) {
	recv := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "20000") // a ping every 10ms
	ctx, cancel := context.WithCancel(t.Context())
	s := startServiceNotify(ctx, slog.New(slog.DiscardHandler))
	recv(false) // STATUS=recovering
	s.ready(ctx, "serving on 127.0.0.1:1", nodetest.NewMemStore(1<<20))
	if got := recv(false); got != "READY=1\nSTATUS=serving on 127.0.0.1:1" {
		t.Fatalf("ready: %q", got)
	}
	for range 3 {
		if got := recv(false); got != "WATCHDOG=1" {
			t.Fatalf("ping: %q", got)
		}
	}
	cancel()
	for {
		got := recv(false)
		if strings.HasPrefix(got, "STOPPING=1") {
			break
		}
		if got != "WATCHDOG=1" {
			t.Fatalf("before STOPPING=1: %q", got)
		}
	}
	s.stop()
	if got := recv(true); got != "" {
		t.Fatalf("after STOPPING=1: %q", got)
	}
}
