package membership

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"time"

	"strata/ioengine"
)

// maxIDLen bounds a node ID (it travels in every gossip message).
const maxIDLen = 128

// Options configure a Membership. NodeID, BindAddr and Secret are required.
type Options struct {
	// NodeID names this node in the cluster; unique, 1 to 128 printable bytes.
	NodeID string
	// BindAddr is the gossip listener, ip:port (UDP and TCP on the same
	// port; port 0 picks a free one, which Self reports; an empty host
	// binds every interface).
	BindAddr string
	// AdvertiseAddr is the ip:port other nodes reach this one at, when it
	// differs from BindAddr (NAT, 0.0.0.0 binds). Optional.
	AdvertiseAddr string
	// HTTPAddr is this node's blob listener (where internal routes answer),
	// gossiped to the others.
	HTTPAddr string
	// Zone is the failure domain ("" when not configured).
	Zone string
	// Weight is the capacity weight for placement; 0 means 1.
	Weight float64
	// Seeds are gossip addresses (host:port) to join through. None: this
	// node starts alone and others join it.
	Seeds []string
	// Secret is the cluster secret (the secret file's bytes). The gossip
	// key is derived from it; an empty secret is refused.
	Secret []byte
	// StatePath is the file where known members are persisted, so a
	// restarted node still knows members that are down right now. ""
	// keeps them in memory only.
	StatePath string
	// FS is where StatePath lives; default ioengine.OSFS().
	FS ioengine.FS

	// LeftRetention is how long a record that a node left is kept and
	// passed on, so a node down at the time still learns it (default 7
	// days; make it longer than the longest outage you expect).
	LeftRetention time.Duration
	// Now is the clock for left records (default time.Now).
	Now func() time.Time

	// Timing tunes gossip; the zero value is memberlist's LAN defaults.
	// Tests on loopback use LoopbackTiming.
	Timing Timing

	Logger *slog.Logger
}

// Timing holds the gossip intervals. Zero fields take the defaults named.
type Timing struct {
	// GossipInterval between gossip rounds (default 200ms).
	GossipInterval time.Duration
	// ProbeInterval between failure-detector probes (default 1s);
	// ProbeTimeout waits for an ack (default 500ms).
	ProbeInterval, ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspect stays suspect before it is
	// declared dead: SuspicionMult * max(1, log10(members)) * ProbeInterval
	// (default 4).
	SuspicionMult int
	// PushPullInterval between full state exchanges (default 30s).
	PushPullInterval time.Duration
	// TCPTimeout bounds a join or push/pull connection (default 10s).
	// Close waits for at most one join attempt, so at most this long.
	TCPTimeout time.Duration
	// JoinRetryMin and JoinRetryMax bound the backoff between join
	// attempts while no seed answers (default 1s and 30s).
	JoinRetryMin, JoinRetryMax time.Duration
	// ReconnectInterval between attempts to reach dead members again, so
	// the two halves of a healed partition find each other (default 30s).
	ReconnectInterval time.Duration
	// BroadcastTimeout bounds waiting for a metadata update to go out
	// (SetDraining), and Leave when its ctx has no deadline (default 5s).
	BroadcastTimeout time.Duration
	// PersistInterval is the least time between two writes of the state
	// file, so a flapping member costs at most one fsync per interval
	// (default 1s). Close writes it once more.
	PersistInterval time.Duration
	// DeadNodeReclaim: a node that restarts under the same ID at a new
	// address is accepted once its old record has been dead this long
	// (default 30s).
	DeadNodeReclaim time.Duration
	// GossipToTheDead is how long memberlist keeps gossiping to, and
	// exchanging the state of, a dead node before it forgets it (default
	// 30s). The dead member stays a Member; its record travels in this
	// package's own push/pull payload from then on.
	GossipToTheDead time.Duration
}

// LoopbackTiming is gossip scaled down for tests on one machine: joins,
// failures and metadata converge in well under a second.
func LoopbackTiming() Timing {
	return Timing{
		GossipInterval:    20 * time.Millisecond,
		ProbeInterval:     100 * time.Millisecond,
		ProbeTimeout:      50 * time.Millisecond,
		SuspicionMult:     3,
		PushPullInterval:  500 * time.Millisecond,
		TCPTimeout:        500 * time.Millisecond,
		JoinRetryMin:      50 * time.Millisecond,
		JoinRetryMax:      200 * time.Millisecond,
		ReconnectInterval: 200 * time.Millisecond,
		BroadcastTimeout:  time.Second,
		DeadNodeReclaim:   time.Second,
		PersistInterval:   10 * time.Millisecond,
	}
}

func (t *Timing) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.GossipInterval, 200*time.Millisecond)
	def(&t.ProbeInterval, time.Second)
	def(&t.ProbeTimeout, 500*time.Millisecond)
	if t.SuspicionMult <= 0 {
		t.SuspicionMult = 4
	}
	def(&t.PushPullInterval, 30*time.Second)
	def(&t.TCPTimeout, 10*time.Second)
	def(&t.JoinRetryMin, time.Second)
	def(&t.JoinRetryMax, 30*time.Second)
	t.JoinRetryMax = max(t.JoinRetryMax, t.JoinRetryMin)
	def(&t.ReconnectInterval, 30*time.Second)
	def(&t.BroadcastTimeout, 5*time.Second)
	def(&t.DeadNodeReclaim, 30*time.Second)
	def(&t.GossipToTheDead, 30*time.Second)
	def(&t.PersistInterval, time.Second)
}

// setDefaults fills defaults and checks what New needs; errors wrap
// ErrInvalidOptions or ErrNoSecret.
func (o *Options) setDefaults() error {
	if err := validateID(o.NodeID); err != nil {
		return fmt.Errorf("%w: node id: %w", ErrInvalidOptions, err)
	}
	if len(o.Secret) == 0 {
		return ErrNoSecret
	}
	if host, _, err := splitHostPort(o.BindAddr); err != nil {
		return fmt.Errorf("%w: bind address: %w", ErrInvalidOptions, err)
	} else if host != "" && net.ParseIP(host) == nil {
		// memberlist binds IPs only; resolving here would pick one of a
		// name's addresses behind the operator's back.
		return fmt.Errorf("%w: bind address %q: the host must be an IP address", ErrInvalidOptions, o.BindAddr)
	}
	if o.AdvertiseAddr != "" {
		if host, _, err := splitHostPort(o.AdvertiseAddr); err != nil {
			return fmt.Errorf("%w: advertise address: %w", ErrInvalidOptions, err)
		} else if net.ParseIP(host) == nil {
			return fmt.Errorf("%w: advertise address %q: the host must be an IP address", ErrInvalidOptions, o.AdvertiseAddr)
		}
	}
	if o.Weight == 0 {
		o.Weight = 1
	}
	if math.IsNaN(o.Weight) || math.IsInf(o.Weight, 0) || o.Weight < 0 {
		return fmt.Errorf("%w: weight %v: must be finite and greater than zero", ErrInvalidOptions, o.Weight)
	}
	if o.LeftRetention <= 0 {
		o.LeftRetention = 7 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FS == nil {
		o.FS = ioengine.OSFS()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Timing.setDefaults()
	return nil
}

// validateID checks a node ID: 1 to maxIDLen printable UTF-8 bytes.
func validateID(id string) error {
	if id == "" {
		return fmt.Errorf("empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("%d bytes, at most %d", len(id), maxIDLen)
	}
	if !printable(id) {
		return fmt.Errorf("%q is not printable UTF-8", id)
	}
	return nil
}

// splitHostPort parses host:port with a numeric port.
func splitHostPort(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q: want 0 to 65535", portText)
	}
	return host, port, nil
}
