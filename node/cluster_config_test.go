package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clusterConfig is a valid cluster-mode config: the defaults plus gossip,
// a seed and a secret file.
func clusterConfig() Config {
	c := DefaultConfig("/data")
	c.Cluster.Gossip = "127.0.0.1:7946"
	c.Cluster.Join = []string{"127.0.0.1:7947"}
	c.Cluster.SecretFile = "/etc/strata/secret"
	return c
}

func TestValidateCluster(t *testing.T) {
	token := Token{Name: "t", Token: "0123456789abcdef", Scope: ScopeReadWrite}
	for _, tc := range []struct {
		name   string
		base   func() Config
		mutate func(*Config)
		err    string // substring; "" = valid
	}{
		{"cluster defaults", clusterConfig, func(*Config) {}, ""},
		{"alone: replicas refused", func() Config { return DefaultConfig("/data") }, func(c *Config) { c.Cluster.Replicas = 3 }, "needs cluster mode"},
		{"alone: write quorum refused", func() Config { return DefaultConfig("/data") }, func(c *Config) { c.Cluster.WriteQuorum = 2 }, "needs cluster mode"},
		{"alone: ones accepted", func() Config { return DefaultConfig("/data") }, func(c *Config) { c.Cluster.Replicas, c.Cluster.ReadQuorum = 1, 1 }, ""},
		{"join only: gossip defaults", clusterConfig, func(c *Config) { c.Cluster.Gossip = "" }, ""},
		{"no secret", clusterConfig, func(c *Config) { c.Cluster.SecretFile = "" }, "secret_file"},
		{"W above N", clusterConfig, func(c *Config) { c.Cluster.WriteQuorum = 4 }, "write_quorum 4"},
		{"R above N", clusterConfig, func(c *Config) { c.Cluster.Replicas = 2; c.Cluster.ReadQuorum = 3 }, "read_quorum 3"},
		{"N=1 takes W=R=1", clusterConfig, func(c *Config) { c.Cluster.Replicas = 1 }, ""},
		{"negative N", clusterConfig, func(c *Config) { c.Cluster.Replicas = -1 }, "replicas -1"},
		{"zero weight", clusterConfig, func(c *Config) { c.Cluster.Weight = 0 }, "weight"},
		{"bad gossip", clusterConfig, func(c *Config) { c.Cluster.Gossip = "7946" }, "cluster.gossip"},
		{"gossip port 0", clusterConfig, func(c *Config) { c.Cluster.Gossip = "127.0.0.1:0" }, "fixed port"},
		{"gossip on all interfaces needs advertise", clusterConfig, func(c *Config) { c.Cluster.Gossip = "0.0.0.0:7946" }, "gossip_advertise"},
		{"gossip on all interfaces with advertise", clusterConfig, func(c *Config) {
			c.Cluster.Gossip, c.Cluster.GossipAdvertise = "0.0.0.0:7946", "10.0.0.1:7946"
		}, ""},
		{"listen on all interfaces needs http_advertise", clusterConfig, func(c *Config) {
			c.Listen = "0.0.0.0:7070"
			c.Auth.Tokens = []Token{token}
		}, "http_advertise"},
		{"listen on all interfaces with http_advertise", clusterConfig, func(c *Config) {
			c.Listen, c.Cluster.HTTPAdvertise = "0.0.0.0:7070", "10.0.0.1:7070"
			c.Auth.Tokens = []Token{token}
		}, ""},
		{"bad seed", clusterConfig, func(c *Config) { c.Cluster.Join = []string{"host-without-port"} }, "cluster.join[0]"},
		{"zero replica timeout", clusterConfig, func(c *Config) { c.Cluster.ReplicaTimeout = 0 }, "replica_timeout"},
		{"zero grace", clusterConfig, func(c *Config) { c.Cluster.TombstoneGrace = 0 }, "tombstone_grace"},
		{"zero interval", clusterConfig, func(c *Config) { c.Cluster.AntiEntropyInterval = -time.Second }, "anti_entropy_interval"},
		{"loopback timing", clusterConfig, func(c *Config) { c.Cluster.GossipTiming = GossipTimingLoopback }, ""},
		{"bad timing", clusterConfig, func(c *Config) { c.Cluster.GossipTiming = "wan" }, "gossip_timing"},
		{"zero hints", clusterConfig, func(c *Config) { c.Cluster.HintsMaxBytes = 0 }, "hints_max_bytes"},
		{"zero hint replay rate", clusterConfig, func(c *Config) { c.Cluster.HintReplayRate = 0 }, "hint_replay_rate"},
		{"zero anti-entropy rate", clusterConfig, func(c *Config) { c.Cluster.AntiEntropyRate = 0 }, "anti_entropy_rate"},
		{"zero hint concurrency", clusterConfig, func(c *Config) { c.Cluster.HintReplayConcurrency = 0 }, "hint_replay_concurrency"},
		{"huge anti-entropy concurrency", clusterConfig, func(c *Config) { c.Cluster.AntiEntropyConcurrency = 1000 }, "anti_entropy_concurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.base()
			tc.mutate(&c)
			err := c.Validate()
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
		})
	}
}

func TestClusterQuorums(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     ClusterConfig
		n, w, r int
	}{
		{"alone", ClusterConfig{}, 1, 1, 1},
		{"cluster defaults", ClusterConfig{Gossip: "127.0.0.1:7946"}, 3, 2, 2},
		{"join only", ClusterConfig{Join: []string{"127.0.0.1:7946"}}, 3, 2, 2},
		{"N=1", ClusterConfig{Gossip: "x:1", Replicas: 1}, 1, 1, 1},
		{"N=5", ClusterConfig{Gossip: "x:1", Replicas: 5}, 5, 2, 2},
		{"N=5 W=3 R=3", ClusterConfig{Gossip: "x:1", Replicas: 5, WriteQuorum: 3, ReadQuorum: 3}, 5, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, w, r := tc.cfg.Quorums()
			if n != tc.n || w != tc.w || r != tc.r {
				t.Fatalf("Quorums() = %d, %d, %d; want %d, %d, %d", n, w, r, tc.n, tc.w, tc.r)
			}
		})
	}
}

func TestClusterAdminAddress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"alone keeps the default", func(c *Config) { c.Cluster = defaultClusterConfig() }, "127.0.0.1:7071"},
		{"cluster moves the default by 1000", func(*Config) {}, "127.0.0.1:8070"},
		{"follows the listen port", func(c *Config) { c.Listen = "127.0.0.1:7001" }, "127.0.0.1:8001"},
		{"a flag is kept", func(c *Config) { c.SetAdminListen("127.0.0.1:7071") }, "127.0.0.1:7071"},
		{"another address is kept", func(c *Config) { c.AdminListen = "127.0.0.1:9000" }, "127.0.0.1:9000"},
		{"off is kept", func(c *Config) { c.AdminListen = "off" }, "off"},
		{"no room above the port", func(c *Config) { c.Listen = "127.0.0.1:65000" }, "off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clusterConfig()
			tc.mutate(&c)
			if got := c.AdminAddress(); got != tc.want {
				t.Fatalf("AdminAddress() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoadConfigClusterTable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "strata.toml")
	const file = `listen = "127.0.0.1:7001"
admin_listen = "127.0.0.1:7071"
node_id = "n1"
[cluster]
gossip = "127.0.0.1:7946"
join = ["127.0.0.1:7947", "127.0.0.1:7948"]
replicas = 3
write_quorum = 2
read_quorum = 2
secret_file = "/etc/strata/secret"
zone = "rack1"
weight = 2.5
replica_timeout = "3s"
hints_max_bytes = "8MiB"
anti_entropy_interval = "30s"
tombstone_grace = "48h"
hint_replay_rate = 250.5
hint_replay_concurrency = 3
anti_entropy_rate = "4MiB"
anti_entropy_concurrency = 5
`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cl := c.Cluster
	if !cl.Enabled() || c.NodeID != "n1" || len(cl.Join) != 2 || cl.Zone != "rack1" || cl.Weight != 2.5 ||
		cl.ReplicaTimeout != 3*time.Second || cl.HintsMaxBytes != 8<<20 || cl.AntiEntropyInterval != 30*time.Second ||
		cl.TombstoneGrace != 48*time.Hour || cl.SecretFile != "/etc/strata/secret" ||
		cl.HintReplayRate != 250.5 || cl.HintReplayConcurrency != 3 || cl.AntiEntropyRate != 4<<20 || cl.AntiEntropyConcurrency != 5 {
		t.Fatalf("cluster table read as %+v", cl)
	}
	// admin_listen written in the file is kept even at its default value.
	if got := c.AdminAddress(); got != "127.0.0.1:7071" {
		t.Fatalf("AdminAddress() = %q, want the file's 127.0.0.1:7071", got)
	}
}

func TestLoadClusterSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "  0123456789abcdef0123\n", 0o600)
	for _, tc := range []struct {
		name    string
		path    string
		secret  string
		warning bool
		err     bool
	}{
		{"trimmed", good, "0123456789abcdef0123", false, false},
		{"none", "", "", false, true},
		{"missing", filepath.Join(dir, "missing"), "", false, true},
		{"directory", dir, "", false, true},
		{"short", write("short", "abc\n", 0o600), "", false, true},
		{"world readable warns", write("open", "0123456789abcdef", 0o644), "0123456789abcdef", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret, warning, err := ClusterConfig{SecretFile: tc.path}.LoadClusterSecret()
			if tc.err {
				if err == nil || !errors.Is(err, ErrClusterSecret) {
					t.Fatalf("err %v, want ErrClusterSecret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(secret) != tc.secret || (warning != "") != tc.warning {
				t.Fatalf("secret %q warning %q; want %q, warning %v", secret, warning, tc.secret, tc.warning)
			}
		})
	}
}
