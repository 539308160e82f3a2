package node

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// ClusterConfig is the [cluster] table: how this node finds and joins the
// others, and how many copies of each blob the cluster keeps. The node id
// stays the top-level node_id. Cluster mode is on when gossip or join is
// set; otherwise the node is alone (N = W = R = 1) and nothing here is used.
type ClusterConfig struct {
	// Gossip is the host:port the gossip (memberlist) listener binds, TCP
	// and UDP. Default, when only Join is given: the listen host, port
	// 7946.
	Gossip string `toml:"gossip"`
	// GossipAdvertise is the gossip address the other nodes reach; default
	// Gossip (required when Gossip binds an unspecified address such as
	// 0.0.0.0).
	GossipAdvertise string `toml:"gossip_advertise"`
	// HTTPAdvertise is the blob listener's address as the other nodes
	// reach it (internal replica routes live there); default Listen
	// (required when Listen binds an unspecified address).
	HTTPAdvertise string `toml:"http_advertise"`
	// Join lists the gossip addresses of seed nodes. A node whose seeds do
	// not answer still starts and keeps trying.
	Join []string `toml:"join"`
	// Replicas (N), WriteQuorum (W), ReadQuorum (R). 0 takes the default:
	// 3, 2, 2 in cluster mode (fewer when N is set lower: W and R default
	// to min(2, N)); 1 alone, where other values are refused.
	Replicas    int `toml:"replicas"`
	WriteQuorum int `toml:"write_quorum"`
	ReadQuorum  int `toml:"read_quorum"`
	// SecretFile holds the cluster secret (at least 16 bytes; surrounding
	// whitespace is ignored). Gossip encryption and the internal routes'
	// HMAC keys derive from it. Required in cluster mode.
	SecretFile string `toml:"secret_file"`
	// Zone is this node's failure domain; "" when not configured.
	Zone string `toml:"zone"`
	// Weight is this node's capacity weight in placement. Default 1.
	Weight float64 `toml:"weight"`
	// ReplicaTimeout: a replica request that makes no progress this long
	// counts as failed and is hinted. Default 10s.
	ReplicaTimeout time.Duration `toml:"replica_timeout"`
	// HintsMaxBytes bounds the durable hint store. Default 64MiB.
	HintsMaxBytes ByteSize `toml:"hints_max_bytes"`
	// HintReplayRate bounds hint replays per second. Default 1000.
	HintReplayRate float64 `toml:"hint_replay_rate"`
	// HintReplayConcurrency bounds the hint replays in flight at once.
	// Default 8.
	HintReplayConcurrency int `toml:"hint_replay_concurrency"`
	// AntiEntropyInterval is the pause between anti-entropy rounds with
	// each peer (a peer that becomes reachable gets one at once). Default
	// 1m.
	AntiEntropyInterval time.Duration `toml:"anti_entropy_interval"`
	// AntiEntropyRate bounds the bytes per second this node's background
	// copies move together: anti-entropy pulls, hint replays, rebalancing
	// pushes. Default 32MiB.
	AntiEntropyRate ByteSize `toml:"anti_entropy_rate"`
	// AntiEntropyConcurrency bounds an anti-entropy round's pulls in
	// flight at once. Default 8.
	AntiEntropyConcurrency int `toml:"anti_entropy_concurrency"`
	// TombstoneGrace is how long a tombstone is kept at least. Default
	// 240h (10 days): longer than any outage you expect.
	TombstoneGrace time.Duration `toml:"tombstone_grace"`
	// GossipTiming is "lan" (memberlist's LAN defaults: a dead node is
	// declared in a few seconds) or "loopback" (everything scaled down
	// about tenfold, for clusters on one machine and tests: more gossip
	// packets, failures seen in well under a second). Default "lan".
	GossipTiming string `toml:"gossip_timing"`
	// Decommission drains the node as soon as it has started (its keys
	// move to their new homes), then leaves the cluster and exits: the
	// config-file form of `strata leave`.
	Decommission bool `toml:"decommission"`
}

// Defaults of the [cluster] table.
const (
	DefaultGossipPort          = 7946
	DefaultReplicas            = 3
	DefaultClusterQuorum       = 2
	DefaultReplicaTimeout      = 10 * time.Second
	DefaultHintsMaxBytes       = 64 << 20
	DefaultAntiEntropyInterval = time.Minute
	DefaultHintReplayRate      = 1000
	DefaultAntiEntropyRate     = 32 << 20
	// DefaultBackgroundConcurrency is hint_replay_concurrency's and
	// anti_entropy_concurrency's default: copies in flight at once, so
	// their replica writes share group commits.
	DefaultBackgroundConcurrency = 8
	DefaultTombstoneGrace        = 10 * 24 * time.Hour
	// maxBackgroundConcurrency bounds hint_replay_concurrency and
	// anti_entropy_concurrency.
	maxBackgroundConcurrency = 256
	// MinClusterSecretLen is the shortest cluster secret accepted.
	MinClusterSecretLen = 16
	// clusterAdminPortOffset moves the admin listener of a cluster node
	// away from its blob port (AdminAddress).
	clusterAdminPortOffset = 1000
)

// Values of cluster.gossip_timing.
const (
	GossipTimingLAN      = "lan"
	GossipTimingLoopback = "loopback"
)

// DefaultAdminListen is admin_listen's default.
const DefaultAdminListen = "127.0.0.1:7071"

func defaultClusterConfig() ClusterConfig {
	return ClusterConfig{
		Weight:              1,
		GossipTiming:        GossipTimingLAN,
		ReplicaTimeout:      DefaultReplicaTimeout,
		HintsMaxBytes:       DefaultHintsMaxBytes,
		AntiEntropyInterval: DefaultAntiEntropyInterval,
		TombstoneGrace:      DefaultTombstoneGrace,

		HintReplayRate:         DefaultHintReplayRate,
		HintReplayConcurrency:  DefaultBackgroundConcurrency,
		AntiEntropyRate:        DefaultAntiEntropyRate,
		AntiEntropyConcurrency: DefaultBackgroundConcurrency,
	}
}

// Enabled reports whether the node runs in cluster mode.
func (c ClusterConfig) Enabled() bool { return c.Gossip != "" || len(c.Join) > 0 }

// Quorums returns N, W and R with the defaults applied (1, 1, 1 alone).
func (c ClusterConfig) Quorums() (n, w, r int) {
	if !c.Enabled() {
		return max(c.Replicas, 1), max(c.WriteQuorum, 1), max(c.ReadQuorum, 1)
	}
	n, w, r = c.Replicas, c.WriteQuorum, c.ReadQuorum
	if n == 0 {
		n = DefaultReplicas
	}
	if w == 0 {
		w = min(DefaultClusterQuorum, n)
	}
	if r == 0 {
		r = min(DefaultClusterQuorum, n)
	}
	return n, w, r
}

// GossipAddress is the gossip bind address with its default: the listen
// host at DefaultGossipPort when only join is given.
func (c Config) GossipAddress() string {
	if c.Cluster.Gossip != "" {
		return c.Cluster.Gossip
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(DefaultGossipPort))
}

// GossipAdvertiseAddress is the gossip address other nodes reach.
func (c Config) GossipAdvertiseAddress() string {
	if c.Cluster.GossipAdvertise != "" {
		return c.Cluster.GossipAdvertise
	}
	return c.GossipAddress()
}

// HTTPAdvertiseAddress is the blob address other nodes reach.
func (c Config) HTTPAdvertiseAddress() string {
	if c.Cluster.HTTPAdvertise != "" {
		return c.Cluster.HTTPAdvertise
	}
	return c.Listen
}

// AdminAddress is the admin listener's address. In cluster mode, when
// admin_listen was left at its default, it is the loopback at the listen
// port + 1000 (7070 -> 8070, 7001 -> 8001), so several nodes on one machine
// started with distinct --listen ports never collide on 127.0.0.1:7071. Set
// admin_listen (or --admin-listen) to choose another one.
func (c Config) AdminAddress() string {
	if !c.Cluster.Enabled() || c.adminListenGiven || c.AdminListen != DefaultAdminListen {
		return c.AdminListen
	}
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return c.AdminListen
	}
	p, err := strconv.Atoi(port)
	if err != nil || p == 0 || p+clusterAdminPortOffset > 65535 {
		return "off" // no port to derive from: say so in the log, set admin_listen
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p+clusterAdminPortOffset))
}

// SetAdminListen sets admin_listen as given by the operator (a flag): it
// is then used as is, also in cluster mode.
func (c *Config) SetAdminListen(addr string) {
	c.AdminListen = addr
	c.adminListenGiven = true
}

// validateCluster adds the [cluster] table's problems to bad.
func (c Config) validateCluster(bad func(format string, args ...any)) {
	cl := c.Cluster
	if !cl.Enabled() {
		for name, v := range map[string]int{"replicas": cl.Replicas, "write_quorum": cl.WriteQuorum, "read_quorum": cl.ReadQuorum} {
			if v != 0 && v != 1 {
				bad("cluster.%s = %d needs cluster mode (set cluster.gossip or cluster.join); a node alone keeps one copy", name, v)
			}
		}
		return
	}
	checkAddr := func(name, addr string, needHost bool) {
		host, port, err := net.SplitHostPort(addr)
		switch {
		case err != nil:
			bad("%s %q: %v", name, addr, err)
		case port == "" || port == "0":
			bad("%s %q: a fixed port is needed (the other nodes dial it)", name, addr)
		case needHost && (host == "" || net.ParseIP(host).IsUnspecified()):
			bad("%s %q: not an address other nodes can reach", name, addr)
		}
	}
	checkAddr("cluster.gossip", c.GossipAddress(), false)
	checkAddr("cluster.gossip_advertise (default cluster.gossip)", c.GossipAdvertiseAddress(), true)
	checkAddr("cluster.http_advertise (default listen)", c.HTTPAdvertiseAddress(), true)
	for i, j := range cl.Join {
		checkAddr(fmt.Sprintf("cluster.join[%d]", i), j, true)
	}
	n, w, r := cl.Quorums()
	switch {
	case n < 1:
		bad("cluster.replicas %d: want at least 1", n)
	case w < 1 || w > n:
		bad("cluster.write_quorum %d: want 1 <= W <= replicas (%d)", w, n)
	case r < 1 || r > n:
		bad("cluster.read_quorum %d: want 1 <= R <= replicas (%d)", r, n)
	}
	if cl.SecretFile == "" {
		bad("cluster mode needs cluster.secret_file (--cluster-secret-file): a file of at least %d random bytes, the same on every node, e.g. head -c 32 /dev/urandom | base64 > secret", MinClusterSecretLen)
	}
	if !(cl.Weight > 0) {
		bad("cluster.weight %v: want > 0", cl.Weight)
	}
	for name, v := range map[string]time.Duration{
		"cluster.replica_timeout":       cl.ReplicaTimeout,
		"cluster.anti_entropy_interval": cl.AntiEntropyInterval,
		"cluster.tombstone_grace":       cl.TombstoneGrace,
	} {
		if v <= 0 {
			bad("%s must be positive", name)
		}
	}
	if cl.GossipTiming != GossipTimingLAN && cl.GossipTiming != GossipTimingLoopback {
		bad("cluster.gossip_timing %q: want %q or %q", cl.GossipTiming, GossipTimingLAN, GossipTimingLoopback)
	}
	if cl.HintsMaxBytes <= 0 {
		bad("cluster.hints_max_bytes must be positive")
	}
	if !(cl.HintReplayRate > 0) {
		bad("cluster.hint_replay_rate %v: want replays per second > 0", cl.HintReplayRate)
	}
	if cl.AntiEntropyRate <= 0 {
		bad("cluster.anti_entropy_rate must be positive (bytes per second)")
	}
	for name, v := range map[string]int{
		"cluster.hint_replay_concurrency":  cl.HintReplayConcurrency,
		"cluster.anti_entropy_concurrency": cl.AntiEntropyConcurrency,
	} {
		if v < 1 || v > maxBackgroundConcurrency {
			bad("%s %d: want 1 to %d", name, v, maxBackgroundConcurrency)
		}
	}
}

// ErrClusterSecret: the cluster secret file is missing, unreadable or too short.
var ErrClusterSecret = errors.New("node: cluster secret")

// LoadClusterSecret reads the secret file, without surrounding whitespace
// (so an editor's trailing newline on one node does not split the
// cluster). warning is non-empty when the file is readable by others than
// its owner: the secret opens the internal routes and decrypts gossip.
func (c ClusterConfig) LoadClusterSecret() (secret []byte, warning string, err error) {
	if c.SecretFile == "" {
		return nil, "", fmt.Errorf("%w: no cluster.secret_file", ErrClusterSecret)
	}
	fi, err := os.Stat(c.SecretFile)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrClusterSecret, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%w: %s is not a regular file", ErrClusterSecret, c.SecretFile)
	}
	b, err := os.ReadFile(c.SecretFile)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrClusterSecret, err)
	}
	secret = bytes.TrimSpace(b)
	if len(secret) < MinClusterSecretLen {
		return nil, "", fmt.Errorf("%w: %s holds %d bytes, want at least %d", ErrClusterSecret, c.SecretFile, len(secret), MinClusterSecretLen)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		warning = fmt.Sprintf("cluster secret file %s has mode %#o: readable by others than its owner; chmod 600 it", c.SecretFile, perm)
	}
	return secret, warning, nil
}
