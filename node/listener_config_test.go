package node

import (
	"testing"
	"time"
)

// intp and durp point at a value, for the [http.read] and [http.write] keys.
func intp(v int) *int                     { return &v }
func durp(v time.Duration) *time.Duration { return &v }

// withClusterMode turns cluster mode on with a valid [cluster] table.
func withClusterMode(c *Config) {
	c.Listen = "127.0.0.1:7070"
	c.Cluster.Gossip = "127.0.0.1:7946"
	c.Cluster.SecretFile = "/etc/strata/secret"
}

// checkSplit checks the split.toml of TestLoadConfig: [http.read] and
// [http.write] override [http] key by key; what they leave out follows
// [http], wherever in the file it is set.
func checkSplit(t *testing.T, c Config) {
	pick := func(h HTTPConfig) HTTPConfig {
		return HTTPConfig{MaxConnections: h.MaxConnections, MaxConnectionsPerClient: h.MaxConnectionsPerClient,
			ProgressTimeout: h.ProgressTimeout, IdleTimeout: h.IdleTimeout, ReadHeaderTimeout: h.ReadHeaderTimeout}
	}
	read := HTTPConfig{MaxConnections: 2000, MaxConnectionsPerClient: 256, ProgressTimeout: 20 * time.Second, IdleTimeout: 5 * time.Second, ReadHeaderTimeout: 10 * time.Second}
	write := HTTPConfig{MaxConnections: 64, MaxConnectionsPerClient: 0, ProgressTimeout: 2 * time.Minute, IdleTimeout: 120 * time.Second, ReadHeaderTimeout: 3 * time.Second}
	if got := pick(c.ReadHTTP()); got != read {
		t.Errorf("read listener bounds %+v, want %+v", got, read)
	}
	if got := pick(c.WriteHTTP()); got != write {
		t.Errorf("write listener bounds %+v, want %+v", got, write)
	}
	if c.ListenRead != "127.0.0.1:8080" || c.ListenWrite != "127.0.0.1:8081" || !c.ReadOnly || c.HTTP.MaxConnections != 1000 {
		t.Errorf("split config %+v", c)
	}
	if c.HTTP.MaxHeaderBytes != c.ReadHTTP().MaxHeaderBytes || c.HTTP.LimitLoopbackClients != c.WriteHTTP().LimitLoopbackClients {
		t.Errorf("keys without a split value differ from [http]")
	}
	// Without the tables, both follow [http].
	d := DefaultConfig("")
	if d.ReadHTTP() != d.WriteHTTP() || d.ReadHTTP().MaxConnections != d.HTTP.MaxConnections || d.WriteHTTP().ProgressTimeout != d.HTTP.ProgressTimeout {
		t.Errorf("default split bounds differ from [http]: %+v %+v", d.ReadHTTP(), d.WriteHTTP())
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
