package node

import (
	"fmt"
	"net"
	"os"
)

// Systemd notification states (sd_notify(3)).
const (
	NotifyReady    = "READY=1"
	NotifyStopping = "STOPPING=1"
)

// NotifySystemd sends state to the service manager when NOTIFY_SOCKET is
// set (Type=notify units); it reports whether a message was sent. Without
// NOTIFY_SOCKET it does nothing. A leading '@' names an abstract socket.
func NotifySystemd(state string) (bool, error) {
	return notifySocket(os.Getenv("NOTIFY_SOCKET"), state)
}

func notifySocket(path, state string) (bool, error) {
	if path == "" {
		return false, nil
	}
	if path[0] != '/' && path[0] != '@' {
		return false, fmt.Errorf("node: NOTIFY_SOCKET %q: not a unix socket path", path)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("node: notify systemd: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("node: notify systemd: %w", err)
	}
	return true, nil
}
