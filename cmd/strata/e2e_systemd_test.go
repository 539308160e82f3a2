package main

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2ESystemdNotify checks what scripts/strata.service relies on
// (Type=notify): the binary sends READY=1 on $NOTIFY_SOCKET once it serves,
// STOPPING=1 when SIGTERM starts the graceful shutdown, and exits 0.
func TestE2ESystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skipf("cannot listen on a unixgram socket here: %v", err)
	}
	defer conn.Close()
	n := startNode(t, nodeOptions{env: []string{"NOTIFY_SOCKET=" + sock}})

	read := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
			t.Fatal(err)
		}
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s on NOTIFY_SOCKET: %v\nlog:\n%s", want, err, n.logTail())
		}
		if !strings.Contains(string(buf[:k]), want) {
			t.Fatalf("NOTIFY_SOCKET got %q, want %s", buf[:k], want)
		}
	}
	read("READY=1")
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	read("STOPPING=1")
	select {
	case <-n.done:
		if n.exitErr != nil {
			t.Fatalf("exit after SIGTERM: %v\nlog:\n%s", n.exitErr, n.logTail())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("node still running 30s after SIGTERM\nlog:\n%s", n.logTail())
	}
}
