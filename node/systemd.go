package node

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Systemd notification states (sd_notify(3)).
const (
	NotifyReady    = "READY=1"
	NotifyStopping = "STOPPING=1"
	NotifyWatchdog = "WATCHDOG=1"
	// notifyExtend and notifyStatus take a value after the '='.
	notifyExtend = "EXTEND_TIMEOUT_USEC="
	notifyStatus = "STATUS="
)

// NotifierOptions are where NewNotifier finds its environment; the zero
// value takes the process's own.
type NotifierOptions struct {
	Getenv func(string) string // nil: os.Getenv
	Getpid func() int          // nil: os.Getpid
	Logger *slog.Logger        // nil: discard
}

// Notifier talks to the service manager over $NOTIFY_SOCKET (Type=notify
// units): readiness, stopping, status lines, start-timeout extensions and
// watchdog pings. Without NOTIFY_SOCKET every method does nothing, so the
// same code runs by hand and under systemd. A nil *Notifier does nothing
// too. Safe for concurrent use (each message is one datagram).
type Notifier struct {
	socket   string
	watchdog time.Duration // WATCHDOG_USEC when it names this process; 0 off
	log      *slog.Logger
}

// NewNotifier reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. A
// NOTIFY_SOCKET that is not a unix socket path (absolute, or '@' for an
// abstract one) or a malformed WATCHDOG_USEC is an error wrapping
// ErrNotify; the returned Notifier then still works for what was valid.
// The watchdog is on only when WATCHDOG_USEC is set and WATCHDOG_PID is
// unset or this process's pid (sd_watchdog_enabled(3)).
func NewNotifier(opts NotifierOptions) (*Notifier, error) {
	getenv, getpid := opts.Getenv, opts.Getpid
	if getenv == nil {
		getenv = os.Getenv
	}
	if getpid == nil {
		getpid = os.Getpid
	}
	n := &Notifier{log: opts.Logger}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	socket := getenv("NOTIFY_SOCKET")
	if socket == "" {
		return n, nil
	}
	if socket[0] != '/' && socket[0] != '@' {
		return n, fmt.Errorf("%w: NOTIFY_SOCKET %q is not a unix socket path", ErrNotify, socket)
	}
	n.socket = socket
	usec := getenv("WATCHDOG_USEC")
	if usec == "" {
		return n, nil
	}
	if pid := getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(getpid()) {
		return n, nil // the watchdog is another process's
	}
	v, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || v == 0 {
		return n, fmt.Errorf("%w: WATCHDOG_USEC %q is not a positive number of microseconds", ErrNotify, usec)
	}
	n.watchdog = time.Duration(min(v, uint64(1<<62)/1000)) * time.Microsecond
	return n, nil
}

// Enabled reports whether messages go anywhere (NOTIFY_SOCKET is set).
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// WatchdogTimeout is WATCHDOG_USEC (the unit's WatchdogSec=) when the
// watchdog is on for this process, else 0.
func (n *Notifier) WatchdogTimeout() time.Duration {
	if !n.Enabled() {
		return 0
	}
	return n.watchdog
}

// Notify sends the states as one message, one per line. Without a socket
// it does nothing and returns nil.
func (n *Notifier) Notify(states ...string) error {
	if !n.Enabled() || len(states) == 0 {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotify, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(states, "\n"))); err != nil {
		return fmt.Errorf("%w: %w", ErrNotify, err)
	}
	return nil
}

// notifyLogged sends states and logs (never returns) a failure: a service
// manager that cannot be told is no reason to stop serving.
func (n *Notifier) notifyLogged(states ...string) {
	if err := n.Notify(states...); err != nil {
		n.log.Warn("systemd notify failed", "err", err)
	}
}

// Ready says startup is done (READY=1) with a status line.
func (n *Notifier) Ready(status string) error {
	return n.Notify(NotifyReady, statusLine(status))
}

// Stopping says a graceful shutdown began (STOPPING=1) with a status line.
func (n *Notifier) Stopping(status string) error {
	return n.Notify(NotifyStopping, statusLine(status))
}

// Status sends a free-form status line (shown by systemctl status).
func (n *Notifier) Status(status string) error {
	return n.Notify(statusLine(status))
}

// ExtendTimeout asks for d more time in the current state (start or
// stop) from now. It never shortens the unit's own TimeoutStartSec= or
// TimeoutStopSec=: systemd only times out once both have passed.
func (n *Notifier) ExtendTimeout(d time.Duration, status string) error {
	return n.Notify(notifyExtend+strconv.FormatInt(max(1, d.Microseconds()), 10), statusLine(status))
}

// statusLine is a STATUS= message; newlines would start new assignments,
// so they become spaces.
func statusLine(s string) string {
	return notifyStatus + strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
