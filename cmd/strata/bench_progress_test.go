package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestIsTerminal: a buffer, a file and a pipe are not terminals; a
// pseudo-terminal is.
func TestIsTerminal(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "file": file, "pipe": w} {
		if isTerminal(out) {
			t.Errorf("%s counts as a terminal", name)
		}
	}
	pty := openPTY(t)
	if !isTerminal(pty) {
		t.Error("a pseudo-terminal does not count as a terminal")
	}
}

// openPTY opens the terminal side of a new pseudo-terminal, or skips.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Skipf("unlockpt: %v", errno)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { slave.Close() })
	return slave
}

// TestBenchProgressLine runs a bench whose stdout claims to be a terminal:
// the output holds progress lines rewritten in place (\r, clear to end of
// line) with the phase, ops/s, p99 and errors, cleared before the figures.
// When stdout is not a terminal there is none.
func TestBenchProgressLine(t *testing.T) {
	_, addr := newFakeNode(t)
	for _, terminal := range []bool{true, false} {
		var out, errb bytes.Buffer
		code := runBenchWith(context.Background(), stdio{in: strings.NewReader(""), out: &out, err: &errb},
			[]string{"bench", "--addr", addr, "--size", "1KiB", "--keys", "10", "--ops", "100", "--concurrency", "2", "--seed", "1"}[1:],
			func(io.Writer) bool { return terminal })
		if code != exitOK {
			t.Fatalf("bench: exit %d\n%s\n%s", code, out.String(), errb.String())
		}
		text := out.String()
		hasProgress := strings.Contains(text, "\r[mixed] ")
		if hasProgress != terminal {
			t.Errorf("terminal=%t: progress line present %t:\n%q", terminal, hasProgress, text)
		}
		if !terminal {
			if strings.ContainsAny(text, "\r\x1b") {
				t.Errorf("not a terminal, yet control characters in the output: %q", text)
			}
			continue
		}
		line := text[strings.Index(text, "\r[mixed] "):]
		for _, want := range []string{" ops/s", "p99 read ", "errors 0", "\x1b[K", "\r\x1b[K  read: IOPS="} {
			if !strings.Contains(line, want) {
				t.Errorf("progress output lacks %q: %q", want, line)
			}
		}
	}
}
