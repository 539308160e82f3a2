package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2ESystemdNotify checks what scripts/strata.service relies on
// (Type=notify, WatchdogSec=): the binary sends STATUS= while it recovers,
// READY=1 once it serves, WATCHDOG=1 pings (WATCHDOG_USEC set) while its
// store answers, STOPPING=1 when SIGTERM starts the graceful shutdown and
// no ping after it, and exits 0.
func TestE2ESystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skipf("cannot listen on a unixgram socket here: %v", err)
	}
	defer conn.Close()
	// 400ms: a ping every 100ms, so the test sees several quickly.
	n := startNode(t, nodeOptions{env: []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"}})

	var seen []string
	// until reads messages until one contains want and returns the
	// messages before it.
	until := func(want string) []string {
		t.Helper()
		var before []string
		buf := make([]byte, 4096)
		for {
			if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
				t.Fatal(err)
			}
			k, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %s on NOTIFY_SOCKET: %v\nseen: %q\nlog:\n%s", want, err, seen, n.logTail())
			}
			msg := string(buf[:k])
			seen = append(seen, msg)
			if strings.Contains(msg, want) {
				return before
			}
			before = append(before, msg)
		}
	}
	before := until("READY=1")
	if len(before) == 0 || !strings.HasPrefix(before[0], "STATUS=recovering") {
		t.Fatalf("before READY=1: %q, want a STATUS=recovering first", before)
	}
	for _, m := range before {
		if strings.Contains(m, "WATCHDOG=1") {
			t.Fatalf("watchdog ping before READY=1: %q", before)
		}
	}
	for range 3 {
		if got := until("WATCHDOG=1"); len(got) != 0 {
			t.Fatalf("between pings of a healthy node: %q", got)
		}
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	until("STOPPING=1")
	select {
	case <-n.done:
		if n.exitErr != nil {
			t.Fatalf("exit after SIGTERM: %v\nlog:\n%s", n.exitErr, n.logTail())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("node still running 30s after SIGTERM\nlog:\n%s", n.logTail())
	}
	// The process is gone: whatever it sent is queued. No ping after
	// STOPPING=1.
	buf := make([]byte, 4096)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		k, err := conn.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(buf[:k]), "WATCHDOG=1") {
			t.Fatalf("watchdog ping after STOPPING=1: %q", buf[:k])
		}
	}
}
