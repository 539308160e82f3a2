package node_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
)

// fakeSystemd is a service manager's notify socket: the datagrams a
// Notifier sends, one message each.
type fakeSystemd struct {
	t    *testing.T
	path string
	conn *net.UnixConn
}

func newFakeSystemd(t *testing.T) *fakeSystemd {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Skipf("unixgram sockets unavailable here: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fakeSystemd{t: t, path: path, conn: conn}
}

// env is the environment systemd gives a Type=notify unit, with
// WATCHDOG_USEC when watchdog is positive.
func (f *fakeSystemd) env(watchdog time.Duration) func(string) string {
	return func(k string) string {
		switch k {
		case "NOTIFY_SOCKET":
			return f.path
		case "WATCHDOG_USEC":
			if watchdog > 0 {
				return strconv.FormatInt(watchdog.Microseconds(), 10)
			}
		}
		return ""
	}
}

func (f *fakeSystemd) notifier(watchdog time.Duration) *node.Notifier {
	f.t.Helper()
	n, err := node.NewNotifier(node.NotifierOptions{Getenv: f.env(watchdog)})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// recv returns the next message (a guard deadline, not a timing check).
func (f *fakeSystemd) recv() string {
	f.t.Helper()
	buf := make([]byte, 4096)
	if err := f.conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		f.t.Fatal(err)
	}
	n, _, err := f.conn.ReadFromUnix(buf)
	if err != nil {
		f.t.Fatalf("no message on the notify socket: %v", err)
	}
	return string(buf[:n])
}

func TestNotifierMessages(t *testing.T) {
	f := newFakeSystemd(t)
	n := f.notifier(0)
	for _, tc := range []struct {
		name string
		send func() error
		want string
	}{
		{"ready", func() error { return n.Ready("serving on 127.0.0.1:7070") }, "READY=1\nSTATUS=serving on 127.0.0.1:7070"},
		{"stopping", func() error { return n.Stopping("draining") }, "STOPPING=1\nSTATUS=draining"},
		{"status without newlines", func() error { return n.Status("a\nb") }, "STATUS=a b"},
		{"extend", func() error { return n.ExtendTimeout(40*time.Second, "recovering") }, "EXTEND_TIMEOUT_USEC=40000000\nSTATUS=recovering"},
		{"watchdog", func() error { return n.Notify(node.NotifyWatchdog) }, "WATCHDOG=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.send(); err != nil {
				t.Fatal(err)
			}
			if got := f.recv(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewNotifierEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		enabled  bool
		watchdog time.Duration
		wantErr  bool
	}{
		{"no socket: nothing", map[string]string{"WATCHDOG_USEC": "1000000"}, false, 0, false},
		{"socket", map[string]string{"NOTIFY_SOCKET": "/run/systemd/notify"}, true, 0, false},
		{"abstract socket", map[string]string{"NOTIFY_SOCKET": "@notify"}, true, 0, false},
		{"relative socket refused", map[string]string{"NOTIFY_SOCKET": "notify"}, false, 0, true},
		{"watchdog", map[string]string{"NOTIFY_SOCKET": "/s", "WATCHDOG_USEC": "30000000"}, true, 30 * time.Second, false},
		{"watchdog for this pid", map[string]string{"NOTIFY_SOCKET": "/s", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, true, 30 * time.Second, false},
		{"watchdog for another pid", map[string]string{"NOTIFY_SOCKET": "/s", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "43"}, true, 0, false},
		{"malformed watchdog", map[string]string{"NOTIFY_SOCKET": "/s", "WATCHDOG_USEC": "30s"}, true, 0, true},
		{"zero watchdog", map[string]string{"NOTIFY_SOCKET": "/s", "WATCHDOG_USEC": "0"}, true, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := node.NewNotifier(node.NotifierOptions{
				Getenv: func(k string) string { return tc.env[k] },
				Getpid: func() int { return 42 },
			})
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, node.ErrNotify)) {
				t.Fatalf("err = %v, want error %v wrapping ErrNotify", err, tc.wantErr)
			}
			if n.Enabled() != tc.enabled || n.WatchdogTimeout() != tc.watchdog {
				t.Fatalf("enabled %v watchdog %v, want %v %v", n.Enabled(), n.WatchdogTimeout(), tc.enabled, tc.watchdog)
			}
		})
	}
	var none *node.Notifier // a nil Notifier does nothing
	if none.Enabled() || none.Ready("x") != nil || none.WatchdogTimeout() != 0 {
		t.Fatal("nil Notifier is not inert")
	}
}

// TestNotifierSendFails: a socket nobody listens on is an error wrapping
// ErrNotify (serve logs it and goes on).
func TestNotifierSendFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone")
	n, err := node.NewNotifier(node.NotifierOptions{Getenv: func(k string) string {
		if k == "NOTIFY_SOCKET" {
			return path
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Ready("x"); !errors.Is(err, node.ErrNotify) {
		t.Fatalf("send to a missing socket: %v, want ErrNotify", err)
	}
}

// statGate is a store whose Stat can be made to hang (ignoring its
// context, as a store stuck on a lock would) until released.
type statGate struct {
	node.Store
	mu   sync.Mutex
	gate chan struct{} // nil: Stat answers at once
}

func (s *statGate) hold(gate chan struct{}) {
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
}

func (s *statGate) Stat(ctx context.Context, key string) (blockstore.Info, error) {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return s.Store.Stat(ctx, key)
}

// TestWatchdogFollowsLiveness: WATCHDOG=1 goes out on a tick only while
// the liveness check passes; a failing check (unhealthy store, failing
// lookup) or a hung one (past its deadline, and while it still hangs)
// withholds the ping and says why in STATUS=; pings resume once it
// passes, and stop with the context.
func TestWatchdogFollowsLiveness(t *testing.T) {
	f := newFakeSystemd(t)
	n := f.notifier(2 * time.Second)
	mem := nodetest.NewMemStore(1 << 20)
	store := &statGate{Store: mem}
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.RunWatchdog(ctx, node.WatchdogOptions{Check: node.StoreLiveness(store), CheckTimeout: 20 * time.Millisecond, Ticks: ticks})
	}()
	release := make(chan struct{})
	steps := []struct {
		name  string
		setup func()
		want  string // prefix of the message the tick sends
	}{
		{"healthy", func() {}, "WATCHDOG=1"},
		{"healthy again", func() {}, "WATCHDOG=1"},
		{"unhealthy store", func() { mem.SetHealthy(blockstore.ErrClosed) }, "STATUS=liveness check failing"},
		{"back", func() { mem.SetHealthy(nil) }, "WATCHDOG=1\nSTATUS=serving"},
		{"lookup fails", func() { mem.SetFault(nodetest.OpStat, fmt.Errorf("index: %w", blockstore.ErrCorrupt)) }, "STATUS=liveness check failing"},
		{"missing key is fine", func() { mem.SetFault(nodetest.OpStat, nil) }, "WATCHDOG=1"},
		{"hung lookup", func() { store.hold(release) }, "STATUS=liveness check failing, watchdog pings withheld: node: liveness check did not answer in time"},
		{"still hung", func() {}, "STATUS=liveness check failing, watchdog pings withheld: node: liveness check did not answer in time: the previous check is still running"},
	}
	for _, st := range steps {
		st.setup()
		ticks <- time.Now()
		if got := f.recv(); !strings.HasPrefix(got, st.want) {
			t.Fatalf("%s: got %q, want %q...", st.name, got, st.want)
		}
	}
	// Released, the hung check hands in its (stale) result; until it has,
	// ticks still find it running. Then pings resume.
	store.hold(nil)
	close(release)
	for i := 0; ; i++ {
		ticks <- time.Now()
		got := f.recv()
		if strings.HasPrefix(got, "WATCHDOG=1") {
			break
		}
		if !strings.Contains(got, "still running") || i == 10000 {
			t.Fatalf("after the hung check returned: got %q, want WATCHDOG=1", got)
		}
	}
	cancel()
	<-done
}

// TestWatchdogOff: without WATCHDOG_USEC RunWatchdog returns at once.
func TestWatchdogOff(t *testing.T) {
	f := newFakeSystemd(t)
	n := f.notifier(0)
	n.RunWatchdog(t.Context(), node.WatchdogOptions{Check: func(context.Context) error { return nil }})
}

// TestExtendStartupFollowsProgress: a tick after progress extends the
// start timeout by twice the interval and says how far the scan got; a
// tick without progress extends nothing; stop ends it.
func TestExtendStartupFollowsProgress(t *testing.T) {
	f := newFakeSystemd(t)
	n := f.notifier(0)
	var p node.StartupProgress
	ticks := make(chan time.Time)
	stop := n.ExtendStartup(t.Context(), &p, node.ExtendOptions{Every: 10 * time.Second, Ticks: ticks})
	for _, st := range []struct {
		name  string
		bytes int64 // progress before the tick; -1: none
		want  string
	}{
		{"progress", 4 << 20, "EXTEND_TIMEOUT_USEC=20000000\nSTATUS=recovering: 4MiB of volumes scanned"},
		{"more progress", 4 << 20, "EXTEND_TIMEOUT_USEC=20000000\nSTATUS=recovering: 8MiB of volumes scanned"},
		{"stalled", -1, "STATUS=recovering: 8MiB of volumes scanned, no progress for 10s"},
		{"still stalled", -1, "STATUS=recovering: 8MiB of volumes scanned, no progress for 20s"},
		{"moving again", 0, "EXTEND_TIMEOUT_USEC=20000000\nSTATUS=recovering: 8MiB"},
	} {
		if st.bytes >= 0 {
			p.Add(st.bytes)
		}
		ticks <- time.Now()
		if got := f.recv(); !strings.HasPrefix(got, st.want) {
			t.Fatalf("%s: got %q, want %q...", st.name, got, st.want)
		}
	}
	stop()
	select {
	case ticks <- time.Now():
		t.Fatal("ExtendStartup still running after stop")
	default:
	}
}

// FuzzNewNotifier: any environment gives a Notifier or an ErrNotify, never
// a panic; the watchdog is on only for a positive WATCHDOG_USEC naming
// this process (or no process), and only with a usable socket.
func FuzzNewNotifier(f *testing.F) {
	f.Add("/run/systemd/notify", "30000000", "")
	f.Add("@notify", "1", "42")
	f.Add("relative", "x", "43")
	f.Add("/s", "18446744073709551615", "")
	f.Add("/s", "-1", "")
	f.Fuzz(func(t *testing.T, socket, usec, pid string) {
		env := map[string]string{"NOTIFY_SOCKET": socket, "WATCHDOG_USEC": usec, "WATCHDOG_PID": pid}
		n, err := node.NewNotifier(node.NotifierOptions{Getenv: func(k string) string { return env[k] }, Getpid: func() int { return 42 }})
		if err != nil && !errors.Is(err, node.ErrNotify) {
			t.Fatalf("error %v does not wrap ErrNotify", err)
		}
		if n == nil {
			t.Fatal("nil Notifier")
		}
		d := n.WatchdogTimeout()
		if d < 0 {
			t.Fatalf("negative watchdog %v", d)
		}
		if d > 0 {
			v, perr := strconv.ParseUint(usec, 10, 64)
			if perr != nil || v == 0 || !n.Enabled() || (pid != "" && pid != "42") {
				t.Fatalf("watchdog %v on for socket %q usec %q pid %q", d, socket, usec, pid)
			}
		}
	})
}
