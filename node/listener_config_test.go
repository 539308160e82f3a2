package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateListeners(t *testing.T) {
	token := Token{Name: "t", Token: "0123456789abcdef", Scope: ScopeReadWrite}
	n := func(v int) *int { return &v }
	d := func(v time.Duration) *time.Duration { return &v }
	cluster := func(c *Config) {
		c.Listen = "127.0.0.1:7070"
		c.Cluster.Gossip = "127.0.0.1:7946"
		c.Cluster.SecretFile = "/etc/strata/secret"
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		err    string // substring; "" = valid
	}{
		{"split on loopback", func(c *Config) { c.ListenRead, c.ListenWrite = "127.0.0.1:8080", "127.0.0.1:8081" }, ""},
		{"read only", func(c *Config) { c.ListenRead = "127.0.0.1:8080" }, ""},
		{"write only", func(c *Config) { c.ListenWrite = "[::1]:8081" }, ""},
		{"fresh ports", func(c *Config) { c.Listen, c.ListenRead, c.ListenWrite = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0" }, ""},
		{"read-only mode", func(c *Config) { c.ReadOnly = true }, ""},
		{"bad read address", func(c *Config) { c.ListenRead = "8080" }, `listen_read "8080"`},
		{"bad write address", func(c *Config) { c.ListenWrite = "localhost" }, `listen_write "localhost"`},
		{"public read without tokens", func(c *Config) { c.ListenRead = "0.0.0.0:8080" }, "non-loopback"},
		{"public write without tokens", func(c *Config) { c.ListenWrite = ":8081" }, "non-loopback"},
		{"public split with tokens", func(c *Config) {
			c.Listen, c.ListenRead, c.ListenWrite = "10.0.0.1:7070", "0.0.0.0:8080", "0.0.0.0:8081"
			c.Auth.Tokens = []Token{token}
		}, ""},
		{"read on listen", func(c *Config) { c.ListenRead = c.Listen }, "binds the same address as listen"},
		{"write on admin", func(c *Config) { c.ListenWrite = DefaultAdminListen }, "binds the same address as admin_listen"},
		{"read and write together", func(c *Config) { c.ListenRead, c.ListenWrite = "127.0.0.1:8080", "127.0.0.1:8080" }, "listen_write \"127.0.0.1:8080\" binds the same address as listen_read"},
		{"same port, all interfaces", func(c *Config) {
			c.ListenRead, c.ListenWrite = "0.0.0.0:8080", "10.0.0.1:8080"
			c.Auth.Tokens = []Token{token}
		}, "binds the same address as listen_read"},
		{"same port, other hosts", func(c *Config) {
			c.ListenRead, c.ListenWrite = "10.0.0.1:8080", "10.0.0.2:8080"
			c.Auth.Tokens = []Token{token}
		}, ""},
		{"same IP spelled twice", func(c *Config) { c.ListenRead, c.ListenWrite = "[::1]:8080", "[0:0::1]:8080" }, "binds the same address"},
		{"read table", func(c *Config) {
			c.ListenRead = "127.0.0.1:8080"
			c.HTTP.Read = ListenerHTTPConfig{MaxConnections: n(64), MaxConnectionsPerClient: n(0), ProgressTimeout: d(time.Second)}
		}, ""},
		{"zero read connections", func(c *Config) { c.HTTP.Read.MaxConnections = n(0) }, "http.read.max_connections must be positive"},
		{"negative write per-client", func(c *Config) { c.HTTP.Write.MaxConnectionsPerClient = n(-1) }, "http.write.max_connections_per_client is negative"},
		{"zero write progress", func(c *Config) { c.HTTP.Write.ProgressTimeout = d(0) }, "http.write.progress_timeout must be positive"},
		{"negative read idle", func(c *Config) { c.HTTP.Read.IdleTimeout = d(-time.Second) }, "http.read.idle_timeout must be positive"},
		{"zero write header timeout", func(c *Config) { c.HTTP.Write.ReadHeaderTimeout = d(0) }, "http.write.read_header_timeout"},
		{"cluster with split listeners", func(c *Config) {
			cluster(c)
			c.ListenRead, c.ListenWrite = "127.0.0.1:8080", "127.0.0.1:8081"
		}, ""},
		{"cluster advertising the write listener", func(c *Config) {
			cluster(c)
			c.ListenWrite, c.Cluster.HTTPAdvertise = "127.0.0.1:8081", "127.0.0.1:8081"
		}, "internal replica routes are only on listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig("/data")
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
			if strings.Contains(tc.err, "non-loopback") && !errors.Is(err, ErrInsecureListen) {
				t.Fatalf("err %v does not wrap ErrInsecureListen", err)
			}
		})
	}
}

// [http.read] and [http.write] override [http] key by key; what they leave
// out follows [http], wherever in the file it is set.
func TestLoadListenerConfig(t *testing.T) {
	for _, tc := range []struct {
		name        string
		toml        string
		read, write HTTPConfig // only the fields compared below
		readOnly    bool
		err         string
	}{
		{
			name:  "defaults",
			toml:  `listen_read = "127.0.0.1:8080"`,
			read:  HTTPConfig{MaxConnections: 4096, MaxConnectionsPerClient: 256, ProgressTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, ReadHeaderTimeout: 10 * time.Second},
			write: HTTPConfig{MaxConnections: 4096, MaxConnectionsPerClient: 256, ProgressTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, ReadHeaderTimeout: 10 * time.Second},
		},
		{
			name: "tables over http",
			toml: `listen_read = "127.0.0.1:8080"
listen_write = "127.0.0.1:8081"
read_only = true
[http]
max_connections = 1000
progress_timeout = "20s"
[http.read]
max_connections = 2000
idle_timeout = "5s"
[http.write]
max_connections = 64
max_connections_per_client = 0
progress_timeout = "2m"
read_header_timeout = "3s"
`,
			read:     HTTPConfig{MaxConnections: 2000, MaxConnectionsPerClient: 256, ProgressTimeout: 20 * time.Second, IdleTimeout: 5 * time.Second, ReadHeaderTimeout: 10 * time.Second},
			write:    HTTPConfig{MaxConnections: 64, MaxConnectionsPerClient: 0, ProgressTimeout: 2 * time.Minute, IdleTimeout: 120 * time.Second, ReadHeaderTimeout: 3 * time.Second},
			readOnly: true,
		},
		{name: "unknown key in a table", toml: "[http.read]\nmax_conections = 3\n", err: "unknown keys: http.read.max_conections"},
		{name: "bad duration", toml: "[http.write]\nprogress_timeout = \"soon\"\n", err: "config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.toml")
			if err := os.WriteFile(path, []byte(tc.toml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := LoadConfig(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			pick := func(h HTTPConfig) HTTPConfig {
				return HTTPConfig{MaxConnections: h.MaxConnections, MaxConnectionsPerClient: h.MaxConnectionsPerClient,
					ProgressTimeout: h.ProgressTimeout, IdleTimeout: h.IdleTimeout, ReadHeaderTimeout: h.ReadHeaderTimeout}
			}
			if got := pick(c.ReadHTTP()); got != tc.read {
				t.Errorf("read listener bounds %+v, want %+v", got, tc.read)
			}
			if got := pick(c.WriteHTTP()); got != tc.write {
				t.Errorf("write listener bounds %+v, want %+v", got, tc.write)
			}
			if c.ReadOnly != tc.readOnly {
				t.Errorf("read_only %v, want %v", c.ReadOnly, tc.readOnly)
			}
			if c.HTTP.MaxHeaderBytes != c.ReadHTTP().MaxHeaderBytes || c.HTTP.LimitLoopbackClients != c.WriteHTTP().LimitLoopbackClients {
				t.Errorf("keys without a split value differ from [http]")
			}
		})
	}
}

// The memory budget counts the split listeners' connections too.
func TestMemoryBudgetCountsSplitListeners(t *testing.T) {
	c := DefaultConfig("/data")
	alone := c.MemoryBudget().Connections
	n := 100
	c.ListenWrite, c.HTTP.Write.MaxConnections = "127.0.0.1:8081", &n
	if got, want := c.MemoryBudget().Connections, alone+100*connectionBytes; got != want {
		t.Fatalf("connections budget %d with a write listener of 100, want %d", got, want)
	}
}
