package node

import (
	"net"
	"strconv"
	"time"
)

// ListenerHTTPConfig is an [http.read] or [http.write] table: the
// connection limit and timeouts of a split listener (listen_read,
// listen_write). A key left out (nil) takes the [http] table's value, so
// a split listener with an empty table is bounded like listen.
type ListenerHTTPConfig struct {
	// MaxConnections bounds the listener's open connections; further ones
	// wait in the kernel's accept queue. Default http.max_connections.
	MaxConnections *int `toml:"max_connections"`
	// MaxConnectionsPerClient bounds one client IP's open connections on
	// this listener; 0 turns the bound off. Default
	// http.max_connections_per_client.
	MaxConnectionsPerClient *int `toml:"max_connections_per_client"`
	// ReadHeaderTimeout bounds reading request headers. Default
	// http.read_header_timeout.
	ReadHeaderTimeout *time.Duration `toml:"read_header_timeout"`
	// IdleTimeout closes idle keep-alive connections. Default
	// http.idle_timeout.
	IdleTimeout *time.Duration `toml:"idle_timeout"`
	// ProgressTimeout cuts off an upload that sends nothing, or a download
	// that accepts nothing, this long. Default http.progress_timeout.
	ProgressTimeout *time.Duration `toml:"progress_timeout"`
}

// over returns base with the keys l sets replaced: the bounds a split
// listener runs with.
func (l ListenerHTTPConfig) over(base HTTPConfig) HTTPConfig {
	if l.MaxConnections != nil {
		base.MaxConnections = *l.MaxConnections
	}
	if l.MaxConnectionsPerClient != nil {
		base.MaxConnectionsPerClient = *l.MaxConnectionsPerClient
	}
	if l.ReadHeaderTimeout != nil {
		base.ReadHeaderTimeout = *l.ReadHeaderTimeout
	}
	if l.IdleTimeout != nil {
		base.IdleTimeout = *l.IdleTimeout
	}
	if l.ProgressTimeout != nil {
		base.ProgressTimeout = *l.ProgressTimeout
	}
	base.Read, base.Write = ListenerHTTPConfig{}, ListenerHTTPConfig{}
	return base
}

// ReadHTTP is the bounds listen_read runs with: [http.read] over [http].
func (c Config) ReadHTTP() HTTPConfig { return c.HTTP.Read.over(c.HTTP) }

// WriteHTTP is the bounds listen_write runs with: [http.write] over [http].
func (c Config) WriteHTTP() HTTPConfig { return c.HTTP.Write.over(c.HTTP) }

// validateListeners adds the problems of listen_read, listen_write and
// their [http.read] and [http.write] tables to bad: each address parses,
// is on loopback unless tokens are configured (as listen), and binds apart
// from the other listeners (gossip's TCP one too); each table's values are
// in range. In cluster mode, cluster.http_advertise must not name a split
// listener: the internal replica routes are only on listen.
func (c Config) validateListeners(bad func(format string, args ...any)) {
	type named struct{ key, addr string }
	others := []named{{"listen", c.Listen}}
	if c.AdminEnabled() {
		others = append(others, named{"admin_listen", c.AdminAddress()})
	}
	if c.Cluster.Enabled() {
		others = append(others, named{"cluster.gossip", c.GossipAddress()}) // TCP too
	}
	for _, l := range []struct {
		key, addr, table string
		http             ListenerHTTPConfig
	}{
		{"listen_read", c.ListenRead, "http.read", c.HTTP.Read},
		{"listen_write", c.ListenWrite, "http.write", c.HTTP.Write},
	} {
		checkListenerHTTP(l.table, l.http, bad)
		if l.addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(l.addr)
		if err != nil {
			bad("%s %q: %v", l.key, l.addr, err)
			continue
		}
		if len(c.Auth.Tokens) == 0 && !isLoopbackHost(host) {
			bad("%s %q: %w; add [[auth.tokens]] or listen on 127.0.0.1", l.key, l.addr, ErrInsecureListen)
		}
		for _, o := range others {
			if bindsOver(l.addr, o.addr) {
				bad("%s %q binds the same address as %s %q: give each listener its own port", l.key, l.addr, o.key, o.addr)
			}
		}
		if c.Cluster.Enabled() && sameHostPort(c.HTTPAdvertiseAddress(), l.addr) {
			bad("cluster.http_advertise %q names %s: the internal replica routes are only on listen %q, advertise that one", c.HTTPAdvertiseAddress(), l.key, c.Listen)
		}
		others = append(others, named{l.key, l.addr})
	}
}

// checkListenerHTTP adds the out-of-range values of one [http.read] or
// [http.write] table to bad.
func checkListenerHTTP(table string, l ListenerHTTPConfig, bad func(format string, args ...any)) {
	if l.MaxConnections != nil && *l.MaxConnections <= 0 {
		bad("%s.max_connections must be positive", table)
	}
	if l.MaxConnectionsPerClient != nil && *l.MaxConnectionsPerClient < 0 {
		bad("%s.max_connections_per_client is negative (0 turns it off)", table)
	}
	for key, v := range map[string]*time.Duration{
		"read_header_timeout": l.ReadHeaderTimeout,
		"idle_timeout":        l.IdleTimeout,
		"progress_timeout":    l.ProgressTimeout,
	} {
		if v != nil && *v <= 0 {
			bad("%s.%s must be positive", table, key)
		}
	}
}

// bindsOver reports whether listening on a and on b would collide: the
// same fixed port on the same host, or on any host when either is the
// unspecified address. Port 0 (a fresh port each time) never collides.
func bindsOver(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return false
	}
	na, errA := strconv.Atoi(pa)
	nb, errB := strconv.Atoi(pb)
	switch {
	case errA == nil && errB == nil && (na != nb || na == 0):
		return false // other ports ("08080" is 8080), or a fresh one each
	case (errA != nil || errB != nil) && pa != pb:
		return false // a named port ("http") only matches itself
	}
	unspecified := func(h string) bool { return h == "" || net.ParseIP(h).IsUnspecified() }
	return unspecified(ha) || unspecified(hb) || sameHost(ha, hb)
}

// sameHostPort reports whether a and b name the same host and port.
func sameHostPort(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	return errA == nil && errB == nil && pa == pb && sameHost(ha, hb)
}

// sameHost compares two hosts as IPs when both parse (so "::1" and
// "0:0::1" match), else as names.
func sameHost(a, b string) bool {
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	if ia != nil && ib != nil {
		return ia.Equal(ib)
	}
	return a == b
}
