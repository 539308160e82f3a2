package node

import (
	"net"
	"net/netip"
	"strings"
)

// isLoopbackHostHeader reports whether a request's Host names this machine
// by a loopback name: localhost or a subdomain of it (RFC 6761 section
// 6.3), an address in 127.0.0.0/8, or ::1, with or without a port.
//
// Without tokens the node trusts whoever can reach it, which is only local
// processes, as long as the name is loopback too. A web page can point a
// name it controls at 127.0.0.1 (DNS rebinding) and so reach the node from
// the user's browser, but that browser then sends the attacker's name as
// Host, which this check refuses.
func isLoopbackHostHeader(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1] // "[::1]" without a port
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}
